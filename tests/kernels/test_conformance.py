"""Every op of every backend against a float64 NumPy reference, on hypothesis-generated inputs.

Inputs vary in shape (any rank, empty, broadcast), dtype (float32, float64, int32, int64), layout
(contiguous or strided views) and values (NaN and infinities included). The expected result is the
op computed in float64 and cast to NumPy's result dtype, so overflow to inf agrees too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.helpers.backends import BACKEND_LIMITS, available_backends
from toolkit.kernels import OPS, get_backend
from toolkit.kernels.backend import BINARY, UNARY

BACKENDS = available_backends()
FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)

REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
}
#: Input ranges that keep each op's float64 reference meaningful.
RANGE = {"exp": 60.0, "sigmoid": 200.0, "tanh": 50.0}


def settings_for(backend: str):
    limits = BACKEND_LIMITS[backend]
    return settings(max_examples=limits["examples"], deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def arrays(draw, shape, dtypes=FLOATS + INTS, bound=1e3, special=True):
    """An array of ``shape``: sometimes a strided (non-contiguous) view, sometimes with NaN/inf."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    strided = draw(st.booleans()) and len(shape) > 0
    full = shape[:-1] + (shape[-1] * 2,) if strided else shape
    if dtype.kind == "f":
        elements = st.floats(-bound, bound, width=dtype.itemsize * 8, allow_nan=False)
        if special:
            elements = elements | st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])
    else:
        elements = st.integers(-100, 100)
    x = draw(hnp.arrays(dtype, full, elements=elements))
    return x[..., ::2] if strided else x


def shapes(backend: str, min_dims=0):
    limits = BACKEND_LIMITS[backend]
    return hnp.array_shapes(min_dims=min_dims, max_dims=limits["dims"], min_side=0,
                            max_side=limits["side"])


def expected_unary(op: str, x: np.ndarray) -> np.ndarray:
    dtype = getattr(get_backend("numpy"), op)(np.ones(1, x.dtype)).dtype
    with np.errstate(all="ignore"):
        return REFERENCE[op](x.astype(np.float64)).astype(dtype)


def run(backend: str, op: str, *args, **kwargs) -> np.ndarray:
    """The op on ``backend``, inputs moved there and the result brought back."""
    b = get_backend(backend)
    moved = [b.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    return b.to_numpy(getattr(b, op)(*moved, **kwargs))


def assert_close(got: np.ndarray, want: np.ndarray, atol: float | np.ndarray = 0.0):
    assert got.dtype == want.dtype, f"dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    rtol = 1e-5 if want.dtype == np.float32 else 1e-12
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=np.maximum(atol, rtol),
                                   equal_nan=True, strict=False)


def test_every_backend_implements_every_op():
    for name in BACKENDS:
        backend = get_backend(name)
        missing = [op for op in OPS if not callable(getattr(backend, op, None))]
        assert not missing, f"backend {name} lacks {missing}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", UNARY)
def test_unary(backend, op):
    @settings_for(backend)
    @given(st.data())
    def check(data):
        x = data.draw(arrays(data.draw(shapes(backend)), bound=RANGE.get(op, 1e3)))
        assert_close(run(backend, op, x), expected_unary(op, x))

    check()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", BINARY)
