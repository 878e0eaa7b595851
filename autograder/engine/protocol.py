"""The protocol between the trusted grader and the sandbox, declared once; both sides import it.

Three channels carry ``wire`` frames:

- the worker's **control** socket (grader <-> zygote): the zygote says ``ready`` once it has warmed
  up; the grader sends a ``job`` (seed, limits, the submission's files as blobs); the zygote
  forks a child, hands the grader one end of a fresh socket pair (``send_fds``, the child's pid in
  a 16-byte field) and reports ``exited`` with the child's exit code when it ends;
- the **child** socket (grader <-> child): the child first sends ``hello`` (the kernel attaches
  its credentials, so the grader learns the child's pid in its own PID namespace), then answers one
  request at a time (``REQUESTS``) until ``end``; while it answers one, the student's code may
  call an object a test passed it, which the child asks the grader to call (``CALLBACKS``,
  answered with ``ANSWER``; the grader may make requests of its own before it answers);
- nothing else: the child sees no other socket of the grader's.

Every reply has ``ok`` (and ``error``, an ``error_record``, when it is false), the student's
``stdout``/``stderr`` since the last reply (capped, ``truncated`` marks a cut), and ``compile_s``:
seconds the child has spent in Numba's compiler so far. A ``timed`` reply carries no output
(collecting it would be timed too); the next reply does. Any other request, and its reply, may
also carry the global random generators' state (``shared_random.FIELD``): the two processes
share one stream, as a test cell and the student's code do in a kernel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

#: Requests the child answers: op -> the fields the grader sends with it.
REQUESTS = {
    "run": ("index", "count", "source", "raw"),  # run the index-th student cell, the
                                       # count-th code cell a kernel runs (source: its magics
                                       # turned into calls; raw: as written); reply: notes,
                                       # patched, and errstate: the student's numpy.geterr()
    "names": (),                       # the student's names; reply: names
    "define": ("names", "imported", "deleted"),  # what a test cell bound (plain data, the
                                       # student's own objects by handle; imported: name ->
                                       # [module, qualified name]) or deleted, for the student
    "call": ("h", "args", "kwargs", "context"),  # call an object; reply: value, objects, and
                                       # changed: the argument arrays it changed in place
    "getattr": ("h", "name"),          # read an attribute; reply: value, objects
    "stage": ("h", "args", "kwargs", "copies", "context"),  # hold fresh copies of the args,
                                                             # one per "timed"
    "timed": (),                       # call the staged object on the next copy, keep the result
    "end": (),                         # finish: the child exits
}
#: What the child may ask of the grader while it answers a request, when the student's code
#: calls an object of the grader's that a test passed it (a function to differentiate, a
#: callback) or one of its public methods: op -> fields. The grader answers each with ANSWER
#: (ok, and value or error; for a method, ``method``), making requests of its own meanwhile.
CALLBACKS = {
    "back_call": ("g", "name", "args", "kwargs", "objects"),  # call object g, or its public
                                                              # method name; objects: what the
                                                              # args' handles are (for proxies)
    "back_getattr": ("g", "name"),     # a public attribute of object g: plain data, or a method
}
ANSWER = "answer"
#: Top-level packages whose modules the grader imports itself when a student binds them to a name.
TRUSTED_MODULES = frozenset({
    "numpy", "math", "numba", "toolkit", "autograder", "time", "random", "itertools", "functools",
    "collections", "matplotlib", "statistics", "operator", "string"})


def trusted_module(name: str) -> bool:
    """Whether the grader may import the module ``name`` because a student's name is bound to
    it: a public module of a trusted package (no ``__main__``, whose import runs a program, no
    private ``_module``)."""
    parts = name.split(".")
    return parts[0] in TRUSTED_MODULES and all(p.isidentifier() and not p.startswith("_")
                                               for p in parts)


#: Socket buffer size of a child's channel (the kernel caps it at net.core.wmem_max).
BUFFER = 8 * 1024 * 1024
#: Width of the child's pid field that follows the zygote's ``send_fds``.
PID_FIELD = 16
_TRUNCATED = "[output truncated: "


#: The zygote's messages on the control socket, and the child's first one.
READY, JOB, EXITED, HELLO = "ready", "job", "exited", "hello"


def request(op: str, **fields: Any) -> dict[str, Any]:
    """A request to the child, checked against ``REQUESTS``."""
    return _message(REQUESTS, "request", op, fields)


def callback(op: str, **fields: Any) -> dict[str, Any]:
    """A request of the child's to the grader, checked against ``CALLBACKS``."""
    return _message(CALLBACKS, "callback", op, fields)


def _message(table: dict[str, tuple[str, ...]], kind: str, op: str,
             fields: dict[str, Any]) -> dict[str, Any]:
    expected = table[op]
    if set(fields) != set(expected):
        raise TypeError(f"{kind} {op!r} takes {expected}, got {tuple(fields)}")
    return {"op": op, **fields}


def class_name(cls: type) -> str:
    """How a class is named across the channel (an exception's origin, a warning filter's
    category): "module:qualname"."""
    return f"{cls.__module__}:{cls.__qualname__}"


def named_class(name: Any, module_of: Callable[[str], Any]) -> type | None:
    """The class ``class_name`` gave ``name``, its module got by ``module_of(path)`` (which may
    return None or raise ImportError: no class); None for anything else."""
    if not isinstance(name, str) or ":" not in name:
        return None
    path, _, qualname = name.partition(":")
    try:
        found = module_of(path)
    except ImportError:
        return None
    for part in qualname.split("."):
        found = getattr(found, part, None) if part.isidentifier() else None
    return found if isinstance(found, type) else None


