"""The warm worker inside the sandbox: imports NumPy, Numba and the toolkit once, then forks one
child per submission (``python -m autograder.engine.zygote FD [--drop-privileges]``).

The zygote starts no thread before it forks (BLAS pools are limited to one thread and Numba's
threading layer starts only when a child first runs a parallel function). For each job it makes a
fresh socket pair, forks, hands one end to the grader over its control socket and waits; the
child, in a new session and under resource limits, runs student cells and answers the grader's
requests on the other end (``Servant``). When the child ends, the zygote kills whatever the child
left behind and reports the exit status.
"""

from __future__ import annotations

import builtins
import ctypes
import linecache
import os
import random
import signal
import socket
import sys
import time
import traceback
from typing import Any

from autograder.engine import wire
from autograder.engine.sandbox import Limits, apply_rlimits

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
#: Top-level packages whose modules the grader imports itself when a student binds them to a name.
TRUSTED_MODULES = {"numpy", "math", "numba", "toolkit", "autograder", "time", "random", "itertools",
                   "functools", "collections", "matplotlib", "statistics", "operator", "string"}
#: Modules whose attributes a student must not replace (replacing them is flagged).
WATCHED = ("builtins", "numpy", "numpy.testing", "numpy.linalg", "math", "autograder.asserts")
#: Socket buffer size of a child's channel (the kernel caps it at net.core.wmem_max).
BUFFER = 8 * 1024 * 1024
_SKIP_NAMES = {"get_ipython", "In", "Out", "exit", "quit"}


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch_snapshot() -> dict[str, int]:
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



def _suspicions(cls: type) -> list[str]:
    """Flags for a class the student defined that overrides comparison or conversion, or
    subclasses ndarray. NumPy's and Python's own types (an object array of lists, say) are
    honest even though they define these methods themselves."""
    np = _np()
    if cls.__module__ == "builtins" or cls is np.ndarray or issubclass(cls, np.generic):
        return []
    overrides = [m for m in ("__eq__", "__array__", "__float__") if m in cls.__dict__]
    return [f"lying-{m.strip('_')}" for m in overrides] + (
        ["ndarray-subclass"] if issubclass(cls, np.ndarray) else [])

