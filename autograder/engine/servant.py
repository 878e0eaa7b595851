"""The sandboxed child's side of a job: runs student cells and answers the grader's requests about
the names they defined (``protocol.REQUESTS``), one at a time, until the grader says ``end``.

Nothing here is trusted by the grader: every reply is plain data that the grader decodes with its
own decoder, and speed is measured by the grader from the kernel's CPU clock of this process.
What this side does report (flags of monkeypatched modules, lying classes) only adds flags.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import linecache
import os
import signal
import socket
import sys
import traceback
from typing import Any, Iterator

import numpy as np

from autograder.asserts.source import _python_function
from autograder.engine import call_context, history, protocol, shared_random, wire
from autograder.engine.grader_objects import GraderObject, raised_by_the_grader
from autograder.engine.magics import (
    MagicShell,
    close_figures,
    get_ipython_in_cells,
    notebook_namespace,
    read_numba_environment_on_import,
)
from autograder.engine.sandbox import Limits
from autograder.engine.tampering import replaced_since, suspicions

_SKIP_NAMES = {"get_ipython", "exit", "quit"}
_geterr = np.geterr  # NumPy's own, whatever a student later puts in its place


def _digest(tree: Any, blobs: list[bytes]) -> str:
    """An encoded value's identity: its tree and the bytes of its blobs."""
    found = hashlib.sha1(json.dumps(tree, separators=(",", ":")).encode())
    for blob in blobs:
        found.update(hashlib.sha1(blob).digest())
    return found.hexdigest()


def _error_handling() -> dict[str, str]:
    """The student's NumPy floating-point error handling now (``protocol.error_handling``)."""
    try:
        return protocol.error_handling(_geterr())
    except Exception:  # noqa: BLE001 - a student's np.seterrcall or patched internals
        return dict(protocol.NUMPY_ERRORS)


def _error(exc: BaseException, cell_files: set[str]) -> dict[str, Any]:
    """An exception as an error record, its traceback limited to the student's own cells."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in cell_files]
    text = ("".join(traceback.format_list(frames))
            + "".join(traceback.format_exception_only(type(exc), exc)))
    return protocol.error_record(type(exc).__name__, str(exc), text, getattr(exc, "errno", None),
                                 [c.__name__ for c in type(exc).__mro__
                                  if c.__module__ == "builtins"],
                                 protocol.class_name(type(exc)))


def _cell_index(path: str) -> int:
    """The index of the cell whose file is ``path`` (``op_run`` writes cell<index>.py; the body of
    its cell magic runs from cell-<index>.py, index -<index>)."""
    return int(os.path.basename(path)[len("cell"):-len(".py")])


def _compile_timer() -> Any:
    """A listener adding up the seconds this process spends in Numba's compiler."""
    from numba.core import event

    listener = event.TimingListener()
    event.register("numba:compile", listener)
    return listener


