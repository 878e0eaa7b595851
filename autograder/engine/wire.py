"""The wire format between the trusted grader and the sandboxed student process.

A message is a frame: a fixed header (magic, JSON length, blob count), the blob lengths, a UTF-8
JSON document, then the blobs. Values are plain data only: JSON scalars, lists, and tagged objects
for tuples ({"__t": [...]}; a named tuple {"__nt": [type name, fields, items]}), dicts
({"__d": [[k, v], ...]}, or, with MIN_ITEMS items or more, {"__d": {"__cols": [keys, values]}}:
two lists, which cross as fast as lists do) and the standard library's dicts that keep more than
their items (``collections.OrderedDict``, ``Counter``, and ``defaultdict`` of a built-in type:
{"__od"|"__cnt": [[k, v], ...]}, {"__dd": [type, [...]]}), sets and frozensets
({"__set"|"__fset": [...]}), ranges ({"__r": [start, stop, step]}), complex numbers
({"__c": [re, im]}), bytes ({"__b": i}: blob i), arrays ({"__a": i}: blob i is ``.npy`` bytes,
read with allow_pickle=False; a subclass's, a masked array's say, as ``np.asarray`` sees it),
NumPy scalars ({"__s": i}), handles to objects that stay in the sandbox ({"__h": id}) and to
objects of the grader's that a test passed to the student's code, which calls them back
({"__g": id}). A student's function that returns a range, a set, a Counter or a named tuple is
answered with one, as in a notebook: a proxy in its place would compare unequal to everything.
The decoder trusts nothing: every size is capped and anything else is a ``WireError``.
"""

from __future__ import annotations

import array as _array
import collections
import hashlib
import io
import itertools
import json
import os
import struct
import sys
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

MAGIC = b"AGW1"
_HEADER = struct.Struct("!4sII")
_LENGTH = struct.Struct("!Q")
#: Default cap on one message (JSON plus blobs), in bytes.
MAX_MESSAGE = 64 * 1024 * 1024
#: Deepest nesting of containers a value may have.
MAX_DEPTH = 32
#: Most blobs in one message.
MAX_BLOBS = 10_000
#: Most numbers a range may hold (the transfer cap's worth of int64): a test turns it into an
#: array in the grader's own process.
MAX_RANGE = MAX_MESSAGE // 8
#: Most keys of one set or dict that may share a hash: colliding keys make building it take
#: time quadratic in their number (ints that differ by 2**61 - 1 collide; honest keys do not).
MAX_COLLISIONS = 64
#: The tags whose body is a blob index.
_BLOB_TAGS = ("__a", "__s", "__b")
#: Lists of at least this many ints (or floats) cross as a slice of one raw int64 (float64)
#: blob that a message's lists share ({"__li": [blob, start, count]}): as JSON, the book's IMDB
#: sequences (millions of ints in lists) took seconds to cross before each test cell.
MIN_NUMBERS = 16
#: Lists of at least MIN_ITEMS strings cross as one JSON list, unwalked; dicts of at least
#: MIN_ITEMS items as a list of keys and a list of values (the book's IMDB word index: 88,584
#: pairs took half a second to cross, item by item, before each test cell).
MIN_ITEMS = MIN_NUMBERS
#: The tags of such slices, by the type of their numbers, and the array codes they are kept in.
_NUMBER_TAGS = {int: ("__li", "q"), float: ("__lf", "d")}
_NUMBER_CODES = dict(_NUMBER_TAGS.values())  # tag -> array code
#: The tags whose body is a list that starts with a blob index.
_SLICE_TAGS = ("__A", *_NUMBER_CODES)
#: The dict types that cross with their type, by tag (a defaultdict's also names its factory).
_DICTS = {"__od": collections.OrderedDict, "__cnt": collections.Counter}
#: The factories a defaultdict may have to cross: the built-in types, by name.
_FACTORIES = {t.__name__: t for t in (int, float, complex, str, bytes, bool, list, tuple, dict,
                                      set, frozenset)}