def _error(exc: BaseException, cell_files: set[str]) -> dict[str, str]:
    """An exception as plain data, its traceback limited to the student's own cells."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in cell_files]
    text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(exc), exc))
    errno = getattr(exc, "errno", None)
    return {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": text[-8000:],
            "errno": errno if type(errno) is int else None,
            "bases": [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"][:8]}


class Servant:
    """The child's side of a job: runs student cells and answers requests about their names."""

    def __init__(self, sock: socket.socket, job_dir: str, limits: Limits, watched: dict[str, int]) -> None:
        from autograder.engine.magics import MagicShell

        self.sock, self.job_dir, self.limits, self.watched = sock, job_dir, limits, watched
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.shell = MagicShell(self.namespace)
        self.namespace["get_ipython"] = lambda: self.shell
        self.handles: dict[int, Any] = {}
        self.cache = wire.ArrayCache()
        self.cell_files: set[str] = set()
        self.sent_ids: dict[str, int] = {}
        self.flagged: set[str] = set()
        self.out = os.path.join(job_dir, "stdout")
        self.err = os.path.join(job_dir, "stderr")

    # -- output capture: fds 1 and 2 go to files, read back (capped) after each request
    def _capture(self) -> None:
        for fd, path in ((1, self.out), (2, self.err)):
            new = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(new, fd)
            os.close(new)

    def _collect(self) -> dict[str, Any]:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # a student may have replaced or closed the streams
                pass
        cap = self.limits.output_kb * 1024
        result = {}
        for key, path in (("stdout", self.out), ("stderr", self.err)):
            try:
                size = os.path.getsize(path)
                with open(path, "rb") as f:
                    data = f.read(cap)
            except OSError:
                size, data = 0, b""
            text = data.decode("utf-8", "replace")
            if size > cap:
                text += f"\n[output truncated: {size} bytes, {cap} shown]"
            result[key] = text
        self._capture()
        return result

    # -- handles
    def _handle(self, obj: Any) -> int:
        self.handles[id(obj)] = obj
        return id(obj)

    def _lookup(self, key: int) -> Any:
        if key not in self.handles:
            raise KeyError(f"no object with handle {key}")
        return self.handles[key]

    def _describe(self, obj: Any) -> dict[str, Any]:
        """What the grader needs to build a proxy for ``obj``."""
        target = getattr(obj, "py_func", obj)  # a Numba dispatcher's Python function
        code = getattr(target, "__code__", None)
        info: dict[str, Any] = {"h": self._handle(obj), "type": type(obj).__name__,
                                "callable": callable(obj)}
        name = getattr(obj, "__name__", None)
        info["name"] = name if type(name) is str else ""
        module = getattr(obj, "__module__", None)
        info["module"] = module if type(module) is str else ""
        if code is not None and getattr(code, "co_filename", None) in self.cell_files:
            try:
                import inspect

                info["source"] = inspect.getsource(target)
                info["module"] = "__main__"
            except (OSError, TypeError):
                pass
        info["suspect"] = _suspicions(type(obj))
        return info

    def _value(self, value: Any, objects: dict[str, Any]) -> tuple[Any, list[bytes]]:
        """``value`` encoded; what it holds that is not plain data stays here, described in
        ``objects`` (by handle) so the grader can build proxies for it."""
        def keep(obj: Any) -> int:
            info = self._describe(obj)
            objects[str(info["h"])] = info
            return info["h"]

        return wire.encode(value, handle=keep, max_bytes=self.limits.transfer_mb * 2**20)

    # -- requests
    def op_run(self, msg: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
        index = int(msg["index"])
        path = os.path.join(self.job_dir, f"cell{index}.py")
        source = msg["source"]
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        self.cell_files.add(path)
        linecache.checkcache(path)
        self.shell.notes = []
        reply: dict[str, Any] = {"ok": True}
        try:
            exec(compile(source, path, "exec"), self.namespace)
        except BaseException as exc:  # a student cell may raise anything, SystemExit included
            reply = {"ok": False, "error": _error(exc, self.cell_files)}
        reply["notes"] = self.shell.notes
        reply["patched"] = self._patched()
        return reply

    def _patched(self) -> list[str]:
        now = _watch_snapshot()
        changed = sorted(k for k, v in now.items() if self.watched.get(k, v) != v)
        gone = sorted(k for k in self.watched if k not in now)
        found = [k for k in changed + gone if k not in self.flagged]
        self.flagged.update(found)
        return found

    def op_names(self, msg: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        entries, out_blobs = {}, []
        budget = self.limits.transfer_mb * 2**20 // 2  # values past it stay here, behind proxies
        for name, obj in list(self.namespace.items()):
            if name.startswith("_") or name in _SKIP_NAMES:
                continue
            if type(obj).__name__ == "module":
                top = getattr(obj, "__name__", "")
                if type(top) is str and top.split(".")[0] in TRUSTED_MODULES:
                    entries[name] = {"kind": "module", "module": top}
                continue
            if id(obj) == self.sent_ids.get(name) and type(obj) is _np().ndarray and obj.nbytes > 1 << 20:
                entries[name] = {"kind": "same"}
                continue
            self.sent_ids[name] = id(obj)
            try:
                tree, extra = wire.encode(obj, max_bytes=max(budget, 0))
            except wire.Unencodable:
                entries[name] = {"kind": "object", **self._describe(obj)}
                continue
            budget -= sum(map(len, extra)) + 64
            base = len(out_blobs)
            out_blobs += extra
            entries[name] = {"kind": "value", "value": wire.shift(tree, base)}
        return {"ok": True, "names": entries}, out_blobs

    def _invoke(self, fn: Any) -> tuple[dict[str, Any], list[bytes]]:
        try:
            result = fn()
        except BaseException as exc:  # the student's code may raise anything
            return {"ok": False, "error": _error(exc, self.cell_files)}, []
        objects: dict[str, Any] = {}
        try:
            tree, blobs = self._value(result, objects)
        except wire.Unencodable as exc:
            return {"ok": False, "error": {"type": "TypeError", "message": str(exc), "traceback": "",
                                           "errno": None, "bases": ["TypeError"]}}, []
        return {"ok": True, "value": tree, "objects": objects}, blobs

    def _args(self, tree: Any, blobs: list[bytes]) -> Any:
        return wire.decode(tree, blobs, handle=self._lookup, cache=self.cache)

    def op_call(self, msg: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        target = self._lookup(msg["h"])
        args = self._args(msg["args"], blobs)
        kwargs = self._args(msg["kwargs"], blobs)
        return self._invoke(lambda: target(*args, **kwargs))

    def op_getattr(self, msg: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        target = self._lookup(msg["h"])
        return self._invoke(lambda: getattr(target, msg["name"]))

    def serve(self) -> None:
        """Answer requests until the grader says "end" or goes away."""
        fd = self.sock.fileno()
        self._capture()
        while True:
            try:
                msg, blobs = wire.unpack(lambda n: wire.read_exactly(fd, n),
                                         max_bytes=self.limits.transfer_mb * 2**20 + 2**20)
            except (EOFError, OSError, wire.WireError):
                return
            op = msg.get("op")
            if op == "end":
                return
            handler = getattr(self, f"op_{op}", None)
            try:
                if handler is None:
                    raise ValueError(f"unknown request {op!r}")
                answer = handler(msg, blobs)
            except Exception as exc:  # a malformed request or an object that breaks the encoder
                answer = {"ok": False, "error": _error(exc, self.cell_files)}
            reply, out = answer if isinstance(answer, tuple) else (answer, [])
            reply.update(self._collect())
            try:
                data = wire.pack(reply, out)
            except (TypeError, ValueError) as exc:
                data = wire.pack({"ok": False, "error": {"type": "TypeError", "message": str(exc),
                                                         "traceback": "", "errno": None, "bases": []}})
            try:
                wire.write_all(fd, data)
            except OSError:
                return


def _np():
    import numpy

    return numpy


def _reap(child: int) -> None:
    """Kill what a finished child left behind: its process group and, alone in a PID namespace,
    every other process there (never pid 1, never this zygote)."""
    try:
        os.killpg(child, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if os.getpid() <= 3:  # bubblewrap's PID namespace: pid 1 is its init, we are pid 2
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) > 2 and int(entry) != me:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def run_child(sock: socket.socket, job: dict[str, Any], watched: dict[str, int]) -> None:
    """In the forked child: isolate, limit, seed, serve; never returns."""
    code = 0
    log = os.dup(2)  # the zygote's log, for the child's own failures (fd 2 gets captured)
    try:
        os.setsid()
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(_PR_SET_DUMPABLE, 1)
        limits = Limits(**job["limits"])
        job_dir = job["job_dir"]
        os.makedirs(job_dir, mode=0o700, exist_ok=True)
        os.chdir(job["workdir"])
        sys.path.insert(0, job["workdir"])
        apply_rlimits(limits)
        random.seed(job["seed"])
        _np().random.seed(job["seed"])
        Servant(sock, job_dir, limits, watched).serve()
    except BaseException:  # the child must never fall back into the zygote's loop
        try:
            os.write(log, traceback.format_exc().encode(errors="replace"))
        except BaseException:  # nothing more to do in a dying child
            pass
        code = 70
    finally:
        os._exit(code)


def main(argv: list[str]) -> None:
    """The zygote's loop: warm up, then one forked child per job request."""
    control = socket.socket(fileno=int(argv[0]))
    if "--drop-privileges" in argv:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    _prctl(_PR_SET_DUMPABLE, 0)  # children of the same user cannot ptrace or open the zygote
    started = time.perf_counter()
    _seed_matplotlib_cache()
    import numpy  # noqa: F401  (warm imports, the point of the zygote)
    import numba  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import toolkit  # noqa: F401
    import toolkit.kernels  # noqa: F401
    import autograder.asserts  # noqa: F401
    import autograder.engine.magics  # noqa: F401

    _warm_numba()
    _pin_builtins()
    watched = _watch_snapshot()
    threads = len(os.listdir("/proc/self/task"))
    fd = control.fileno()
    hello = {"op": "ready", "pid": os.getpid(), "uid": os.getuid(), "threads": threads,
             "warmup_s": time.perf_counter() - started,
             "versions": {"python": sys.version.split()[0], "numpy": numpy.__version__,
                          "numba": numba.__version__}}
    wire.write_all(fd, wire.pack(hello))
    jobs = 0
    while True:
        try:
            job, _ = wire.unpack(lambda n: wire.read_exactly(fd, n))
        except (EOFError, OSError, wire.WireError):
            return
        if job.get("op") != "job":
            return
        jobs += 1
        job["job_dir"] = os.path.join("/tmp", f"agjob-{os.getpid()}-{jobs}")
        parent_end, child_end = socket.socketpair()
        for end in (parent_end, child_end):  # big buffers: an array crosses in one go
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                end.setsockopt(socket.SOL_SOCKET, option, BUFFER)
        pid = os.fork()
        if pid == 0:
            control.close()
            parent_end.close()
            run_child(child_end, job, watched)
        child_end.close()
        socket.send_fds(control, [b"%-16d" % pid], [parent_end.fileno()])
        parent_end.close()
        _, status = os.waitpid(pid, 0)
        _reap(pid)
        _remove_tree(job["job_dir"])
        if os.getpid() <= 3:  # a private /tmp: leave nothing there for the next student
            for folder in ("/tmp", "/dev/shm"):
                for entry in os.listdir(folder):
                    if entry != "matplotlib":
                        _remove_tree(os.path.join(folder, entry))
        exit_info = {"op": "exited", "code": os.waitstatus_to_exitcode(status)}
        wire.write_all(fd, wire.pack(exit_info))


def _pin_builtins() -> None:
    """Give the engine's own modules (and NumPy's .npy writer) private references to the
    builtins, so a student who replaces ``builtins.len`` breaks only their own code."""
    pristine = {k: v for k, v in vars(builtins).items() if not k.startswith("__")}
    ours = ("autograder.engine.wire", "autograder.engine.zygote", "autograder.engine.magics",
            "autograder.engine.sandbox", "numpy.lib.format")
    for name, module in list(sys.modules.items()):
        if name in ours or name.split(".")[0] in sys.stdlib_module_names and name != "builtins":
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is dict:
                for key, value in pristine.items():
                    namespace.setdefault(key, value)
    for key, value in pristine.items():  # this module, run as __main__
        globals().setdefault(key, value)


def _warm_numba() -> None:
    """Compile one small loop function, so that each child starts with Numba's compiler already
    initialised (the first compilation in a process costs about a second more than later ones).
    Nothing parallel is compiled: that would start Numba's thread pool before the fork."""
    import numpy as np
    from numba import njit

    @njit
    def warm(x, y):
        z = np.zeros((x.shape[0], y.shape[1]))
        for i in range(x.shape[0]):
            for j in range(y.shape[1]):
                for t in range(x.shape[1]):
                    z[i, j] += max(x[i, t], 0.0) * y[t, j]
        return z.copy()

    warm(np.ones((2, 2)), np.ones((2, 2)))


def _seed_matplotlib_cache() -> None:
    """Copy the font list the grader left in the work folder (``.mplcache``) to MPLCONFIGDIR,
    so matplotlib does not rebuild it at every start of a sandbox."""
    import shutil

    seed, target = os.path.join(os.getcwd(), ".mplcache"), os.environ.get("MPLCONFIGDIR")
    if target and os.path.isdir(seed):
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(seed):
            shutil.copyfile(os.path.join(seed, name), os.path.join(target, name))


def _remove_tree(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
