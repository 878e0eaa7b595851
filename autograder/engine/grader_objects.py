"""The grader's objects as the student's code sees them, in the sandbox.

In a notebook, a test may hand the student's code a function of its own (``numerical_gradient(
lambda x: x ** 2, 3.0)``, ``np.tanh``) or an object whose methods it calls (a Keras-like
callback): the student's code calls it, in the same process. Here the test runs in the grader,
so what the student's code receives is a ``GraderObject``: calling it, or one of its public
methods, asks the grader (``protocol.CALLBACKS``), which runs the test's own code there and
answers while the request that led here waits. The student's code reaches nothing else of the
grader's: no private attribute, and of the public ones only plain data and methods.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable


class GraderObject:
    """An object of the grader's, by id; ``ask(op, **fields)`` asks the grader about it."""

    __slots__ = ("_ask", "_id", "_method")

    def __init__(self, ask: Callable[..., Any], id: int, method: str = "") -> None:  # noqa: A002
        self._ask, self._id, self._method = ask, id, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("back_call", g=self._id, name=self._method, args=list(args),
                         kwargs=dict(kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or self._method:
            raise AttributeError(name)
        return self._ask("back_getattr", g=self._id, name=name)

    def __repr__(self) -> str:
        return f"<the test's {self._method or 'object'}>"


def raised_by_the_grader(error: Any) -> BaseException:
    """The exception the grader's code raised (an ``error_record``), to raise here: a built-in
    one as itself (a test's AssertionError goes through the student's code as one), any other
    as an Exception with its message."""
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message", ""))
    cls = getattr(builtins, str(error.get("type", "")), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # exception types with other constructors
            pass
    return Exception(f"{error.get('type', 'Exception')}: {message}")
