"""autograder.asserts: the messages students see, the loop, toolkit and CUDA-kernel detectors on
real functions, notebook-cell functions, Numba dispatchers and the engine's proxies, and
robustness against hostile result objects."""

from __future__ import annotations

import inspect
import linecache
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.asserts import (
    assert_close,
    assert_does_not_call,
    assert_faster_than,
    assert_launches,
    assert_no_array_math,
    assert_no_float_errors,
    assert_no_loops,
    assert_not_toolkit,
    assert_numba_jit,
    assert_tiles_synchronized,
    measure_speed,
    source_of,
)
from autograder.asserts.speed import REFERENCE_CALLS


def cell_function(source: str, name: str, namespace: dict | None = None):
    """Define ``name`` from ``source`` the way IPython runs a notebook cell: compiled under a
    pseudo file name whose text is registered in linecache."""
    filename = f"<ipython-input-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"np": np} if namespace is None else namespace
    exec(compile(source, filename, "exec"), scope)
    return scope[name]


class Proxy:
    """What the grading engine hands to test cells: a callable carrying the student's source."""

    def __init__(self, source: str, result=None):
        self.__autograder_source__ = source
        self.result = result

    def __call__(self, *args):
        return self.result

    def __getattr__(self, name):  # a hostile object: every other attribute access explodes
        raise RuntimeError(f"attribute {name} must not be read")


# ---------------------------------------------------------------- assert_close


def test_assert_close_passes_within_tolerance_and_with_matching_nan():
    x = np.array([[1.0, np.nan], [np.inf, -np.inf]])
    assert_close(x + 1e-9, x, rtol=1e-6)
    assert_close(3, 3.0)
    assert_close([1, 2], np.array([1.0, 2.0]))


def test_assert_close_names_shape_mismatch_and_dtype():
    with pytest.raises(AssertionError, match=r"relu\(x\): shape \(3,\), expected shape \(3, 1\)"):
        assert_close(np.zeros(3), np.zeros((3, 1)), name="relu(x)")
    with pytest.raises(AssertionError, match="dtype float64, expected dtype float32"):
        assert_close(np.zeros(2), np.zeros(2, np.float32), check_dtype=True)


def test_assert_close_reports_errors_indices_values_input_and_hint():
    expected = np.arange(12.0).reshape(3, 4)
    actual = expected.copy()
    actual[1, 2] = 100.0
    actual[2, 0] = np.nan
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, name="dot(x, y)", inputs="x of shape (3, 4)",
                     hint="check the loop")
    message = str(info.value)
    assert "dot(x, y): 2 of 12 elements differ" in message
    assert "max abs error 94" in message
    assert "at (1, 2): got 100.0, expected 6.0" in message
    assert "NaN where a number was expected at [[2, 0]]" in message
    assert "input: x of shape (3, 4)" in message and "hint: check the loop" in message


def test_assert_close_reports_missing_nan_and_wrong_infinity():
    with pytest.raises(AssertionError, match=r"a number where NaN was expected at \[\[0\]\]"):
        assert_close(np.array([0.0]), np.array([np.nan]))
    with pytest.raises(AssertionError, match="got -inf, expected inf"):
        assert_close(np.array([-np.inf]), np.array([np.inf]))


@pytest.mark.parametrize("students", ["raise", "warn", "ignore"])
def test_assert_no_float_errors_fails_on_overflow_never_on_underflow(students):
    """Overflow, NaN from numbers and division by zero fail the block with the failure, the input,
    NumPy's own words and the hint; underflow to 0 passes, whatever the notebook set with
    np.seterr (and the notebook's setting is back afterwards)."""
    with np.errstate(all=students):
        with assert_no_float_errors("sigmoid overflowed"):
            assert np.exp(np.array([-1000.0]))[0] == 0.0
        for compute, words in ((lambda: np.exp(np.array([1000.0])), "overflow encountered in exp"),
                               (lambda: np.zeros(1) / np.zeros(1), "invalid value"),
                               (lambda: np.ones(1) / np.zeros(1), "divide by zero")):
            with pytest.raises(AssertionError) as failed:
                with assert_no_float_errors("it broke", inputs="x = [1000]", hint="shift first"):
                    compute()
            assert str(failed.value).startswith(f"it broke ({words}")
            assert str(failed.value).endswith(") on x = [1000]\n  hint: shift first")
        assert np.geterr() == {kind: students for kind in ("divide", "over", "under", "invalid")}


