"""The student's names as the trusted grader sees them.

Plain data is fetched by value (decoded by the grader's own decoder: exact ndarrays, JSON-safe
values). Everything else stays in the sandbox behind a proxy: calling a ``StudentFunction``, or
an attribute of a ``StudentObject``, sends plain arguments over and brings a plain result (or
another proxy) back. Proxies never forward comparisons, truth tests or conversions, so an object
whose ``__eq__`` lies compares as what it is, a remote object. Functions the student wrote carry
their source in ``__autograder_source__`` for the source checks of ``autograder.asserts``: read
in the grader's own copy of the cells it sent, where the sandbox says the function starts (a
patched ``inspect`` there changes nothing).
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
import warnings
from typing import Any

import numpy as np

from autograder.asserts.source import definition_at
from autograder.engine import protocol, wire
from autograder.engine.session import ChildSession, SandboxFailure


class StudentError(Exception):
    """An exception the student's code raised that is not one of Python's built-in ones."""


def _raise_remote(error: dict[str, Any]) -> None:
    """Re-raise a student exception in the grader so that a test's ``except`` catches what it
    would catch in a notebook, though only the message crosses: a built-in exception as itself;
    one whose class a trusted package defines (NumPy's LinAlgError) as that class; a class of
    the student's as a StudentError that is also its first built-in base (a ValueError
    subclass is caught by ``except ValueError``)."""
    name = str(error.get("type", "Exception"))
    message = str(error.get("message", ""))
    bases = [b for b in error.get("bases", ()) if isinstance(b, str)]
    for cls in (_trusted_class(error.get("origin")),
                _builtin(name) if not bases or bases[0] == name else None):
        if cls is not None:
            try:
                exc = cls(message)
            except TypeError:  # exception types with other constructors (UnicodeDecodeError, ...)
                continue
            raise exc
    base = next((b for b in map(_builtin, bases) if b is not None and b is not Exception), None)
    text = f"{name}: {message}" + (f" (a {bases[0]})" if bases else "")
    if base is not None:
        try:
            raise type(name if name.isidentifier() else "StudentException",
                       (StudentError, base), {})(text)
        except TypeError:  # a base whose instances need more than a message
            pass
    raise StudentError(text)


def _builtin(name: str) -> type | None:
    """The built-in exception class called ``name``, if there is one."""
    cls = getattr(builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else None


def _trusted_class(origin: Any) -> type | None:
    """The exception class at ``origin`` (``protocol.class_name``) if a public module of a
    trusted package that the grader has imported already defines it (nothing is imported)."""
    cls = protocol.named_class(origin, lambda path: sys.modules.get(path) if (
        protocol.trusted_module(path) and path.split(".")[0] != "autograder") else None)
    return cls if cls is not None and issubclass(cls, Exception) else None


class Remote:
    """What the proxies share: the session, the handle, and the plumbing of one request."""

    def __init__(self, session: ChildSession, handle: int, info: dict[str, Any]) -> None:
        self._session, self._handle, self._info = session, handle, info

    def _request(self, op: str, **fields: Any) -> Any:
        trees, blobs = {}, []
        if "h" in protocol.REQUESTS[op]:
            trees["h"] = self._handle
        if "context" in protocol.REQUESTS[op]:
            trees["context"] = protocol.call_context(np.geterr(), warnings.filters,
                                                     self._session.warning_baseline)
        for key, value in fields.items():
            if key in ("args", "kwargs"):
                tree, extra = encode_argument(value, self._session, len(blobs))
                trees[key] = tree
                blobs += extra
            else:
                trees[key] = value
        reply, reply_blobs = self._session.request(protocol.request(op, **trees), blobs)
        if reply.get("stderr"):
            self._session.stderr.append(str(reply["stderr"]))
        if reply.get("stdout"):
            self._session.stdout.append(str(reply["stdout"]))
        if "changed" in reply:
            self._put_back(reply["changed"], reply_blobs,
                           [fields.get("args", []), fields.get("kwargs", {})])
        if not reply.get("ok"):
            _raise_remote(reply.get("error") if isinstance(reply.get("error"), dict) else {})
        try:
            return decode_value(self._session, reply.get("value"), reply_blobs,
                                reply.get("objects"))
        except wire.WireError as error:
            self._session._fail(SandboxFailure(f"bad reply: {error}", "protocol"), 0)
            raise self._session.failure from None


    def _put_back(self, tree: Any, blobs: list[bytes], arguments: list) -> None:
        """Write the arrays, lists and dicts a call changed in place (``changed``: [path, value]
        pairs) into the test's own arguments, as the call would have changed them in the test's
        process; a path that leads to no writable array of that shape and dtype, or to no list
        or dict for a list or dict, is not followed."""
        try:
            changed = wire.decode(tree, blobs)
        except wire.WireError:
            self._session.flags.add("protocol")
            return
        for pair in changed if type(changed) is list else ():
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not list or not all(
                    type(i) is int and 0 <= i < 1 << 20 for i in pair[0]):
                continue
            (path, new), target = pair, arguments
            try:
                for i in path:
                    target = list(target.values())[i] if isinstance(target, dict) else target[i]
            except (IndexError, KeyError, TypeError):
                continue
            if (isinstance(target, np.ndarray) and isinstance(new, np.ndarray)
                    and target.shape == new.shape and target.dtype == new.dtype
                    and target.flags.writeable):
                np.copyto(target, new)
            elif type(target) is list and type(new) is list:
                target[:] = new
            elif type(target) is dict and type(new) is dict:
                target.clear()
                target.update(new)


class StudentObject(Remote):
    """An object that stays in the sandbox: its attributes and calls go over. It is deliberately
    not a sequence (no len, items or iteration), so NumPy never reads one element by element."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._request("getattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._request("call", args=list(args), kwargs=dict(kwargs))

    def __repr__(self) -> str:
        return (f"<student {self._info.get('type', 'object')} {self._info.get('name', '')}>"
                .replace(" >", ">"))

    def __autograder_cpu_times__(self, args: tuple, kwargs: dict, calls: int) -> list[float]:
        """Seconds of CPU time of each of ``calls`` calls, timed where the object lives: the
        sandbox gets a fresh copy of the arguments for each call ahead of them and keeps the
        results, and the kernel's CPU clock of its process is read here, before and after each
        call. Neither the transport nor the machine's load shows in the figures, and no clock the
        student can patch is read. Work handed to other processes would not show, so there must
        be none."""
        session, times = self._session, []
        self._request("stage", args=list(args), kwargs=dict(kwargs), copies=calls)
        for _ in range(calls):
            before = session.cpu_ns()
            self._request("timed")
            times.append((session.cpu_ns() - before) / 1e9)
        helpers = session.helpers()
        if helpers:
            session.flags.add("speed-test-helpers")
            raise AssertionError(f"{self._info.get('name') or 'your function'} left {len(helpers)} "
                                 "other process(es) running while it was timed; a speed test "
                                 "times the function's own process, so it must not hand its work "
                                 "to others")
        return times