class Servant:
    """Runs student cells and answers requests about their names, in the sandboxed child."""

    def __init__(self, sock: socket.socket, job_dir: str, limits: Limits,
                 watched: dict[str, int]) -> None:
        self.sock, self.job_dir, self.limits, self.watched = sock, job_dir, limits, watched
        self.namespace = notebook_namespace()
        self.namespace["get_ipython"] = lambda: self.shell
        self.handles: dict[int, Any] = {}
        self.described: dict[int, dict[str, Any]] = {}
        self.cache = wire.ArrayCache()
        self.cell_files: set[str] = set()
        self.shell = MagicShell(self.namespace, self.cell_files)
        self.sent: dict[str, str] = {}   # name -> digest of the value last sent as it
        self.imported: dict[str, Any] = {}  # name -> what a test cell imported under it
        self.flagged: set[str] = set()
        self.staged: tuple[Any, list[tuple[Any, Any]], Any] | None = None
        self.compiling = _compile_timer()
        self.out = os.path.join(job_dir, "stdout")
        self.err = os.path.join(job_dir, "stderr")
        self.in_student_code = False
        self.random = shared_random.Handover(first_sends=True)  # the stream the tests share
        signal.signal(signal.SIGINT, self._interrupted)
        read_numba_environment_on_import(watched)
        get_ipython_in_cells(self.shell)

    # -- the grader's interrupt (a request past its timeout) stops the student's code only
    def _interrupted(self, signum: int, frame: Any) -> None:
        """SIGINT: a KeyboardInterrupt in the student's code; outside it (the reply to a cell
        that finished as its time ran out is on its way) it is dropped."""
        if self.in_student_code:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def _student(self) -> Iterator[None]:
        """The student's code runs in this block: the grader's interrupt stops it, here (a
        request the grader makes while the student's code calls it back runs in a block of its
        own, where an interrupt held back during the call back lands)."""
        outer, self.in_student_code = self.in_student_code, True
        mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self.in_student_code = outer

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
            except Exception:  # noqa: BLE001 - a student may have replaced or closed the streams
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
                text += protocol.truncation_note(size, cap)
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
        """What the grader needs to build a proxy for ``obj`` (worked out once per object: a
        function's source is read again for every test cell otherwise)."""
        known = self.described.get(id(obj))
        if known is not None and self.handles.get(id(obj)) is obj:
            return known
        info = self._description(obj)
        self.described[id(obj)] = info
        return info

    def _description(self, obj: Any) -> dict[str, Any]:
        code = getattr(_python_function(obj), "__code__", None)  # a decorator's, Numba's
        info: dict[str, Any] = {"h": self._handle(obj), "type": type(obj).__name__,
                                "callable": callable(obj)}
        name = getattr(obj, "__name__", None)
        if type(name) is str:  # a callable object's proxy has none, as the object
            info["name"] = name
        module = getattr(obj, "__module__", None)
        info["module"] = module if type(module) is str else ""
        filename = getattr(code, "co_filename", None)
        if filename in self.cell_files:  # the grader reads the definition in its own copy
            info["where"] = [_cell_index(filename), code.co_firstlineno, code.co_name]
            info["module"] = "__main__"
        info["suspect"] = suspicions(type(obj))
        return info

    def _value(self, value: Any, objects: dict[str, Any]) -> tuple[Any, list[bytes]]:
        """``value`` encoded; what it holds that is not plain data stays here, described in
        ``objects`` (by handle) so the grader can build proxies for it."""
        def keep(obj: Any) -> int | wire.Back:
            if type(obj) is GraderObject and not obj._method:
                return wire.Back(obj._id)  # the grader's own, back to it
            info = self._describe(obj)
            objects[str(info["h"])] = info
            return info["h"]

        return wire.encode(value, handle=keep, max_bytes=self.limits.transfer_mb * 2**20)

    # -- requests
    def op_run(self, msg: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
        index, count = int(msg["index"]), int(msg["count"])
        path = os.path.join(self.job_dir, f"cell{index}.py")
        source = msg["source"]
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        self.cell_files.add(path)
        linecache.checkcache(path)
        self._new_execution()
        self.shell.notes = []
        self.shell.body_path = os.path.join(self.job_dir, f"cell-{index}.py")
        reply: dict[str, Any] = {"ok": True}
        try:
            with self._student():
                self.shell.pre_run_cell()
                self.shell.run_cell_source(count, source, path, str(msg["raw"]))
        except BaseException as exc:  # noqa: BLE001 - a cell may raise anything, SystemExit too
            reply = {"ok": False, "error": _error(exc, self.cell_files)}
        finally:
            self.shell.body_path = None
        self.shell.post_execute()
        reply["notes"] = self.shell.notes
        reply["patched"] = replaced_since(self.watched, self.flagged)
        reply["errstate"] = _error_handling()
        return reply

    def _new_execution(self) -> None:
        """What a kernel does around each cell it runs: forget which warnings the student's
        code already showed (IPython's pre_execute clears ``__warningregistry__``), so that a
        warning shown in one cell is shown again in the next, and a test cell that provokes it
        writes to stderr as it does in nbgrader; and close the figures the cell before left
        open (the inline backend does so at the end of each cell). The shell's own pre-cell
        work (``MagicShell.pre_run_cell``: autoreload) runs the student's modules, in
        ``_student`` with the cell."""
        self.namespace.pop("__warningregistry__", None)
        close_figures()

    def op_names(self, msg: dict[str, Any],
                 blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """The student's names; the grader asks before each test cell, which starts a new
        execution here."""
        self._new_execution()
        try:
            with self._student():
                self.shell.pre_run_cell()
        except BaseException as exc:  # noqa: BLE001 - a reloaded module may raise anything
            return {"ok": False, "error": _error(exc, self.cell_files)}, []
        entries, out_blobs, sent = {}, [], {}
        budget = self.limits.transfer_mb * 2**20 // 2  # values past it stay here, behind proxies
        for name, obj in list(self.namespace.items()):
            if (name.startswith("__") and name.endswith("__")) or name in _SKIP_NAMES or \
                    history.NAMES.match(name):
                continue
            if type(obj).__name__ == "module":
                top = getattr(obj, "__name__", "")
                if type(top) is str and top.split(".")[0] in protocol.TRUSTED_MODULES:
                    entries[name] = {"kind": "module", "module": top}
                continue
            if self.imported.get(name, self) is obj:  # the tests' own, as they imported it
                entries[name] = {"kind": "same"}
                continue
            try:  # a value the grader holds already is not sent again ("same")
                digest, encoded = self._known_as(obj, budget)
                if digest == self.sent.get(name):
                    entries[name], sent[name] = {"kind": "same"}, digest
                    continue
                tree, extra = encoded or wire.encode(obj, max_bytes=max(budget, 0))
            except (wire.Unencodable, MemoryError):  # what the student's memory cap leaves
                entries[name] = {"kind": "object", **self._describe(obj)}
                continue
            budget -= sum(map(len, extra)) + 64
            base = len(out_blobs)
            out_blobs += extra
            entries[name], sent[name] = {"kind": "value", "value": wire.shift(tree, base)}, digest
        self.sent = sent  # a name deleted, or sent as an object, is sent whole when it comes back
        return {"ok": True, "names": entries}, out_blobs

    @staticmethod
    def _known_as(obj: Any, budget: int) -> tuple[str, tuple[Any, list[bytes]] | None]:
        """The digest by which the grader knows a value it holds, and the value encoded where
        the digest needed that: a large array is known by its bytes (changed in place, it is
        sent again), not encoded to see it."""
        if type(obj) is np.ndarray and obj.nbytes > 1 << 20:
            if obj.nbytes > budget:
                raise wire.Unencodable("past the transfer budget")
            return wire.digest(obj), None
        tree, extra = wire.encode(obj, max_bytes=max(budget, 0))
        return _digest(tree, extra), (tree, extra)

    def op_define(self, msg: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
        """Bind the names a test cell bound (``names``: plain data, or the student's own objects
        by handle; ``imported``: what it imported, imported here too) and delete those it
        deleted, for the student's later cells, which in a notebook share the tests' namespace;
        the grader, which holds these values, is not sent them back unless they change."""
        budget = self.limits.transfer_mb * 2**20 // 2
        for name, tree in dict(msg["names"]).items():
            value = self._args(tree, blobs)
            self.namespace[name] = value
            self.imported.pop(name, None)
            try:
                self.sent[name] = self._known_as(value, budget)[0]
            except (wire.Unencodable, MemoryError):  # the student's object: sent as one
                self.sent.pop(name, None)
        for name, (module, qualname) in dict(msg["imported"]).items():
            try:
                value = importlib.import_module(module)
                for part in qualname.split(".") if qualname else ():
                    value = getattr(value, part)
            except Exception:  # noqa: BLE001 - a module only the grader has: the tests' own
                continue
            self.namespace[name] = self.imported[name] = value
        for name in msg["deleted"]:
            self.namespace.pop(name, None)
            self.sent.pop(name, None)
            self.imported.pop(name, None)
        return {"ok": True}

    def _invoke(self, fn: Any) -> tuple[dict[str, Any], list[bytes]]:
        try:
            with self._student():
                result = fn()
        except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
            return {"ok": False, "error": _error(exc, self.cell_files)}, []
        objects: dict[str, Any] = {}
        try:
            tree, blobs = self._value(result, objects)
        except wire.Unencodable as exc:
            return {"ok": False,
                    "error": protocol.error_record("TypeError", str(exc), bases=["TypeError"])}, []
        return {"ok": True, "value": tree, "objects": objects}, blobs

    def _args(self, tree: Any, blobs: list[bytes]) -> Any:
        return wire.decode(tree, blobs, handle=self._lookup, cache=self.cache,
                           back=self._grader_object)

    def _grader_object(self, key: int) -> GraderObject:
        return GraderObject(self.back, key)

    def back(self, op: str, **fields: Any) -> Any:
        """Ask the grader about one of its objects (``protocol.CALLBACKS``) and return its
        answer, answering the requests it makes meanwhile (the test's function may call the
        student's)."""
        objects: dict[str, Any] = {}
        blobs: list[bytes] = []
        for key in ("args", "kwargs"):
            if key in fields:
                tree, extra = self._value(fields[key], objects)
                fields[key] = wire.shift(tree, len(blobs))
                blobs += extra
        if op == "back_call":
            fields["objects"] = objects
        message = self.random.attach(protocol.callback(op, **fields))
        fd = self.sock.fileno()
        # frames cross whole: the grader's interrupt waits for the answer (the grader answers
        # every call back) and then lands in the student's code, which called
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            wire.write_all(fd, wire.pack(message, blobs))
            while True:
                msg, blobs = self._read_frame()
                if msg.get("op") == protocol.ANSWER:
                    break
                if msg.get("op") == "end":
                    os._exit(0)
                wire.write_all(fd, self._answer(msg, blobs))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.random.receive(msg)
        if not msg.get("ok"):
            raise raised_by_the_grader(msg.get("error"))
        if msg.get("method"):
            return GraderObject(self.back, fields["g"], fields["name"])
        return self._args(msg.get("value"), blobs)

    def op_call(self, msg: dict[str, Any],
                blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """Call an object under the test's floating-point error handling and warning filters;
        the arrays, lists and dicts among the arguments that the call changed in place go back
        with the reply (``changed``: [path, value] pairs), so that the test sees its own
        arguments changed, as in a notebook (a value that is not plain data stays behind)."""
        target = self._lookup(msg["h"])
        args = self._args(msg["args"], blobs)
        kwargs = self._args(msg["kwargs"], blobs)
        before = (call_context.mutables_in(args, (0,))[1:]
                  + call_context.mutables_in(kwargs, (1,))[1:])
        with call_context.test_context(msg["context"]):
            reply, out = self._invoke(lambda: target(*args, **kwargs))
        changed, budget = [], self.limits.transfer_mb * 2**20
        for path, value, snapshot in before:
            if call_context.changed(value, snapshot):
                try:
                    tree, extra = wire.encode([path, value], max_bytes=budget)
                except wire.Unencodable:
                    continue
                budget -= sum(map(len, extra))
                changed.append(wire.shift(tree, len(out)))
                out = out + extra
        if changed:
            reply["changed"] = changed
        return reply, out

    def op_getattr(self, msg: dict[str, Any],
                   blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        target = self._lookup(msg["h"])
        return self._invoke(lambda: getattr(target, msg["name"]))

    def op_stage(self, msg: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
        """Decode fresh copies of the arguments now, one for each timed call that follows, so
        that those pay nothing but the call itself."""
        copies = int(msg["copies"])
        if not 0 < copies <= 100:
            raise ValueError(f"between 1 and 100 copies, not {copies}")
        self.staged = (self._lookup(msg["h"]),
                       [(self._args(msg["args"], blobs), self._args(msg["kwargs"], blobs))
                        for _ in range(copies)], msg["context"])
        return {"ok": True}

    def op_timed(self, msg: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
        """Call the staged object; the result stays here (the grader times this request by the
        kernel's CPU clock of this process, so nothing else is done before replying)."""
        if self.staged is None or not self.staged[1]:
            raise ValueError("nothing staged to time")
        target, (args, kwargs), context = self.staged[0], self.staged[1].pop(0), self.staged[2]
        try:
            with call_context.test_context(context), self._student():
                target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
            return {"ok": False, "error": _error(exc, self.cell_files)}
        return {"ok": True}

    def _read_frame(self) -> tuple[dict[str, Any], list[bytes]]:
        """The grader's next frame, whole."""
        fd = self.sock.fileno()
        return wire.unpack(lambda n: wire.read_exactly(fd, n),
                           max_bytes=self.limits.transfer_mb * 2**20 + 2**20)

    def _answer(self, msg: dict[str, Any], blobs: list[bytes]) -> bytes:
        """The frame that answers one request of the grader's."""
        op = msg.get("op")
        handler = getattr(self, f"op_{op}", None) if op in protocol.REQUESTS else None
        try:
            if handler is None:
                raise ValueError(f"unknown request {op!r}")
            self.random.receive(msg)
            answer = handler(msg, blobs)
        except Exception as exc:  # noqa: BLE001 - bad requests, objects that break the encoder
            answer = {"ok": False, "error": _error(exc, self.cell_files)}
        reply, out = answer if isinstance(answer, tuple) else (answer, [])
        if op != "timed":
            reply.update(self._collect())
            reply["compile_s"] = self._compile_seconds()
            reply = self.random.attach(reply)
        try:
            return wire.pack(reply, out)
        except (TypeError, ValueError) as exc:
            return wire.pack({"ok": False, "error": protocol.error_record("TypeError", str(exc))})

    def _compile_seconds(self) -> float:
        return self.compiling.duration if self.compiling.done else 0.0

    def serve(self) -> None:
        """Say hello (the kernel attaches this process's credentials), then answer requests until
        the grader says "end" or goes away."""
        fd = self.sock.fileno()
        self._capture()
        wire.write_all(fd, wire.pack(protocol.hello(os.getpid())))
        while True:
            try:
                msg, blobs = self._read_frame()
            except (EOFError, OSError, wire.WireError):
                return
            if msg.get("op") == "end":
                return
            if msg.get("op") == protocol.ANSWER:  # to a callback the grader's interrupt ended
                continue
            data = self._answer(msg, blobs)
            try:
                wire.write_all(fd, data)
            except OSError:
                return
