"""The wire format: plain data round-trips exactly; nothing else crosses."""

from __future__ import annotations

import collections
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.engine import wire

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20))
arrays = hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
values = st.recursive(scalars | arrays, lambda inner: st.lists(inner, max_size=3)
                      | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=3),
                      max_leaves=10)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None)
@given(values)
def test_plain_values_round_trip_through_a_frame(value):
    tree, blobs = wire.encode(value)
    frame = io.BytesIO(wire.pack({"v": tree}, blobs))
    message, got_blobs = wire.unpack(lambda n: frame.read(n))
    assert same(value, wire.decode(message["v"], got_blobs))


def test_numpy_scalars_and_non_contiguous_arrays():
    for value in (np.float64(1.5), np.int32(-3), np.bool_(True),
                  np.arange(12).reshape(3, 4)[:, ::2]):
        tree, blobs = wire.encode(value)
        got = wire.decode(tree, blobs)
        assert type(got) is type(value) and np.array_equal(got, value)


def test_array_subclasses_cross_as_np_asarray_sees_them():
    """A masked array (np.ma.divide's) or a student's own subclass crosses as its plain
    array, what ``np.asarray`` gives the test in a notebook, never the subclass itself."""
    class Sub(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    d = np.array([0.0, -2.0, 3.0])
    for value, plain in ((np.ma.divide(d, np.abs(d)), [0.0, -1.0, 1.0]),
                         (np.arange(3.0).view(Sub), [0.0, 1.0, 2.0])):
        got = wire.decode(*wire.encode(value))
        assert type(got) is np.ndarray and got.tolist() == plain == np.asarray(value).tolist()


def test_subclasses_and_objects_do_not_cross():
    class Liar:
        def __eq__(self, other):
            return True

    class Mapping(dict):
        pass

    for value in (Liar(), np.array([object()]), lambda: 0, Mapping(),
                  collections.defaultdict(lambda: 0), bytearray(b"x")):
        with pytest.raises(wire.Unencodable):
            wire.encode(value)
    kept = []
    tree, _ = wire.encode([Liar()], handle=lambda o: kept.append(o) or 7)
    assert tree == [{"__h": 7}] and isinstance(kept[0], Liar)


def test_pickled_and_malformed_blobs_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for tree, blobs in (({"__a": 0}, [buffer.getvalue()]), ({"__a": 0}, [b"garbage"]),
                        ({"__a": 3}, []), ({"__x": 1}, []),
                        ({"__s": 0}, [wire.encode(np.zeros(2))[1][0]]), ({"__h": 1}, [])):
        with pytest.raises(wire.WireError):
            wire.decode(tree, blobs)


def test_caps():
    with pytest.raises(wire.Unencodable, match="transfer cap"):
        wire.encode(np.zeros(1000), max_bytes=1000)
    nested = []
    for _ in range(wire.MAX_DEPTH + 2):
        nested = [nested]
    with pytest.raises(wire.Unencodable, match="deeper"):
        wire.encode(nested)
    frame = io.BytesIO(wire.pack({"v": 1}, [b"x" * 5000]))
    with pytest.raises(wire.WireError, match="cap"):
        wire.unpack(lambda n: frame.read(n), max_bytes=1000)
    with pytest.raises(wire.WireError, match="magic"):
        wire.unpack(lambda n: b"\0" * n)
    deep = b'{"v":' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # a child's own bytes
    frame = io.BytesIO(wire._HEADER.pack(wire.MAGIC, len(deep), 0) + deep)
    with pytest.raises(wire.WireError, match="nested too deep"):
        wire.unpack(frame.read)
    with pytest.raises(wire.WireError, match="too deep"):
        wire.blob_indices(nested)


def test_array_cache_sends_a_repeated_argument_once():
    sender, receiver = wire.ArrayCache(min_bytes=16), wire.ArrayCache(min_bytes=16)
    x = np.arange(100.0)
    first = wire.encode(x, cache=sender)
    second = wire.encode(x, cache=sender)
    assert "__A" in first[0] and second == ({"__k": first[0]["__A"][1]}, [])
    a = wire.decode(*first, cache=receiver)
    a[:] = -1  # what a student does to its copy does not change what the next call receives
    assert np.array_equal(wire.decode(*second, cache=receiver), x)
    changed = x.copy()
    changed[5] = 0
    assert "__A" in wire.encode(changed, cache=sender)[0]
    with pytest.raises(wire.WireError):
        wire.decode(*second)  # the grader's own decoder accepts no cache tags


def test_the_standard_librarys_plain_containers_keep_their_type():
    """What honest code returns (k-fold ranges, a vocabulary set, word counts, early stopping's
    named tuple) crosses as itself:
    a proxy in its place compares unequal to everything."""
    counts = collections.Counter("abca")
    stop = collections.namedtuple("StopResult", ["stopped_epoch", "best_epoch"])(4, 2)
    value = [range(2, 9, 3), {1, (2, 3)}, frozenset({"a"}), b"\x00y", counts,
             collections.OrderedDict(b=1, a=2), collections.defaultdict(list, {"k": [1]}), stop]
    tree, blobs = wire.encode(value)
    message, blobs = wire.unpack(io.BytesIO(wire.pack({"v": tree}, blobs)).read)
    back = wire.decode(message["v"], blobs)
    assert back == value and [type(x).__name__ for x in back] == [type(x).__name__ for x in value]
    assert back[4]["z"] == 0 and back[6]["new"] == [] and list(back[5]) == ["b", "a"]
    assert back[7].best_epoch == 2 and repr(back[7]) == "StopResult(stopped_epoch=4, best_epoch=2)"
    for bad in ({"__r": [0, 5, 0]}, {"__set": [[1]]}, {"__dd": ["eval", []]}, {"__b": 3},
                {"__nt": ["a b", ["x"], [1]]}, {"__nt": ["T", ["x", "y"], [1]]},
                {"__nt": ["T", ["def"], [1]]}, {"__nt": ["T", ["x"], 1]}):
        with pytest.raises(wire.WireError):
            wire.decode(bad, [])


def test_cached_arrays_are_told_apart_by_all_their_bytes():
    """Two one-hot matrices with the same number of ones and the same sum of positions (two
    labels swapped past the first 4 KB) are two arrays."""
    sender, receiver = wire.ArrayCache(), wire.ArrayCache()
    labels = np.arange(1000) % 10
    swapped = labels.copy()
    swapped[[600, 700]] = labels[[700, 600]]
    for y in (np.eye(10)[labels], np.eye(10)[swapped]):
        assert np.array_equal(wire.decode(*wire.encode(y, cache=sender), cache=receiver), y)


def test_cached_arrays_keep_their_places_among_other_values():
    """A large array given by keyword after positional arguments: its blob index is moved with
    the others', so it arrives as itself."""
    sender, receiver = wire.ArrayCache(min_bytes=16), wire.ArrayCache(min_bytes=16)
    args, blobs = wire.encode([np.ones(3), np.zeros(40)], cache=sender)
    kwargs, extra = wire.encode({"w": np.full(50, 2.0)}, cache=sender)
    kwargs = wire.shift(kwargs, len(blobs))
    got = wire.decode([args, kwargs], blobs + extra, cache=receiver)
    assert np.array_equal(got[1]["w"], np.full(50, 2.0)) and np.array_equal(got[0][1], np.zeros(40))


def test_the_caches_agree_whatever_is_decoded_how_often():
    """Each side charges an array once: decoding one message many times (fresh copies for a
    speed test's calls) overflows nothing, and a key taken for a value that could not be sent
    is forgotten, so the next message sends the array again."""
    sender, receiver = wire.ArrayCache(budget=2000, min_bytes=16), wire.ArrayCache(budget=2000)
    x = np.arange(100.0)  # 800 of the 2000 bytes
    message = wire.encode(x, cache=sender)
    for _ in range(5):
        assert np.array_equal(wire.decode(*message, cache=receiver), x)
    y = np.arange(100.0) + 1
    with pytest.raises(wire.Unencodable):
        wire.encode([y, lambda: 0], cache=sender)
    assert sender.budget == receiver.budget == 1200
    again = wire.encode(y, cache=sender)
    assert "__A" in again[0] and np.array_equal(wire.decode(*again, cache=receiver), y)


def test_the_servant_answers_every_request_the_protocol_declares():
    from autograder.engine import protocol
    from autograder.engine.servant import Servant

    handled = {name[3:] for name in vars(Servant) if name.startswith("op_")}
    assert handled | {"end"} == set(protocol.REQUESTS)
    with pytest.raises(TypeError, match="takes"):
        protocol.request("call", h=1)


number_lists = st.lists(st.lists(st.integers(), min_size=14, max_size=40)
                        | st.lists(st.floats(), min_size=14, max_size=40)
                        | st.lists(st.integers(-3, 3) | st.booleans(), min_size=14, max_size=40),
                        max_size=4)


def exactly(a, b) -> bool:
    """Equal, item types and the sign of zero included (a NaN's sign JSON does not keep)."""
    if type(a) is list:
        return type(b) is list and len(a) == len(b) and all(map(exactly, a, b))
    if type(a) is float and a != a:
        return type(b) is float and b != b
    if type(a) is float:
        return type(b) is float and np.float64(a).tobytes() == np.float64(b).tobytes()
    return type(a) is type(b) and a == b


@settings(max_examples=80, deadline=None)
@given(number_lists)
def test_lists_of_numbers_cross_exactly_as_raw_slices(value):
    """Long lists of ints or floats cross as slices of one raw blob per type (the book's IMDB
    sequences), with each item's type and bits; ints past int64, and lists of mixed types or
    bools, cross as JSON; several values in one message keep their own slices."""
    tree, blobs = wire.encode(value)
    frame = io.BytesIO(wire.pack({"v": wire.shift(tree, 1)}, [b"other", *blobs]))
    message, got_blobs = wire.unpack(lambda n: frame.read(n))
    assert exactly(value, wire.decode(message["v"], got_blobs))
    sliced = [x for x in value if len(x) >= wire.MIN_NUMBERS and len({type(i) for i in x}) == 1
              and (type(x[0]) is float or (type(x[0]) is int and all(
                  -2**63 <= i < 2**63 for i in x)))]
    assert len(blobs) == len({type(x[0]) for x in sliced})


def test_a_slice_takes_its_numbers_once_and_from_its_own_blob():
    tree, blobs = wire.encode([list(range(20)), list(range(20))])
    assert tree == [{"__li": [0, 0, 20]}, {"__li": [0, 20, 20]}]
    for bad, blob in (([{"__li": [0, 0, 40]}, {"__li": [0, 0, 40]}], blobs),  # taken again
                      ([{"__li": [0, 30, 20]}], blobs), ([{"__li": [0, -1, 2]}], blobs),
                      ([{"__lf": [0, 0, 2]}], [b"x" * 7]), ([{"__li": [1, 0, 1]}], blobs),
                      ([{"__li": [0, 0]}], blobs), ([{"__li": [0, 0, 1.0]}], blobs)):
        with pytest.raises(wire.WireError):
            wire.decode(bad, blob)
    assert wire.blob_indices(tree) == [0]


keys = st.text(max_size=8) | st.integers() | st.tuples(st.integers(), st.text(max_size=3))
items_values = st.integers() | st.floats() | st.text(max_size=8) | st.lists(st.integers(),
                                                                            max_size=20)
big_dicts = st.sampled_from([dict, collections.OrderedDict, collections.Counter]).flatmap(
    lambda kind: st.dictionaries(keys, items_values, min_size=10, max_size=40).map(kind))


@settings(max_examples=80, deadline=None)
@given(big_dicts, st.lists(st.text(max_size=8), min_size=10, max_size=40))
def test_dicts_and_lists_of_strings_cross_exactly_from_any_size(value, words):
    """From MIN_ITEMS items on, a dict crosses as a list of keys and one of values, and a list of
    strings as one JSON list (the book's IMDB word index, its reviews as words): each keeps its
    type, its order and every item's type and bits."""
    tree, blobs = wire.encode([value, words])
    message, got_blobs = wire.unpack(io.BytesIO(wire.pack({"v": tree}, blobs)).read)
    back, back_words = wire.decode(message["v"], got_blobs)
    assert type(back) is type(value) and list(back) == list(value)
    assert all(exactly(list(a) if type(a) is tuple else a, list(b) if type(b) is tuple else b)
               for a, b in zip([*value.values(), *value], [*back.values(), *back]))
    assert back_words == words and all(type(w) is str for w in back_words)
    assert ("__cols" in str(tree[0])) == (len(value) >= wire.MIN_ITEMS)


def test_malformed_dict_columns_are_refused():
    keys = [f"k{i}" for i in range(20)]
    for bad in ({"__cols": [keys, list(range(19))]}, {"__cols": [[[1]] * 20, list(range(20))]},
                {"__cols": [keys]}, {"cols": [keys, keys]}, {"__cols": ["k", "v"]},
                {"__cols": [[2**61 - 1 + (2**61 - 1) * i for i in range(100)], list(range(100))]}):
        with pytest.raises(wire.WireError):
            wire.decode({"__d": bad}, [])
    assert wire.decode({"__d": {"__cols": [keys, keys]}}, []) == dict(zip(keys, keys))


rows = (st.lists(st.integers(), max_size=30) | st.lists(st.floats(), max_size=30)
        | st.lists(st.integers(-3, 3) | st.booleans(), max_size=5))


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=14, max_size=40), st.sampled_from([int, float]))
def test_rows_of_numbers_cross_exactly_from_one_pass(value, kind):
    """From MIN_ITEMS rows on, a list of lists of one kind of number is checked and converted in
    one pass (the book's IMDB sequences); rows of any other kind, or mixed, cross as they would
    alone, each item's type and bits kept."""
    uniform = [[kind(i) for i in range(n)] for n in range(len(value))]
    for case in (value, uniform):
        tree, blobs = wire.encode(case)
        message, got_blobs = wire.unpack(io.BytesIO(wire.pack({"v": tree}, blobs)).read)
        assert exactly(case, wire.decode(message["v"], got_blobs))
    if len(uniform) >= wire.MIN_ITEMS:
        tree, blobs = wire.encode(uniform)
        assert len(blobs) == 1 and all(len(row) == 1 for row in tree)  # each row one slice