class StudentFunction(StudentObject):
    """A function (or class, or Numba dispatcher) the student defined, called in the sandbox."""

    def __init__(self, session: ChildSession, handle: int, info: dict[str, Any]) -> None:
        super().__init__(session, handle, info)
        if type(info.get("name")) is str:
            self.__name__ = self.__qualname__ = info["name"]
        self.__module__ = info.get("module") or "__main__"
        where = info.get("where")
        if (type(where) is list and len(where) == 3 and type(where[0]) is int
                and type(where[1]) is int and type(where[2]) is str):
            source = definition_at(session.cells.get(where[0], ""), where[1], where[2])
            if source is not None:
                self.__autograder_source__ = source


def make_proxy(session: ChildSession, info: dict[str, Any]) -> StudentObject:
    """The proxy for the object that ``info`` (from the sandbox) describes."""
    for flag in info.get("suspect", ()) if isinstance(info.get("suspect"), list) else ():
        session.flags.add(str(flag))
    handle = info.get("h")
    if type(handle) is not int:
        raise wire.WireError("proxy without a handle")
    base = StudentFunction if info.get("callable") else StudentObject
    name = info.get("type")
    cls = _named(base, name) if type(name) is str and 0 < len(name) <= 200 else base
    return cls(session, handle, info)


@functools.lru_cache(maxsize=256)
def _named(base: type, name: str) -> type:
    """``base`` under the name of the type the object has in the sandbox, so that every message,
    Python's own included ("'generator' object is not subscriptable"), names the type a notebook
    would name, not the proxy's."""
    return type(base)(name, (base,), {"__module__": base.__module__, "__qualname__": name})