def test_assert_close_does_not_trust_result_objects():
    class Liar:
        def __eq__(self, other):
            return True

        __hash__ = None

    with pytest.raises(AssertionError, match="shape \\(\\), expected shape \\(2,\\)"):
        assert_close(Liar(), np.zeros(2))
    with pytest.raises(AssertionError, match="dtype object is not a number array"):
        assert_close(Liar(), np.float64(0.0))

    class Sub(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    fake = np.full(3, 7.0).view(Sub)
    with pytest.raises(AssertionError, match="3 of 3 elements differ"):
        assert_close(fake, np.zeros(3))

    class Unconvertible:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(AssertionError, match="could not be converted to an array: boom"):
        assert_close(Unconvertible(), np.zeros(1))


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6)), st.data())
def test_assert_close_finds_any_single_perturbed_element(x, data):
    assert_close(x.copy(), x, rtol=1e-9)
    index = tuple(data.draw(st.integers(0, n - 1)) for n in x.shape)
    y = x.copy()
    y[index] += 1.0 + abs(y[index])
    with pytest.raises(AssertionError) as info:
        assert_close(y, x, rtol=1e-9)
    assert f"1 of {x.size} elements differ" in str(info.value)
    assert f"at {index}:" in str(info.value)


# ---------------------------------------------------------------- sources and loops


def test_source_of_real_cell_numba_and_proxy_functions():
    def real(x):
        return x + 1

    assert "return x + 1" in source_of(real)
    in_cell = cell_function("def f(x):\n    return x * 2\n", "f")
    assert source_of(in_cell).startswith("def f(x):")
    numba = pytest.importorskip("numba")
    jitted = numba.njit(cell_function("def g(x):\n    return x - 1\n", "g"))
    assert "return x - 1" in source_of(jitted)
    assert source_of(Proxy("    def h(x):\n        return x\n")) == "def h(x):\n    return x\n"


def test_source_of_without_source_is_a_clear_failure():
    with pytest.raises(AssertionError, match="could not read the source of len"):
        source_of(len)


@pytest.mark.parametrize("body, what, line", [
    ("    out = x.copy()\n    for i in range(3):\n        out[i] = 0\n    return out\n",
     "a for loop", 3),
    ("    i = 0\n    while i < 3:\n        i += 1\n    return x\n", "a while loop", 3),
    ("    return np.array([v for v in x])\n", "a list comprehension", 2),
    ("    return sum(v for v in x)\n", "a generator expression", 2),
    ("    return {k: 1 for k in x}\n", "a dict comprehension", 2),
    ("    return np.vectorize(lambda v: v)(x)\n", "vectorize(), a Python loop in disguise", 2),
    ("    return list(map(abs, x))\n", "map(), a Python loop in disguise", 2),
    ("    import functools\n    return functools.reduce(max, x)\n",
     "reduce(), a Python loop in disguise", 3),
    ("    return [v for v in x.flat]\n", "a list comprehension", 2),
    ("    for i in range(x.shape[0]):\n        x[i] = 0\n    return x\n", "a for loop", 2),
    ("    return [v for n in x.shape for v in x]\n", "a list comprehension", 2),
    ("    return list(zip(x.shape, x))[0] + [i for i in range(3)]\n", "a list comprehension", 2),
    ("    return [v for v in (x[0], x[1])]\n", "a list comprehension", 2),
    ("    for a in (x, y):\n        for v in a:\n            pass\n    return x\n",
     "a for loop", 3),
])
def test_assert_no_loops_reports_the_construct_and_line(body, what, line):
    fn = cell_function("def relu(x):\n" + body, "relu")
    with pytest.raises(AssertionError) as info:
        assert_no_loops(fn)
    message = str(info.value)
    assert f"relu must be vectorized but has {what} on line {line}" in message
    assert "hint:" in message