#: Most named-tuple types one process makes from what crosses (a type per name and fields).
MAX_NAMED_TUPLES = 256
_named_tuples: dict[tuple[str, tuple[str, ...]], type] = {}


class WireError(Exception):
    """A message that breaks the format or its caps (the peer is broken or hostile)."""


class Unencodable(TypeError):
    """A value that is not plain data (the encoder's ``handle`` hook may keep it remote instead)."""


class Handle:
    """A reference to an object that lives in the sandbox, by id ({"__h": id})."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:  # noqa: A002 - the field's name
        self.id = id


class Back(Handle):
    """A reference to an object of the grader's that the student's code calls back ({"__g": id})."""

    __slots__ = ()


def encode(value: Any, handle: Callable[[Any], int] | None = None,
           max_bytes: int = MAX_MESSAGE,
           cache: "ArrayCache | None" = None) -> tuple[Any, list[bytes]]:
    """``value`` as (a JSON-safe tree, blobs). Objects that are not plain data go through
    ``handle`` (which returns an id, or a ``Back``) or raise ``Unencodable``. With ``cache``, a
    large array the peer already holds goes as its key ({"__k": key}), a new one is sent once
    with its key ({"__A": [blob, key]})."""
    blobs: list[bytes] = []
    budget = [max_bytes]
    added: list[str] = []   # cache keys this value adds, forgotten again if it cannot cross

    def spend(n: int) -> None:
        budget[0] -= n
        if budget[0] < 0:
            raise Unencodable(f"value is larger than the {max_bytes // 2**20} MiB transfer cap")

    def blob(array: np.ndarray) -> int:
        if array.nbytes > budget[0]:  # before a copy of it is made
            spend(array.nbytes)
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        data = buffer.getvalue()
        spend(len(data))
        blobs.append(data)
        return len(blobs) - 1

    pools: dict[str, tuple[int, _array.array]] = {}  # array code -> (blob index, numbers)

    def numbers(rows: list[list]) -> list[dict[str, list[int]]] | None:
        """``rows`` as slices of their type's pool, if all their numbers are ints in int64 or
        all floats: checked and converted in one pass (the book's IMDB sequences, 10,000 lists,
        took 0.3 s one list at a time)."""
        kinds = {*map(type, itertools.chain.from_iterable(rows))}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind not in _NUMBER_TAGS:
            return None
        tag, code = _NUMBER_TAGS[kind]
        try:
            part = _array.array(code, itertools.chain.from_iterable(rows))
        except OverflowError:  # an int past int64 goes as JSON
            return None
        spend(8 * len(part))
        if code not in pools:
            blobs.append(b"")  # filled at the end
            pools[code] = (len(blobs) - 1, _array.array(code))
        index, pool = pools[code]
        start = len(pool)
        pool.extend(part)
        return [{tag: [index, begin, len(row)]}
                for begin, row in zip(itertools.accumulate(map(len, rows), initial=start), rows)]

    def pairs(v: dict, depth: int) -> list | dict[str, list]:
        """A dict's items: [key, value] pairs, or, from MIN_ITEMS on, {"__cols": [keys,
        values]}, whose two lists take the fast paths of lists of strings and numbers."""
        if len(v) < MIN_ITEMS:
            return [[walk(k, depth + 1), walk(x, depth + 1)] for k, x in v.items()]
        return {"__cols": [walk(list(v), depth + 1), walk(list(v.values()), depth + 1)]}

    def walk(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Unencodable(f"value is nested deeper than {MAX_DEPTH} levels")
        t = type(v)
        if v is None or t is bool or t is str or t is int or t is float:
            spend(len(v) if t is str else 8)
            return v
        if isinstance(v, Handle):
            return {"__g" if isinstance(v, Back) else "__h": v.id}
        if t is complex:
            return {"__c": [v.real, v.imag]}
        if isinstance(v, np.ndarray) and t is not np.ndarray:
            v, t = np.ndarray.view(v, np.ndarray), np.ndarray  # as np.asarray sees a subclass
        if t is np.ndarray and v.dtype.kind in "biufcSUMm" and not v.dtype.hasobject:
            if cache is not None and v.nbytes >= cache.min_bytes:
                key, known = cache.key(v)
                if known:
                    return {"__k": key}
                if key:
                    added.append(key)
                    return {"__A": [blob(v), key]}
            return {"__a": blob(v)}
        if isinstance(v, np.generic) and t.__module__ == "numpy" and v.dtype.kind in "biufcSUMm":
            return {"__s": blob(np.asarray(v))}
        if t is list:
            kinds = {*map(type, v)} if len(v) >= MIN_ITEMS else set()
            if kinds == {str}:
                spend(sum(map(len, v)))
                return list(v)
            if kinds == {list}:  # rows of numbers, all at once
                rows = numbers(v)
                if rows is not None:
                    return rows
            elif len(v) >= MIN_NUMBERS:
                row = numbers([v])
                if row is not None:
                    return row[0]
            return [walk(x, depth + 1) for x in v]
        if t is tuple:
            return {"__t": [walk(x, depth + 1) for x in v]}
        fields = _fields(t)
        if fields is not None:
            return {"__nt": [t.__name__, list(fields),
                             [walk(x, depth + 1) for x in tuple.__iter__(v)]]}
        if t is dict or t in _DICTS.values():
            return {next((tag for tag, d in _DICTS.items() if d is t), "__d"): pairs(v, depth)}
        if t is collections.defaultdict and _FACTORIES.get(getattr(v.default_factory, "__name__",
                                                                   None)) is v.default_factory:
            return {"__dd": [v.default_factory.__name__, pairs(v, depth)]}
        if t is set or t is frozenset:
            return {"__set" if t is set else "__fset": [walk(x, depth + 1) for x in v]}
        if t is range:
            return {"__r": [v.start, v.stop, v.step]}
        if t is bytes:
            spend(len(v))
            blobs.append(v)
            return {"__b": len(blobs) - 1}
        if handle is not None:
            kept = handle(v)
            return walk(kept, depth) if isinstance(kept, Back) else {"__h": kept}
        raise Unencodable(f"a {t.__name__} is not plain data")

    try:
        tree = walk(value, 0)
        for index, pool in pools.values():
            if sys.byteorder == "big":
                pool.byteswap()
            blobs[index] = pool.tobytes()  # little-endian
        return tree, blobs
    except BaseException:
        if cache is not None:
            cache.forget(added)
        raise


def _fields(t: type) -> tuple[str, ...] | None:
    """The fields of a named tuple type (``collections.namedtuple``, ``typing.NamedTuple``),
    read from its own class dictionary; None for any other type."""
    fields = t.__dict__.get("_fields") if tuple in t.__bases__ else None
    return fields if type(fields) is tuple and all(type(f) is str for f in fields) else None


def _named_tuple(name: Any, fields: Any, values: tuple) -> tuple:
    """``values`` as a named tuple of type ``name`` with ``fields``, a type made once per name
    and fields (a plain tuple once MAX_NAMED_TUPLES types are made)."""
    if type(name) is not str or not name.isidentifier() or type(fields) is not list \
            or len(fields) != len(values) or not all(type(f) is str for f in fields):
        raise WireError("bad named tuple")
    key = (name, tuple(fields))
    if key not in _named_tuples:
        if len(_named_tuples) >= MAX_NAMED_TUPLES:
            return values
        try:
            _named_tuples[key] = collections.namedtuple(name, fields, module="__main__")
        except ValueError:  # a field that is a keyword, starts with "_", or is repeated
            raise WireError("bad named tuple fields") from None
    return _named_tuples[key](*values)


def digest(array: np.ndarray) -> str:
    """An array's identity by content: dtype, shape, memory order and the SHA-256 of its bytes
    (two arrays with the same digest are the same array)."""
    data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    return f"{array.dtype.str}{array.shape}{order}{hashlib.sha256(data).hexdigest()}"


class ArrayCache:
    """Large arrays sent once per session (a test timing a function passes the same input again
    and again), keyed by their ``digest``. The sender's side remembers keys, the receiver's side
    the arrays; each charges an array to the same byte budget once, when it first crosses (a key
    the sender could not send is forgotten again), so they always agree."""

    def __init__(self, budget: int = 256 * 2**20, min_bytes: int = 64 * 1024) -> None:
        self.budget, self.min_bytes = budget, min_bytes
        self.keys: dict[str, int] = {}
        self.arrays: dict[str, np.ndarray] = {}

    def key(self, array: np.ndarray) -> tuple[str, bool]:
        """(key, already sent) for an array to send; key "" when the budget is spent."""
        key = digest(array)
        if key in self.keys:
            return key, True
        if array.nbytes > self.budget:
            return "", False
        self.budget -= array.nbytes
        self.keys[key] = array.nbytes
        return key, False

    def forget(self, keys: list[str]) -> None:
        """Take back keys that never reached the peer."""
        for key in keys:
            self.budget += self.keys.pop(key, 0)

    def store(self, key: Any, array: np.ndarray) -> None:
        """Keep an array the peer sent with its key; again under the same key, nothing."""
        if type(key) is not str:
            raise WireError("bad cache key")
        if key in self.arrays:
            return
        if array.nbytes > self.budget:
            raise WireError("array cache overflow")
        self.budget -= array.nbytes
        array.flags.writeable = False
        self.arrays[key] = array

    def get(self, key: Any) -> np.ndarray:
        if key not in self.arrays:
            raise WireError("unknown cached array")
        return self.arrays[key]


def decode(tree: Any, blobs: list[bytes], handle: Callable[[int], Any] | None = None,
           cache: ArrayCache | None = None, back: Callable[[int], Any] | None = None) -> Any:
    """The plain value a tree and its blobs stand for; handles go through ``handle``, the
    grader's objects (``Back``) through ``back``. Arrays come
    back as exact ``np.ndarray`` (never a subclass), read with ``allow_pickle=False``; a named
    tuple as one of a type made here (``_named_tuple``). Only with
    ``cache`` (the sandbox's side) are cached-array tags accepted; a cached array is handed out as
    a copy, so student code cannot change what a later call receives."""

    def array(index: Any) -> np.ndarray:
        if type(index) is not int or not 0 <= index < len(blobs):
            raise WireError(f"bad blob index {index!r}")
        try:
            a = np.load(io.BytesIO(blobs[index]), allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - np.load may raise anything on bad bytes
            raise WireError(f"blob {index} is not a valid .npy array: {error}") from None
        if type(a) is not np.ndarray or a.dtype.hasobject:
            raise WireError("blob is not a plain array")
        return a

    pools: dict[tuple[int, str], _array.array] = {}
    unsliced: dict[tuple[int, str], int] = {}  # numbers of each pool no slice has taken yet

    def number_slice(tag: str, body: Any) -> list:
        """The list a slice of a raw number blob stands for (``encode``'s ``numbers``). Each
        number is taken once: slices that took one again would make a small message a large
        value."""
        if type(body) is not list or len(body) != 3 or not all(type(x) is int for x in body):
            raise WireError(f"bad {tag} slice")
        index, start, count = body
        code = _NUMBER_CODES[tag]
        if (index, code) not in pools:
            if not 0 <= index < len(blobs) or len(blobs[index]) % 8:
                raise WireError(f"bad blob index {index!r}")
            pool = _array.array(code)
            pool.frombytes(blobs[index])
            if sys.byteorder == "big":
                pool.byteswap()
            pools[index, code], unsliced[index, code] = pool, len(pool)
        pool = pools[index, code]
        unsliced[index, code] -= count
        if not (0 <= start and 0 <= count and start + count <= len(pool)
                and unsliced[index, code] >= 0):
            raise WireError(f"{tag} slice out of its blob, or over numbers already taken")
        return pool[start:start + count].tolist()

    def hashable(keys: list) -> list:
        """``keys``, checked: hashable, and not too many of them sharing a hash."""
        try:
            hashes = [hash(k) for k in keys]
        except TypeError:
            raise WireError("unhashable set element or dict key") from None
        if len(hashes) - len(set(hashes)) > MAX_COLLISIONS:
            raise WireError("set or dict keys crafted to share a hash")
        return keys

    def items(out: dict, body: Any, depth: int) -> dict:
        """``out`` filled from a dict's items, as ``encode``'s ``pairs`` gives them."""
        if type(body) is dict:
            columns = body.get("__cols") if len(body) == 1 else None
            if type(columns) is not list or len(columns) != 2:
                raise WireError("bad dict columns")
            keys, values = (walk(column, depth + 2) for column in columns)
            if type(keys) is not list or type(values) is not list or len(keys) != len(values):
                raise WireError("dict columns are not two lists of one length")
            for key, value in zip(hashable(keys), values):  # Counter.update would count
                out[key] = value
            return out
        if type(body) is not list or not all(type(pair) is list and len(pair) == 2
                                             for pair in body):
            raise WireError("bad dict entry")
        keys = hashable([walk(pair[0], depth + 1) for pair in body])
        for key, pair in zip(keys, body):
            out[key] = walk(pair[1], depth + 1)
        return out

    def store_new(v: Any, depth: int) -> None:
        """Keep every array sent with its cache key first: the sender counts them as sent even
        where decoding the rest of the value fails."""
        if depth > MAX_DEPTH:
            raise WireError("value nested too deep")
        if type(v) is list:
            for x in v:
                store_new(x, depth + 1)
        elif type(v) is dict and len(v) == 1:
            (tag, body), = v.items()
            if tag == "__A" and type(body) is list and len(body) == 2:
                cache.store(body[1], array(body[0]))
            elif tag not in _BLOB_TAGS:
                store_new(body, depth + 1)

    def walk(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deep")
        t = type(v)
        if v is None or t in (bool, str, int, float):
            return v
        if t is list:
            if len(v) >= MIN_ITEMS and {*map(type, v)} == {str}:
                return v
            return [walk(x, depth + 1) for x in v]
        if t is dict and len(v) == 1:
            (tag, body), = v.items()
            if tag == "__t" and type(body) is list:
                return tuple(walk(x, depth + 1) for x in body)
            if tag == "__nt" and type(body) is list and len(body) == 3 \
                    and type(body[2]) is list:
                return _named_tuple(body[0], body[1], tuple(walk(x, depth + 1) for x in body[2]))
            if tag == "__d" or tag in _DICTS:
                return items(_DICTS.get(tag, dict)(), body, depth)
            if (tag == "__dd" and type(body) is list and len(body) == 2
                    and body[0] in _FACTORIES):
                return items(collections.defaultdict(_FACTORIES[body[0]]), body[1], depth)
            if tag in ("__set", "__fset") and type(body) is list:
                elements = hashable([walk(x, depth + 1) for x in body])
                return (set if tag == "__set" else frozenset)(elements)
            if tag == "__r" and type(body) is list and len(body) == 3 and all(
                    type(x) is int for x in body) and body[2] != 0:
                numbers = range(*body)
                try:
                    if len(numbers) <= MAX_RANGE:
                        return numbers
                except OverflowError:
                    pass
                raise WireError(f"range of more than {MAX_RANGE} numbers")
            if tag in _NUMBER_CODES:
                return number_slice(tag, body)
            if tag == "__b":
                if type(body) is not int or not 0 <= body < len(blobs):
                    raise WireError(f"bad blob index {body!r}")
                return bytes(blobs[body])
            if (tag == "__c" and type(body) is list and len(body) == 2
                    and all(type(x) in (int, float) for x in body)):
                return complex(body[0], body[1])
            if tag == "__a":
                return array(body)
            if tag == "__A" and cache is not None and type(body) is list and len(body) == 2:
                return cache.get(body[1]).copy(order="K")  # stored before the walk
            if tag == "__k" and cache is not None:
                return cache.get(body).copy(order="K")
            if tag == "__s":
                a = array(body)
                if a.ndim != 0:
                    raise WireError("scalar blob is not 0-d")
                return a[()]
            if tag == "__h" and type(body) is int and handle is not None:
                return handle(body)
            if tag == "__g" and type(body) is int and back is not None:
                return back(body)
        raise WireError(f"unexpected {t.__name__} in message")

    if cache is not None:
        store_new(tree, 0)
    return walk(tree, 0)


def blob_indices(tree: Any) -> list[int]:
    """The blob indices a tree holds, each once, in the order first met (unchecked: ``decode``
    checks them; the lists sliced from one blob are many)."""
    return list(dict.fromkeys(i for i in _blob_references(tree, 0) if type(i) is int))


def _blob_references(tree: Any, depth: int) -> Iterator[Any]:
    if depth > MAX_DEPTH:
        raise WireError("value nested too deep")
    if type(tree) is list:
        for x in tree:
            if type(x) is not str:
                yield from _blob_references(x, depth + 1)
    elif type(tree) is dict and len(tree) == 1:
        (tag, body), = tree.items()
        if tag in _BLOB_TAGS:
            yield body
        elif tag in _SLICE_TAGS:
            yield from body[:1] if type(body) is list else ()
        else:
            yield from _blob_references(body, depth + 1)


def shift(tree: Any, base: int) -> Any:
    """``tree`` with its blob indices moved up by ``base`` (several values share one message)."""
    if base == 0:
        return tree
    if type(tree) is list:
        return [shift(x, base) for x in tree]
    if type(tree) is dict:
        (tag, body), = tree.items()
        if tag in _BLOB_TAGS:
            return {tag: body + base}
        if tag in _SLICE_TAGS:
            return {tag: [body[0] + base, *body[1:]]}
        return {tag: shift(body, base)}
    return tree


def pack(message: dict[str, Any], blobs: list[bytes] = ()) -> bytes:
    """One frame holding ``message`` (a JSON-safe dict) and ``blobs``."""
    body = json.dumps(message, allow_nan=True, separators=(",", ":")).encode("utf-8")
    parts = [_HEADER.pack(MAGIC, len(body), len(blobs))]
    parts += [_LENGTH.pack(len(b)) for b in blobs]
    parts.append(body)
    parts += blobs
    return b"".join(parts)


def unpack(read: Callable[[int], bytes],
           max_bytes: int = MAX_MESSAGE) -> tuple[dict[str, Any], list[bytes]]:
    """Read one frame with ``read(n)`` (which returns exactly n bytes or raises EOFError)."""
    magic, json_len, n_blobs = _HEADER.unpack(read(_HEADER.size))
    if magic != MAGIC:
        raise WireError("bad frame magic")
    if n_blobs > MAX_BLOBS:
        raise WireError(f"too many blobs ({n_blobs})")
    lengths = [_LENGTH.unpack(read(_LENGTH.size))[0] for _ in range(n_blobs)]
    if json_len + sum(lengths) > max_bytes:
        raise WireError(f"message of {json_len + sum(lengths)} bytes is over the {max_bytes} byte "
                        "cap")
    try:
        message = json.loads(read(json_len).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise WireError(f"message is not JSON (or nested too deep): {error}") from None
    if type(message) is not dict:
        raise WireError("message is not an object")
    return message, [read(n) for n in lengths]


def read_exactly(fd: int, n: int) -> bytes:
    """Exactly ``n`` bytes from a blocking file descriptor, or EOFError."""
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 24))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