def decode_value(session: ChildSession, tree: Any, blobs: list[bytes], objects: Any) -> Any:
    """A value from the sandbox: its handles become proxies (``objects`` describes them), the
    grader's own objects (``wire.Back``) themselves again."""
    objects = objects if isinstance(objects, dict) else {}

    def proxy(h: int) -> StudentObject:
        info = objects.get(str(h))
        return make_proxy(session, {**info, "h": h} if isinstance(info, dict) else {"h": h})

    def kept(key: int) -> Any:
        if key not in session.kept:
            raise wire.WireError(f"no object of the grader's with id {key}")
        return session.kept[key]

    return wire.decode(tree, blobs, handle=proxy, back=kept)


def encode_argument(value: Any, session: ChildSession, base: int = 0) -> tuple[Any, list[bytes]]:
    """A test's argument as plain data for the sandbox; proxies go as their handles, and any
    other object of the grader's (a function the student's code is to call) stays here, kept,
    for the sandbox to call back (``answer_callback``)."""
    def handle(obj: Any) -> int | wire.Back:
        if isinstance(obj, Remote) and obj._session is session:
            return obj._handle
        if isinstance(obj, types.ModuleType):
            raise TypeError(f"a module ({obj.__name__}) cannot be passed to the student's code")
        session.kept[id(obj)] = obj
        return wire.Back(id(obj))

    tree, blobs = wire.encode(_unwrap(value), handle=handle,
                              max_bytes=session.worker.limits.transfer_mb * 2**20,
                              cache=session.sent)
    return wire.shift(tree, base), blobs


def encode_definition(value: Any, session: ChildSession, budget: int) -> tuple[Any, list[bytes]]:
    """A value a test cell bound, for the student's later cells: plain data, and proxies as
    their handles, within ``budget`` bytes; anything else of the grader's (a function or class
    the test defined, a module) raises ``wire.Unencodable``: it stays with the tests."""
    def handle(obj: Any) -> int:
        if isinstance(obj, Remote) and obj._session is session:
            return obj._handle
        raise wire.Unencodable(f"the test's {type(obj).__name__} stays with the tests")

    return wire.encode(_unwrap(value), handle=handle, max_bytes=budget, cache=session.sent)


def _unwrap(value: Any) -> Any:
    """Turn proxies into wire handles (recursively through containers)."""
    if isinstance(value, Remote):
        return wire.Handle(value._handle)
    if type(value) is list:
        return [_unwrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_unwrap(v) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def answer_callback(session: ChildSession, message: dict[str, Any],
                    blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    """The answer to what the student's code asked of an object that a test passed it
    (``protocol.CALLBACKS``): the object called, or its public method, with the student's
    arguments (their objects as proxies), the result sent as ``encode_argument`` sends one; or a
    public attribute, as plain data (a method: ``{"method": True}``). Nothing private is reached,
    and nothing but methods and plain data: the student's code cannot walk from the test's
    function to the grader's modules. Whatever the test's code raises goes back to be raised in
    the student's code, as it would go through it in a notebook."""
    try:
        op, name, key = message.get("op"), message.get("name"), message.get("g")
        if type(key) is not int or key not in session.kept:
            raise LookupError(f"no object of the test's with id {key!r}")
        if type(name) is not str or name.startswith("_"):
            raise AttributeError(f"{name!r} is not a public attribute")
        target = session.kept[key]
        attribute = getattr(target, name) if name else target
        method = name and getattr(attribute, "__self__", None) is target and callable(attribute)
        if op == "back_getattr":
            if method:
                return {"ok": True, "method": True}, []
            try:
                tree, out = wire.encode(attribute,
                                        max_bytes=session.worker.limits.transfer_mb * 2**20)
            except wire.Unencodable:
                raise AttributeError(f"{name!r} of the test's object is neither plain data nor "
                                     "one of its methods") from None
            return {"ok": True, "value": tree}, out
        if op != "back_call" or (name and not method):
            raise TypeError(f"{name or op!r} cannot be called by the student's code")
        args = decode_value(session, message.get("args"), blobs, message.get("objects"))
        kwargs = decode_value(session, message.get("kwargs"), blobs, message.get("objects"))
        if type(args) is not list or type(kwargs) is not dict or not all(
                type(k) is str for k in kwargs):
            raise TypeError("bad arguments")
        tree, out = encode_argument(attribute(*args, **kwargs), session)
        return {"ok": True, "value": tree}, out
    except SandboxFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - the test's own code may raise anything
        return {"ok": False, "error": protocol.error_record(type(exc).__name__, str(exc))}, []
