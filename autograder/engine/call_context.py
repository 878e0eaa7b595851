"""A test's call as it runs in the sandboxed child: under the test's NumPy error handling and the
warning filters it added (``protocol.call_context``), as in one notebook process, and with
snapshots of its arguments, to send back what the call changed in place."""

from __future__ import annotations

import contextlib
import importlib
import warnings
from typing import Any, Iterator

import numpy as np

from autograder.engine import protocol


@contextlib.contextmanager
def test_context(context: Any) -> Iterator[None]:
    """The test's NumPy error handling and added warning filters around a call, over the
    student's own; the warning filters are left alone where the test added none (replacing them
    resets which warnings were already shown)."""
    if not isinstance(context, dict) or not isinstance(context.get("errstate"), dict) or \
            not isinstance(context.get("warnings"), list):
        raise ValueError(f"bad call context {context!r}")
    errstate, filters = context["errstate"], context["warnings"]
    if not all(k in protocol.NUMPY_ERRORS and v in ("ignore", "warn", "raise", "print")
               for k, v in errstate.items()):
        raise ValueError(f"bad floating-point error handling {errstate!r}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(np.errstate(**errstate))
        if filters:
            stack.enter_context(warnings.catch_warnings())
            for entry in reversed(filters):
                _add_filter(entry)
        yield


def _add_filter(entry: Any) -> None:
    """One forwarded warning filter, if its category is Python's or a trusted package's."""
    if type(entry) is not list or len(entry) != 5:
        raise ValueError(f"bad warning filter {entry!r}")
    action, message, category, module, lineno = entry
    trusted = {"builtins", "warnings", *protocol.TRUSTED_MODULES}
    cls = protocol.named_class(category, lambda path: importlib.import_module(path)
                               if path.split(".")[0] in trusted else None)
    if cls is not None and issubclass(cls, Warning) and type(lineno) is int:
        warnings.filterwarnings(str(action), str(message or ""), cls, str(module or ""), lineno)


def mutables_in(value: Any, path: tuple = ()) -> list[tuple[list, Any, Any]]:
    """What a call may change in place in its decoded arguments, each with its path (positions
    in the lists, tuples and dicts, by insertion order, that hold it) and a snapshot: arrays (a
    copy), lists and dicts (their items), ``value`` itself first."""
    kind = type(value)
    if kind is np.ndarray:
        return [(list(path), value, value.copy(order="K"))]
    found = [(list(path), value, list(value.items()) if kind is dict else list(value))] \
        if kind in (list, dict) else []
    items = value.values() if kind is dict else value if kind in (list, tuple) else ()
    return found + [m for i, item in enumerate(items) for m in mutables_in(item, (*path, i))]


def changed(value: Any, snapshot: Any) -> bool:
    """Whether a call changed ``value`` since its ``mutables_in`` snapshot."""
    if type(value) is np.ndarray:
        return not _same_bytes(value, snapshot)
    now = list(value.items()) if type(value) is dict else list(value)
    flat = (lambda pairs: [x for pair in pairs for x in pair]) if type(value) is dict else list
    return len(now) != len(snapshot) or any(a is not b for a, b in zip(flat(now),
                                                                        flat(snapshot)))


def _same_bytes(a: Any, b: Any) -> bool:
    """Whether two arrays of one dtype and shape hold the same bytes (NaNs included)."""
    return a.shape == b.shape and np.array_equal(np.ascontiguousarray(a).reshape(-1).view(
        np.uint8), np.ascontiguousarray(b).reshape(-1).view(np.uint8))
