"""One random stream for a notebook and its tests, as in a kernel.

In a kernel, a test cell and the student's functions it calls draw from one process's global
generators, Python's ``random`` and NumPy's legacy ``np.random``: a test that seeds them, calls
the student's ``dropout`` and then draws the mask it expects gets the student's mask, and a
student cell after a test goes on from where the test left them. Here the test runs in the
grader and the student's code in the sandbox, so the two processes hand the generators' state
over as control passes between them: a request or a reply carries it (``FIELD``) when its
sender drew since the last hand-over (``Handover``). The child starts seeded by the submission's
seed and its first reply hands that state over, so a test's unseeded draws are the same on every
grading, on any worker, whatever the grading process drew before.

The grader trusts nothing in a state it is handed but its form: a student who sets it chooses
the tests' random inputs no more than a ``np.random.seed`` in a notebook cell does.
"""

from __future__ import annotations

import ctypes
import random
from typing import Any

import numpy as np

#: The field of a request or reply that carries the state.
FIELD = "random"
#: The sizes of the states: Python's Mersenne Twister (624 words and its index), NumPy's.
_PYTHON_WORDS, _NUMPY_WORDS = 625, 624


def _state() -> tuple[tuple, tuple]:
    return random.getstate(), np.random.get_state()


def _mark() -> tuple[tuple, bytes]:
    """What any draw changes, read fast: Python's state, and NumPy's MT19937 words and position
    read in place (its ``get_state`` copies them one by one, 40 µs). Only the use of a cached
    Gaussian changes NumPy's state but not these."""
    generator = np.random.mtrand._rand._bit_generator
    return random.getstate(), ctypes.string_at(generator.ctypes.state_address,
                                               4 * _NUMPY_WORDS + 4)


def _words(value: Any, count: int) -> list[int]:
    if type(value) is not list or len(value) != count or not all(
            type(w) is int and 0 <= w < 2**32 for w in value):
        raise ValueError(f"a generator state needs {count} 32-bit words")
    return value


class Handover:
    """One side's view of the shared stream: what it last sent or adopted. The grader starts
    with its own state as handed over (it must not send what earlier gradings left); the child
    with none, so that its first reply hands over its seeded state."""

    def __init__(self, first_sends: bool) -> None:
        self.mark: tuple[tuple, bytes] | None = None
        self.gauss: tuple[int, float] | None = None  # NumPy's cached Gaussian, where it had one
        if not first_sends:
            self._handed_over()

    def _handed_over(self) -> None:
        self.mark = _mark()
        has_gauss, cached = np.random.get_state()[3:]
        self.gauss = (has_gauss, cached) if has_gauss else None

    def _moved(self) -> bool:
        return self.mark is None or _mark() != self.mark or (
            self.gauss is not None and tuple(np.random.get_state()[3:]) != self.gauss)

    def outgoing(self) -> list | None:
        """The state as plain data, if this side drew since the last hand-over; else None."""
        if not self._moved():
            return None
        self._handed_over()
        (version, internal, gauss), (_, keys, position, has_gauss, cached) = _state()
        return [[version, list(internal), gauss],
                [keys.tolist(), int(position), int(has_gauss), float(cached)]]

    def attach(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message``, carrying this side's state (``FIELD``) if it drew since the last
        hand-over."""
        state = self.outgoing()
        return message if state is None else {**message, FIELD: state}

    def receive(self, message: dict[str, Any]) -> None:
        """Take the state ``message`` carries, if it carries one (ValueError: of the wrong
        form)."""
        if FIELD in message:
            self.adopt(message[FIELD])

    def adopt(self, state: Any) -> None:
        """Take the other side's state; ValueError (nothing changed) for one of the wrong form."""
        try:
            (version, internal, gauss), (keys, position, has_gauss, cached) = state
        except (TypeError, ValueError):
            raise ValueError("a random state is two lists of three and four items") from None
        if version != 3 or not (gauss is None or type(gauss) is float) \
                or type(position) is not int or not 0 <= position <= _NUMPY_WORDS \
                or has_gauss not in (0, 1) or type(cached) not in (int, float):
            raise ValueError("malformed random state")  # NumPy reads key[position] unchecked
        python = (3, tuple(_words(internal, _PYTHON_WORDS)), gauss)
        numpy = ("MT19937", np.array(_words(keys, _NUMPY_WORDS), np.uint32), position,
                 has_gauss, float(cached))
        before = random.getstate()
        try:
            random.setstate(python)
            np.random.set_state(numpy)
        except (TypeError, ValueError, OverflowError) as error:
            random.setstate(before)
            raise ValueError(f"malformed random state: {error}") from None
        self._handed_over()