#: NumPy's floating-point error handling at start-up (``numpy.geterr()``).
NUMPY_ERRORS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}
#: What NumPy may do on a floating-point error (``numpy.seterr``).
ERROR_ACTIONS = frozenset({"ignore", "warn", "raise", "call", "print", "log"})


def error_handling(errors: Any) -> dict[str, str]:
    """NumPy's floating-point error handling, all four kinds, from a ``numpy.geterr()`` of
    either side: "call" and "log", which need a callback, become "warn"; a kind missing or
    malformed keeps NumPy's default."""
    given = errors if isinstance(errors, dict) else {}
    handling = {kind: given[kind] if given.get(kind) in ERROR_ACTIONS else default
                for kind, default in NUMPY_ERRORS.items()}
    return {kind: "warn" if action in ("call", "log") else action
            for kind, action in handling.items()}


def call_context(errors: dict[str, str], filters: list, baseline: list) -> dict[str, Any]:
    """What a call's ``context`` carries: the test's own settings that reach the student's code
    as they would within one notebook process. ``errstate``: the grader's whole
    ``numpy.geterr()`` (``error_handling``), which a test cell starts with as the student's own
    and changes with ``np.errstate``, so that a test's ``under="ignore"`` holds against a
    student's ``np.seterr(all="raise")``; ``warnings``: the grader's warning filters that the
    test added to ``baseline`` (its ``simplefilter("ignore", NumbaPerformanceWarning)``), each as
    [action, message pattern, category ("module:qualname"), module pattern, lineno]. The sandbox
    applies both for the call, and then restores the student's own."""
    errstate = error_handling(errors)
    added = [f for f in filters if f not in baseline]
    return {"errstate": errstate, "warnings": [
        [action, getattr(message, "pattern", message),
         class_name(category), getattr(module, "pattern", module),
         lineno] for action, message, category, module, lineno in added]}


def job(seed: int, limits: dict[str, Any], files: list[list[Any]]) -> dict[str, Any]:
    """The grader's job message to the zygote: ``files`` are ``folder_entries``, whose blobs travel
    with it."""
    return {"op": JOB, "seed": seed, "limits": limits, "files": files}


def exited(code: int, full: list[str]) -> dict[str, Any]:
    """The zygote's report that a job's child ended: its exit code, and the capped places
    (tmpfs mounts) the submission had left full."""
    return {"op": EXITED, "code": code, "full": full}


def hello(pid: int) -> dict[str, Any]:
    """The child's first message; the kernel attaches its credentials."""
    return {"op": HELLO, "pid": pid}


def is_message(message: dict[str, Any], op: str) -> bool:
    """Whether ``message`` is one of the protocol's ``op`` messages."""
    return message.get("op") == op


def is_callback(message: dict[str, Any]) -> bool:
    """Whether a message from the child is one of its ``CALLBACKS`` (else it is a reply)."""
    op = message.get("op")
    return type(op) is str and op in CALLBACKS


def error_record(kind: str, message: str, traceback: str = "", errno: int | None = None,
                 bases: list[str] | tuple[str, ...] = (), origin: str = "") -> dict[str, Any]:
    """An exception as plain data: its type's name, message, the student's part of the traceback,
    its errno, the names of its built-in classes, its own first (so the grader can re-raise a
    ValueError as a ValueError, and a student's subclass of it as one), and where its class is
    defined ("module:qualname", so that a trusted package's, NumPy's LinAlgError say, is
    re-raised as itself)."""
    return {"type": kind, "message": message[:2000], "traceback": traceback[-8000:],
            "errno": errno if type(errno) is int else None, "bases": list(bases)[:8],
            "origin": origin[:200]}


def truncation_note(size: int, cap: int) -> str:
    """The line appended to captured output cut at ``cap`` of its ``size`` bytes."""
    return f"\n{_TRUNCATED}{size} bytes, {cap} shown]"


def truncated(text: str) -> bool:
    """Whether captured output was cut (it carries ``truncation_note``)."""
    return _TRUNCATED in text


def folder_entries(folders: list[Path], cap: int) -> tuple[list[list[Any]], list[bytes]]:
    """The files of ``folders`` (later ones win) as job entries [path, kind, blob or link target]
    and their blobs: symlinks kept as links (never followed), at most ``cap`` bytes."""
    found: dict[str, tuple[str, Any, bytes | None]] = {}
    total = 0
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            rel = path.relative_to(folder)
            if any(part.startswith(".ipynb_checkpoints") for part in rel.parts):
                continue
            key = rel.as_posix()
            if path.is_symlink():
                found.setdefault(key, ("link", os.readlink(path), None))
            elif path.is_dir():
                found[key] = ("dir", None, None)
            elif path.is_file():
                data = path.read_bytes()
                total += len(data)
                if total > cap:
                    raise RuntimeError(f"{folder} is larger than the work folder's {cap >> 20} "
                                       f"MiB; raise work_mb in the course's autograder.toml")
                found[key] = ("file", None, data)
    entries, blobs = [], []
    for key, (kind, target, data) in found.items():
        if kind == "file":
            entries.append([key, kind, len(blobs)])
            blobs.append(data)
        else:
            entries.append([key, kind, target])
    return entries, blobs


def write_entries(folder: str, files: list[Any], blobs: list[bytes]) -> None:
    """Write job entries (``folder_entries``) into ``folder``: paths relative, never outside it."""
    for entry in files:
        path, kind, ref = entry
        parts = [p for p in str(path).split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise ValueError(f"bad path in job: {path!r}")
        target = os.path.join(folder, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if kind == "dir":
            os.makedirs(target, exist_ok=True)
        elif kind == "link":
            os.symlink(str(ref), target)
        else:
            with open(target, "wb") as f:
                f.write(blobs[int(ref)])