def test_binary_broadcasting(backend, op):
    limits = BACKEND_LIMITS[backend]

    @settings_for(backend)
    @given(st.data())
    def check(data):
        pair = data.draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, max_dims=limits["dims"], max_side=limits["side"]))
        a_shape, b_shape = pair.input_shapes
        a, b = data.draw(arrays(a_shape)), data.draw(arrays(b_shape))
        want_dtype = (np.result_type(a, b) if op != "div"
                      else np.divide(np.ones(1, a.dtype), np.ones(1, b.dtype)).dtype)
        with np.errstate(all="ignore"):
            want = REFERENCE[op](a.astype(np.float64), b.astype(np.float64)).astype(want_dtype)
        if want_dtype.kind in "iu":  # integer results wrap as NumPy's do
            want = REFERENCE[op](a, b).astype(want_dtype)
        assert_close(run(backend, op, a, b), want)

    check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_binary_with_python_scalar(backend):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for op in BINARY:
        got = run(backend, op, x, 2.0)
        assert got.dtype == np.float32, f"{op}(float32, 2.0) gave {got.dtype}"
        np.testing.assert_allclose(got, REFERENCE[op](x, np.float32(2.0)), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_books_broadcast(backend):
    """The book's example: (64, 3, 32, 10) + (32, 10)."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 3, 32, 10), dtype=np.float32)
    y = rng.random((32, 10), dtype=np.float32)
    if backend in ("naive", "cuda") and BACKEND_LIMITS[backend]["side"] < 64:
        x = x[:2]
    assert_close(run(backend, "add", x, y), x + y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_grad(backend):
    @settings_for(backend)
    @given(st.data())
    def check(data):
        shape = data.draw(shapes(backend))
        x = data.draw(arrays(shape, dtypes=FLOATS))
        grad = data.draw(arrays(shape, dtypes=(x.dtype,), special=False))
        assert_close(run(backend, "relu_grad", x, grad),
                     np.where(x > 0, grad, 0).astype(grad.dtype))

    check()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_dot(backend, trans_a, trans_b):
    side = BACKEND_LIMITS[backend]["dot_side"]

    @settings_for(backend)
    @given(st.data())
    def check(data):
        m, k, n = (data.draw(st.integers(0, side)) for _ in range(3))
        dtype = data.draw(st.sampled_from(FLOATS))
        a = data.draw(arrays((k, m) if trans_a else (m, k), dtypes=(dtype,), special=False))
        b = data.draw(arrays((n, k) if trans_b else (k, n), dtypes=(dtype,), special=False))
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        a64, b64 = (a64.T if trans_a else a64), (b64.T if trans_b else b64)
        eps = np.finfo(dtype).eps
        # rounding of k products and sums, plus subnormals that may be flushed to zero
        bound = 4 * (k + 1) * (eps * (np.abs(a64) @ np.abs(b64)) + np.finfo(dtype).tiny)
        got = run(backend, "dot", a, b, trans_a=trans_a, trans_b=trans_b)
        assert got.dtype == dtype and got.shape == (m, n)
        assert np.all(np.abs(got - a64 @ b64) <= bound), "dot differs from the float64 product"

    check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax(backend):
    @settings_for(backend)
    @given(st.data())
    def check(data):
        x = data.draw(arrays(data.draw(shapes(backend, min_dims=1)), dtypes=FLOATS, special=False))
        x64 = x.astype(np.float64)
        if x.size:
            e = np.exp(x64 - x64.max(axis=-1, keepdims=True))
            want = (e / e.sum(axis=-1, keepdims=True)).astype(x.dtype)
        else:
            want = x.copy()
        got = run(backend, "softmax", x)
        assert_close(got, want, atol=1e-6)

    check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_large_logits_and_nan(backend):
    x = np.array([[1000.0, 1000.0], [-1000.0, 0.0], [np.nan, 1.0]], dtype=np.float32)
    got = run(backend, "softmax", x)
    np.testing.assert_allclose(got[:2], [[0.5, 0.5], [0.0, 1.0]], atol=1e-7)
    assert np.isnan(got[2]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sum(backend):
    @settings_for(backend)
    @given(st.data())
    def check(data):
        x = data.draw(arrays(data.draw(shapes(backend)), special=False))
        axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1))) if x.ndim else None
        keepdims = data.draw(st.booleans())
        want_dtype = np.sum(x, axis=axis, keepdims=keepdims).dtype
        want = np.sum(x.astype(np.float64), axis=axis, keepdims=keepdims)
        bound = (x.size + 1) * np.finfo(np.float32).eps * np.sum(np.abs(x.astype(np.float64)),
                                                                  axis=axis, keepdims=keepdims)
        got = run(backend, "sum", x, axis=axis, keepdims=keepdims)
        assert got.dtype == want_dtype and got.shape == want.shape
        assert np.all(np.abs(got - want) <= bound + 1e-9), f"sum differs: {got} against {want}"

    check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_keeps_nan(backend):
    x = np.array([np.nan, -1.0, 0.0, 2.0], dtype=np.float32)
    got = run(backend, "relu", x)
    assert np.isnan(got[0]) and got[1:].tolist() == [0.0, 0.0, 2.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_names_the_problem(backend):
    b = get_backend(backend)
    x, y = b.asarray(np.zeros((3, 4), np.float32)), b.asarray(np.zeros((5,), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        b.add(x, y)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 4\)"):
        b.dot(x, x)
    with pytest.raises(ValueError, match="2-D"):
        b.dot(y, x)
    with pytest.raises(ValueError, match="axis 2"):
        b.sum(x, axis=2)
    with pytest.raises(TypeError, match="bool"):
        b.relu(b.asarray(np.zeros(3, bool)))
    with pytest.raises(TypeError, match="complex"):
        b.add(b.asarray(np.zeros(3, np.complex64)), 1.0)
