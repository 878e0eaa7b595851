"""What the sandboxed child reports about tampering, as flags for the instructor: attributes of
watched modules (NumPy, builtins, the checks) that a student replaced, and classes that lie about
their values. Flags only add to a result; a verdict never rests on them, since the grader decodes
every value itself."""

from __future__ import annotations

import os
import pkgutil
import sys
import sysconfig
import types

from autograder import asserts

#: Modules whose attributes a student must not replace (replacing them is flagged): the checks'
#: package with each of its modules.
WATCHED = ("builtins", "numpy", "numpy.testing", "numpy.linalg", "math", "autograder.asserts",
           *(f"autograder.asserts.{m.name}" for m in pkgutil.iter_modules(asserts.__path__)))


def watch_snapshot() -> dict[str, int]:
    """ids of the public attributes of the watched modules, to see later what a student replaced."""
    snap = {}
    for name in WATCHED:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if not attr.startswith("_") or name == "builtins":
                snap[f"{name}.{attr}"] = id(value)
    return snap


def accept(watched: dict[str, int], module: types.ModuleType, attr: str) -> None:
    """The grader's own change of ``module.attr``: ``watched`` takes it as the original."""
    watched[f"{module.__name__}.{attr}"] = id(getattr(module, attr))


def replaced_since(watched: dict[str, int], flagged: set[str]) -> list[str]:
    """The watched attributes replaced or deleted since the ``watched`` snapshot and not in
    ``flagged`` yet (they are added to it)."""
    now = watch_snapshot()
    changed = sorted(k for k, v in now.items() if watched.get(k, v) != v)
    gone = sorted(k for k in watched if k not in now)
    found = [k for k in changed + gone if k not in flagged]
    flagged.update(found)
    return found


def suspicions(cls: type) -> list[str]:
    """Flags for a class the student defined that overrides comparison or conversion (an ndarray
    subclass never gets here: it crosses as its plain array). The types of Python, NumPy and any
    installed library (an object array of lists, a PyTorch tensor) are honest even though they
    define these methods themselves."""
    import numpy as np

    if cls.__module__ == "builtins" or cls is np.ndarray or issubclass(cls, np.generic) \
            or _installed(cls):
        return []
    return [f"lying-{m.strip('_')}" for m in ("__eq__", "__array__", "__float__")
            if m in cls.__dict__ and not _made_by_dataclass(cls, m)]


def _installed(cls: type) -> bool:
    """Whether ``cls`` comes from a module of the standard library or an installed package (not
    the notebook's ``__main__``, nor a module the student wrote in the work folder)."""
    module = sys.modules.get(cls.__module__) if type(cls.__module__) is str else None
    path = getattr(module, "__file__", None)
    return type(path) is str and os.path.realpath(path).startswith(_LIBRARIES)


#: Where the standard library and installed packages live.
_LIBRARIES = tuple(os.path.join(os.path.realpath(sysconfig.get_paths()[key]), "")
                   for key in ("stdlib", "platstdlib", "purelib", "platlib"))


def _made_by_dataclass(cls: type, method: str) -> bool:
    """Whether ``cls.method`` is the ``__eq__`` that ``@dataclass`` wrote, which compares the
    fields in order (a ``__eq__`` the class body defines is its own, and ``@dataclass`` keeps
    it)."""
    params = getattr(cls, "__dataclass_params__", None)
    code = getattr(cls.__dict__[method], "__code__", None)
    return (method == "__eq__" and "__dataclass_params__" in cls.__dict__
            and getattr(params, "eq", False) is True and code is not None
            and code.co_filename == "<string>")