@pytest.mark.parametrize("line", [
    "if any(n == 0 for n in np.shape(x)):\n        raise ValueError('empty')",
    "for axis in range(x.ndim - 1):\n        x = np.cumsum(x, axis=axis)",
    "assert all(a == b for a, b in zip(x.shape[1:], np.shape(x)[1:]))",
    "sizes = {axis: n for axis, n in enumerate(reversed(x.shape))}",
    "axes = [i for i in range(1, len(np.shape(x)))] + [k for k in range(np.ndim(x))]",
    "for a in (x, x.T):\n        pass",
    "for a, name in zip([x, x], ('x', 'y')):\n        assert np.size(a), name",
])
def test_assert_no_loops_lets_loops_over_the_dimensions_pass(line):
    """A loop over an array's shape or axes, or over values named one by one, is not a loop
    over its data."""
    source = f"def relu(x):\n    {line}\n    return np.maximum(x, 0)\n"
    assert_no_loops(cell_function(source, "relu"))
    assert_no_loops(Proxy(source), name="relu")


def test_assert_no_loops_accepts_vectorized_code_and_reads_proxies():
    assert_no_loops(cell_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu"))
    assert_no_loops(cell_function("def top(x):\n    return np.maximum.reduce(x, axis=-1)\n", "top"))
    assert_no_loops(Proxy("def relu(x):\n    return np.maximum(x, 0)\n"), name="relu")
    with pytest.raises(AssertionError, match="line 2"):
        assert_no_loops(Proxy("def relu(x):\n    return [max(v, 0) for v in x]\n"), name="relu")


def test_loops_hidden_in_a_helper_of_the_same_notebook_are_found():
    scope = {"np": np}
    cell_function("def helper(x):\n    out = x.copy()\n    for i in range(len(x)):\n"
                  "        out[i] = max(x[i], 0)\n    return out\n", "helper", scope)
    relu = cell_function("def relu(x):\n    return helper(x)\n", "relu", scope)
    with pytest.raises(AssertionError) as info:
        assert_no_loops(relu)
    assert ("relu must be vectorized but has a for loop on line 3 of the source of helper, which "
            "it calls" in str(info.value))
    assert_no_loops(cell_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu", scope))


#: Cells whose ``relu`` calls helpers: the loop (if any) the check must find, by its message.
HELPER_CELLS = {
    "loop in a private helper": (
        "def _rows(x):\n    return np.array([np.maximum(r, 0) for r in x])\n\n\n"
        "def relu(x):\n    return _rows(x)\n",
        "a list comprehension on line 2 of the source of _rows, which it calls"),
    "loop two helpers away": (
        "def inner(x):\n    for i in range(len(x)):\n        x[i] = max(x[i], 0)\n    return x\n"
        "\n\ndef outer(x):\n    return inner(x.copy())\n\n\ndef relu(x):\n    return outer(x)\n",
        "a for loop on line 2 of the source of inner, which it calls"),
    "vectorized helpers, one recursive": (
        "def clip(x):\n    return np.maximum(x, 0)\n\n\n"
        "def relu(x, depth=0):\n    return clip(x) if depth else relu(x, 1)\n", None),
    "a generator over the shape in a helper": (
        "def _check(x):\n    if any(n == 0 for n in np.shape(x)):\n"
        "        raise ValueError('empty')\n\n\n"
        "def relu(x):\n    _check(x)\n    return np.maximum(x, 0)\n", None),
    "a function named like a method it calls is not followed": (
        "def mean(values):\n    total = 0.0\n    for v in values:\n        total += v\n"
        "    return total / len(values)\n\n\n"
        "def relu(x):\n    return np.maximum(x - x.mean(axis=0), 0) + x.copy() * 0\n", None),
    "numpy, builtins and values are not followed": (
        "maximum = 0\nrows = [1, 2]\n\n\n"
        "def relu(x):\n    return np.maximum(x, maximum) + len(rows) * 0\n", None),
}


def engine_names(scope: dict) -> dict:
    """``scope`` as the grading engine hands it to test cells: each function the student defined
    as a proxy carrying its source and ``__autograder_globals__`` (this very mapping)."""
    names = {}
    for name, value in scope.items():
        if inspect.isfunction(value):
            value = Proxy(inspect.getsource(value))
            value.__autograder_globals__ = names
        names[name] = value
    return names


@pytest.mark.parametrize("cell, found", HELPER_CELLS.values(), ids=HELPER_CELLS)
def test_helpers_are_followed_alike_in_a_notebook_and_in_the_engine(cell, found):
    """In a notebook the check follows ``relu``'s globals; in the engine, the student's names that
    the proxy carries: both give the same verdict and message."""
    scope = {"np": np, "__name__": "__main__"}
    cell_function(cell, "relu", scope)
    for relu in (scope["relu"], engine_names(scope)["relu"]):
        if found is None:
            assert_no_loops(relu, name="relu")
            assert_not_toolkit(relu, name="relu")
        else:
            with pytest.raises(AssertionError, match=f"relu must be vectorized but has {found}"):
                assert_no_loops(relu, name="relu")


def test_a_proxy_without_the_students_names_reads_its_own_source_alone():
    scope = {"np": np, "__name__": "__main__"}
    cell_function(HELPER_CELLS["loop in a private helper"][0], "relu", scope)
    proxy = engine_names(scope)["relu"]
    del proxy.__autograder_globals__
    assert_no_loops(proxy, name="relu")


def test_proxies_carrying_a_whole_cell_check_the_named_function_and_its_helpers():
    cell = ("def naive(x):\n    return [v for v in x]\n\n\n"
            "def fast(x):\n    return np.maximum(x, 0)\n\n\n"
            "def wrapper(x):\n    return naive(x)\n")
    assert_no_loops(Proxy(cell), name="fast")
    with pytest.raises(AssertionError, match="line 2 of the source of naive, which it calls"):
        assert_no_loops(Proxy(cell), name="wrapper")


def test_assert_does_not_call():
    fn = cell_function("def tanh(x):\n    return np.tanh(x)\n", "tanh")
    with pytest.raises(AssertionError,
                       match=r"tanh uses `tanh` on line 2 of its source: `return np.tanh\(x\)`"):
        assert_does_not_call(fn, "tanh", hint="use exp")
    assert_does_not_call(cell_function("def tanh(x):\n    return 2 / (1 + np.exp(-2 * x)) - 1\n",
                                       "tanh"), "tanh")


def test_assert_numba_jit():
    pytest.importorskip("numba")
    assert_numba_jit(Proxy("@njit\ndef f(x):\n    return x\n"), name="f")
    jitted = cell_function("from numba import njit\n@njit(cache=False)\ndef f(x):\n    return x\n",
                           "f", {})
    assert_numba_jit(jitted)
    with pytest.raises(AssertionError, match="f is not compiled with Numba"):
        assert_numba_jit(cell_function("def f(x):\n    return x\n", "f"))


# ---------------------------------------------------------------- speed


def _sum_loop(x):
    total = 0.0
    for v in x:
        total += v
    return total


def test_assert_faster_than_passes_and_fails_with_cpu_timings():
    x = np.ones(20_000)
    assert_faster_than(np.sum, _sum_loop, (x,), factor=5, repeats=3)
    with pytest.raises(AssertionError) as info:
        assert_faster_than(_sum_loop, np.sum, (x,), factor=2, repeats=3, name="relu")
    message = str(info.value)
    assert ("relu took" in message and "expected at least 2 times" in message
            and "shapes (20000,)" in message)
    assert "measured: CPU time, the best of 3 calls" in message


def test_sleeping_is_not_work():
    """CPU time, not the wall clock: a function that waits (or is made to wait by a busy machine)
    measures what it computes."""
    def sleepy(x):
        time.sleep(0.02)
        return x.sum()

    assert measure_speed(sleepy, _sum_loop, (np.ones(20_000),), repeats=2).speedup > 5


def test_each_call_gets_fresh_arguments_and_the_reference_is_timed_once():
    calls = []

    def reference(x):
        calls.append(x.copy())
        return _sum_loop(x)

    def in_place(x):
        assert (x == 1).all()  # a copy of the original every time
        x[:] = 7

    x = np.ones(5_000)
    first = measure_speed(in_place, reference, (x,), repeats=2)
    second = measure_speed(in_place, reference, (x,), repeats=2)
    assert (x == 1).all() and all((c == 1).all() for c in calls)
    assert len(calls) == 1 + REFERENCE_CALLS  # the second measurement reused the reference's time
    assert first.reference_s == second.reference_s and "once per process" in second.reference_where
    measure_speed(in_place, reference, (np.ones(5_001),), repeats=1)  # another input: timed again
    assert len(calls) == 2 * (1 + REFERENCE_CALLS)


def test_assert_faster_than_gives_the_tests_hint():
    with pytest.raises(AssertionError, match=r"expected at least 2 times\n.*\n  hint: tile it$"):
        assert_faster_than(_sum_loop, np.sum, (np.ones(20_000),), factor=2, repeats=1,
                           hint="tile it")


def test_assert_faster_than_lets_student_errors_through_and_checks_arguments():
    def broken(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        assert_faster_than(broken, abs, (1.0,), factor=2)
    with pytest.raises(ValueError, match="repeats"):
        assert_faster_than(abs, abs, (1.0,), factor=2, repeats=0)


# ---------------------------------------------------------------- own work


def test_assert_not_toolkit_catches_imported_and_wrapped_implementations():
    from toolkit.kernels import numpy as tk_numpy

    with pytest.raises(AssertionError, match="comes from module toolkit.kernels.numpy"):
        assert_not_toolkit(tk_numpy.relu, name="relu")
    wrapped = cell_function("def relu(x):\n    return backend.relu(x)\n", "relu",
                            {"backend": tk_numpy, "np": np})
    with pytest.raises(AssertionError, match="`backend` is toolkit.kernels.numpy"):
        assert_not_toolkit(wrapped)
    with pytest.raises(AssertionError, match="`toolkit` on line 2 of its source"):
        assert_not_toolkit(Proxy("def relu(x):\n    return toolkit.kernels.numpy.relu(x)\n"),
                           name="relu")
    imported = Proxy("def relu(x):\n    return np.maximum(x, 0)\n")
    # what the engine's proxy of an imported function says
    imported.__module__ = "toolkit.kernels.numpy"
    with pytest.raises(AssertionError, match="it comes from module toolkit.kernels.numpy"):
        assert_not_toolkit(imported, name="relu")
    sourceless = Proxy(None)
    # the engine sends no source for non-notebook code
    sourceless.__module__ = "toolkit.kernels.numpy"
    with pytest.raises(AssertionError, match="it comes from module toolkit.kernels.numpy"):
        assert_not_toolkit(sourceless, name="relu")
    with pytest.raises(AssertionError, match="an import of toolkit.kernels on line 2"):
        assert_not_toolkit(Proxy("def relu(x):\n    from toolkit.kernels import get_backend\n"
                                 "    return get_backend('numpy').relu(x)\n"), name="relu")
    with pytest.raises(AssertionError) as info:
        assert_not_toolkit(wrapped)
    assert "write it yourself" in str(info.value) and "hint:" in str(info.value)
    scope = {"np": np, "backend": tk_numpy}
    cell_function("def helper(x):\n    return backend.softmax(x)\n", "helper", scope)
    outer = cell_function("def softmax(x):\n    return helper(x)\n", "softmax", scope)
    with pytest.raises(AssertionError, match="`backend` is toolkit.kernels.numpy"):
        assert_not_toolkit(outer)


def test_assert_not_toolkit_accepts_own_work_and_the_data_loaders():
    from toolkit.datasets import boston_housing

    assert_not_toolkit(cell_function("def relu(x):\n    return np.maximum(x, 0)\n", "relu"))
    uses_data = cell_function("def load():\n    return boston_housing.load_data()\n", "load",
                              {"boston_housing": boston_housing})
    assert_not_toolkit(uses_data)
    assert_not_toolkit(Proxy("def relu(x):\n    return np.maximum(x, 0)\n"), name="relu")


def test_the_processes_of_a_run_share_one_reference_time(tmp_path):
    from autograder import asserts
    from autograder.asserts import speed

    calls = []

    def reference(x):
        calls.append(1)
        return _sum_loop(x)

    x = np.ones(4_000)
    asserts.share_reference_times(tmp_path)
    try:
        first = measure_speed(np.sum, reference, (x,), repeats=1)
        speed._reference_times.clear()  # as in another process of the same run
        second = measure_speed(np.sum, reference, (x,), repeats=1)
    finally:
        asserts.share_reference_times(None)
    assert len(calls) == 1 + REFERENCE_CALLS and first.reference_s == second.reference_s
    assert "once per grading run" in second.reference_where


# ---------------------------------------------------------------- CUDA kernels

HOST = ("def gpu_relu(x, blocks=None, threads=16):\n"
        "    out = cuda.device_array(x.size, dtype=np.result_type(x))\n"
        "    relu_kernel[max(1, (x.size + threads - 1) // threads), "
        "threads](cuda.to_device(x.ravel()), out)\n"
        "    return out.copy_to_host().reshape(x.shape).astype(np.float32)\n")
TILED = """def matmul(a, b, c):
    a_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)
    b_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row, col = cuda.grid(2)
    total = 0.0
    for start in range(0, a.shape[1], TILE):
        if row < a.shape[0] and start + ty < a.shape[1]:
            a_tile[tx, ty] = a[row, start + ty]
        else:
            a_tile[tx, ty] = 0
        b_tile[tx, ty] = b[start + tx, col]
        cuda.syncthreads()
        for t in range(TILE):
            total += a_tile[tx, t] * b_tile[t, ty]
        cuda.syncthreads()
    c[row, col] = total
"""
FIRST_SYNC, SECOND_SYNC = ("        cuda.syncthreads()\n        for t",
                           "        cuda.syncthreads()\n    c[")


def test_assert_launches_accepts_host_code_that_moves_arrays_and_launches():
    assert_launches(Proxy(HOST), "relu_kernel", name="gpu_relu")
    assert_launches(cell_function(HOST, "gpu_relu"), "relu_kernel")


def test_assert_launches_requires_the_launch_of_the_named_kernel():
    through_a_name = HOST.replace("    relu_kernel[", "    launch = relu_kernel[").replace(
        "](cuda.to_device(x.ravel()), out)", "]\n    launch(cuda.to_device(x.ravel()), out)")
    assert_launches(Proxy(through_a_name), "relu_kernel", name="gpu_relu")
    with pytest.raises(AssertionError, match="gpu_relu does not launch relu_kernel"):
        assert_launches(Proxy(through_a_name.replace("    launch(", "    print(")), "relu_kernel",
                        name="gpu_relu")
    with pytest.raises(AssertionError) as info:
        assert_launches(Proxy(HOST.replace("relu_kernel[", "other_kernel[")), "relu_kernel",
                        name="gpu_relu")
    assert str(info.value).startswith("gpu_relu does not launch relu_kernel\n  hint:")
    assert "relu_kernel[blocks, threads](...) on them in gpu_relu itself" in str(info.value)


def test_the_kernel_checks_read_the_function_alone_as_the_engine_carries_it():
    """A real function's helpers are not followed: the engine's proxies carry only the function's
    own source, and nbgrader and the engine must judge the same text."""
    scope = {"np": np}
    cell_function("def launch(x, out):\n    relu_kernel[1, 16](x, out)\n"
                  "    return np.maximum(x, 0)\n",
                  "launch", scope)
    host = cell_function("def gpu_relu(x):\n    return launch(x, x)\n", "gpu_relu", scope)
    with pytest.raises(AssertionError, match="gpu_relu does not launch relu_kernel"):
        assert_launches(host, "relu_kernel")
    kernel = cell_function("def k(x, out):\n    i = cuda.grid(1)\n"
                           "    out[i] = np.maximum(x[i], 0)\n", "k", scope)
    host = cell_function("def gpu_k(x):\n    k[1, 16](x, x)\n    return x\n", "gpu_k",
                         {**scope, "k": kernel})
    assert_launches(host, "k")  # the kernel's scalar np.maximum is not host work


@pytest.mark.parametrize("line", [
    "return np.reshape(out.copy_to_host(), x.shape)",
    "return np.ravel(np.ascontiguousarray(x)).copy()",
    "np.copyto(np.empty_like(x), x)",
    "return np.atleast_1d(np.asanyarray(x)).ravel()",     # honest host code the audit found
    "return np.ascontiguousarray(x.T), np.transpose(x), np.expand_dims(x, 0).squeeze()",
    "blocks = int(min(np.ceil(x.size / threads), MAX_BLOCKS))",
    "n, m = x.shape[0], len(x)\n    n += 1\n"
    "    return np.prod(np.shape(x)) + math.ceil(n * m / threads)",
])
def test_assert_launches_lets_host_code_move_reshape_and_size(line):
    """NumPy that only moves, copies or reshapes arrays, or computes the launch's size from
    sizes, is host work too: the same verdict in a notebook and in the engine."""
    source = HOST.rsplit("    return", 1)[0] + f"    {line}\n"
    assert_launches(Proxy(source), "relu_kernel", name="gpu_relu")
    assert_launches(cell_function(source, "gpu_relu"), "relu_kernel")


@pytest.mark.parametrize("body, what", [
    ("    return np.maximum(x, 0)\n", "numpy.maximum"),
    ("    return np.maximum(out.copy_to_host(), 0)\n", "numpy.maximum"),
    ("    return np.sqrt(threads + np.sum(x))\n", "numpy.sqrt"),
    ("    return np.linalg.matmul(x, x)\n", "numpy.linalg.matmul"),
    ("    return np.broadcast_to(x, (2, 3))\n", "numpy.broadcast_to"),
    ("    return x * (x > 0)\n", "an operator on the whole array x"),
    ("    return -x\n", "an operator on the whole array x"),
    ("    return x.clip(0)\n", "`x.clip` of the whole array x"),
    ("    return out @ out\n", "the @ operator"),
])
def test_assert_launches_finds_arithmetic_on_the_host(body, what):
    source = HOST.rsplit("    return", 1)[0] + body
    with pytest.raises(AssertionError) as info:
        assert_launches(Proxy(source), "relu_kernel", name="gpu_relu")
    message = str(info.value)
    assert f"gpu_relu computes with {what} on line 4 of its source: `{body.strip()}`" in message
    assert ("this part asks for the arithmetic to run in the kernel\n"
            "  hint: a kernel computes" in message)


def test_assert_no_array_math_accepts_element_work_and_refuses_whole_arrays():
    assert_no_array_math(Proxy("def k(x, out):\n    i = cuda.grid(1)\n    if i < x.size:\n"
                               "        out[i] = np.maximum(x[i], np.float32(0))\n"), name="k")
    for line, what in (("out[:] = np.maximum(x, 0)", "numpy.maximum"),
                       ("out[:] = x + 1", "an operator on the whole array x"),
                       ("out[:] = x.sum()", "`x.sum` of the whole array x")):
        with pytest.raises(AssertionError, match=f"k computes with {what} on line 2 of its source"):
            assert_no_array_math(Proxy(f"def k(x, out):\n    {line}\n"), name="k")


def test_a_kernel_calls_cudas_functions_through_the_module_as_the_simulator_has_them():
    """``from numba.cuda import syncthreads`` works on a GPU and not on the simulator: the check
    fails it everywhere, so that a grader with a GPU and one without agree. The kernel's own
    names (a variable or parameter named grid or local) are its own."""
    assert_no_array_math(Proxy("def k(x, out):\n    grid = cuda.grid(1)\n    i = grid\n"
                               "    cuda.syncthreads()\n    out[i] = x[i]\n"), name="k")
    assert_no_array_math(Proxy("def k(x, out, local, shared=0):\n    i = cuda.grid(1)\n"
                               "    out[i] = x[i] + local[i] + shared\n"), name="k")
    for line, used in (("cuda.syncthreads(); syncthreads()", "syncthreads"),
                       ("i = grid(1)", "grid"), ("t = threadIdx.x", "threadIdx")):
        with pytest.raises(AssertionError, match=f"k uses `{used}`, not cuda.{used}, on line 2 "
                                                 f"of its source(.|\\n)*write cuda.{used}"):
            assert_no_array_math(Proxy(f"def k(x, out):\n    {line}\n"), name="k")


def test_kernel_checks_read_numba_cuda_kernels():
    cuda = pytest.importorskip("numba.cuda")
    kernel = cuda.jit(cell_function("def k(x, out):\n    out[:] = x * 2\n", "k"))
    with pytest.raises(AssertionError, match="k computes with an operator on the whole array x"):
        assert_no_array_math(kernel)
    assert_tiles_synchronized(cuda.jit(cell_function(TILED, "matmul", {"TILE": 4})))


def test_assert_tiles_synchronized_accepts_both_barriers():
    assert_tiles_synchronized(Proxy(TILED), name="matmul")
    declared = ("    a_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n"
                "    b_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n")
    for other in ("    a_tile, b_tile = (cuda.shared.array((TILE, TILE), c.dtype),\n"
                  "                      cuda.shared.array((TILE, TILE), c.dtype))\n",
                  "    tiles = cuda.shared.array((2, TILE, TILE), dtype=c.dtype)\n"
                  "    a_tile, b_tile = tiles[0], tiles[1]\n"):
        source = TILED.replace(declared, other)
        assert_tiles_synchronized(Proxy(source), name="matmul", simulator=True)
        with pytest.raises(AssertionError, match="reads a shared tile that other threads"):
            assert_tiles_synchronized(Proxy(source.replace(FIRST_SYNC, "        for t")),
                                      name="matmul")


def test_on_the_simulator_shared_arrays_declared_on_one_line_are_refused_with_the_reason():
    """The simulator gives shared arrays declared on one line the same memory: on a GPU such a
    kernel is right, on the simulator its results are wrong, and the check says why."""
    one_line = TILED.replace(
        "    a_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n"
        "    b_tile = cuda.shared.array((TILE, TILE), dtype=c.dtype)\n",
        "    a_tile, b_tile = cuda.shared.array((TILE, TILE), c.dtype), "
        "cuda.shared.array((TILE, TILE), c.dtype)\n")
    assert_tiles_synchronized(Proxy(one_line), name="matmul")
    assert_tiles_synchronized(Proxy(TILED), name="matmul", simulator=True)
    with pytest.raises(AssertionError) as info:
        assert_tiles_synchronized(Proxy(one_line), name="matmul", simulator=True)
    assert str(info.value).startswith(
        "matmul declares 2 shared arrays on line 2 of its source: `a_tile, b_tile = "
        "cuda.shared.array((TILE, TILE), c.dtype), cuda.shared.array((TILE, TILE), c.dtype)`: "
        "Numba's CUDA simulator, on which these tests run, gives the arrays declared on one line "
        "the same memory\n  hint: declare each shared array on its own line")


@pytest.mark.parametrize("missing, race, line", [
    ((FIRST_SYNC, SECOND_SYNC),
     "reads a shared tile that other threads may not have finished writing", 14),
    ((FIRST_SYNC,), "reads a shared tile that other threads may not have finished writing", 14),
    ((SECOND_SYNC,), "writes a shared tile that other threads may still be reading", 9),
])
def test_assert_tiles_synchronized_finds_each_missing_barrier(missing, race, line):
    source = TILED
    for barrier in missing:
        source = source.replace(barrier, barrier.replace("        cuda.syncthreads()\n", ""))
    with pytest.raises(AssertionError) as info:
        assert_tiles_synchronized(Proxy(source), name="matmul")
    message = str(info.value)
    assert message.startswith(f"matmul {race}: no cuda.syncthreads() before line {line} of its "
                              "source")
    assert "a race need not show in the results" in message


def test_assert_tiles_synchronized_requires_shared_tiles_used_in_a_loop():
    with pytest.raises(AssertionError,
                       match="matmul does not use shared memory\n  hint: .*cuda.shared.array"):
        assert_tiles_synchronized(Proxy("def matmul(a, b, c):\n    i, j = cuda.grid(2)\n"
                                        "    c[i, j] = 0\n"),
                                  name="matmul")
    once = ("def matmul(a, b, c):\n    t = cuda.shared.array((4, 4), dtype=c.dtype)\n"
            "    t[0, 0] = a[0, 0]\n    cuda.syncthreads()\n    c[0, 0] = t[0, 0]\n")
    with pytest.raises(AssertionError, match=r"matmul does not write its shared tiles \(t\) and "
                                             r"read them back in a loop"):
        assert_tiles_synchronized(Proxy(once), name="matmul")
