"""The hand-over of the global random generators' state between the grader and the sandbox."""

from __future__ import annotations

import random

import numpy as np
import pytest

from autograder.engine.shared_random import Handover


def test_a_state_is_handed_over_only_after_draws_and_lands_exactly():
    random.seed(1)
    np.random.seed(1)
    sender, receiver = Handover(first_sends=True), Handover(first_sends=False)
    assert receiver.outgoing() is None  # its state was never drawn from since it started
    state = sender.outgoing()
    assert state is not None and sender.outgoing() is None
    expected = (random.random(), np.random.rand(3), np.random.randn())  # a gauss is cached too
    random.seed(2)
    np.random.seed(2)
    receiver.adopt(state)
    assert receiver.outgoing() is None
    assert (random.random(), *np.random.rand(3), np.random.randn()) == (
        expected[0], *expected[1], expected[2])
    assert receiver.outgoing() is not None  # drawn from since


PYTHON, NUMPY = [3, [0] * 625, None], [[0] * 624, 0, 0, 0.0]


@pytest.mark.parametrize("bad", [
    None, [], [PYTHON], [PYTHON, NUMPY, NUMPY], [[3, [0] * 624, None], NUMPY],
    [PYTHON, [[0] * 623, 0, 0, 0.0]], [[3, [2**32] * 625, None], NUMPY],
    [PYTHON, [[-1] * 624, 0, 0, 0.0]], [[2, [0] * 625, None], NUMPY], [[3, [0] * 625, "x"], NUMPY],
    [PYTHON, [[0] * 624, 0, 2, 0.0]], [[3, [True] * 625, None], NUMPY],
    [[3, [0] * 624 + [10**6], None], NUMPY],
    [PYTHON, [[0] * 624, 625, 0, 0.0]], [PYTHON, [[0] * 624, -1, 0, 0.0]],  # NumPy takes both
])
def test_a_malformed_state_is_refused_and_changes_nothing(bad):
    random.seed(4)
    np.random.seed(4)
    before = (random.getstate(), np.random.get_state()[1].copy())
    with pytest.raises(ValueError):
        Handover(first_sends=False).adopt(bad)
    assert random.getstate() == before[0] and np.array_equal(np.random.get_state()[1], before[1])


def test_drawing_numpys_cached_gaussian_is_a_draw_to_hand_over():
    """A Gaussian drawn from NumPy's cache moves no Mersenne Twister word, only the cache."""
    np.random.seed(6)
    np.random.randn()  # draws two, keeps one
    side = Handover(first_sends=False)
    assert side.outgoing() is None
    np.random.randn()  # the cached one
    state = side.outgoing()
    assert state is not None and state[1][2] == 0 and side.outgoing() is None
