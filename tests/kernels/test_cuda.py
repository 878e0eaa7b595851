"""The cuda backend beyond the conformance test: host arrays refused, results kept on the device,
the import without numba-cuda or a GPU, every broadcast path, transposed and strided operands of
dot, NumPy's dtypes. Runs on a GPU, or under Numba's simulator (tests/conftest.py), on small shapes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.helpers.backends import available_backends
from tests.helpers.scripts import load_script
from toolkit.kernels import cuda_runtime

pytestmark = pytest.mark.skipif("cuda" not in available_backends(),
                                reason="no GPU and NUMBA_ENABLE_CUDASIM is not 1")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def cuda():
    from toolkit.kernels import get_backend
    return get_backend("cuda")


def rand(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)


def test_host_arrays_are_refused_not_copied(cuda):
    x = rand((3, 4))
    d = cuda.asarray(x)
    calls = [
        lambda: cuda.relu(x), lambda: cuda.sigmoid(x), lambda: cuda.add(x, d),
        lambda: cuda.add(d, x), lambda: cuda.mul(x, 2.0), lambda: cuda.dot(d, x.T),
        lambda: cuda.relu_grad(d, x), lambda: cuda.softmax(x), lambda: cuda.sum(x),
        lambda: cuda.relu([1.0, -1.0]), lambda: cuda.abs(np.float32(1)),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=r"host array.*cuda\.asarray\(x\) first"):
            call()
    with pytest.raises(TypeError, match="two Python scalars"):
        cuda.add(1.0, 2.0)


def test_results_stay_on_the_device(cuda):
    x, v = rand((2, 3, 4)), rand((4,), seed=1)
    dx, dv = cuda.asarray(x), cuda.asarray(v)
    assert cuda.is_device_array(dx) and not isinstance(dx, np.ndarray)
    out = cuda.softmax(cuda.relu(cuda.add(dx, dv)))
    assert cuda.is_device_array(out) and not isinstance(out, np.ndarray)
    assert not cuda.is_device_array(x)
    assert tuple(out.shape) == (2, 3, 4) and out.dtype == np.float32
    z = np.maximum(x + v, 0)
    e = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(cuda.to_numpy(out), e / e.sum(-1, keepdims=True), rtol=1e-5)
    assert cuda.asarray(dx) is dx  # already on the device: no copy
    as64 = cuda.asarray(dx, np.float64)  # converted on the device
    assert as64.dtype == np.float64 and cuda.is_device_array(as64)
    np.testing.assert_array_equal(cuda.to_numpy(as64), x.astype(np.float64))
    zeros = cuda.zeros((2, 5), np.int32)
    assert cuda.to_numpy(zeros).dtype == np.int32 and not cuda.to_numpy(zeros).any()


def test_broadcast_paths_agree_with_numpy(cuda):
    plan = cuda._broadcast_plan
    cases = {  # shapes -> the path the plan takes
        ((3, 4), (3, 4)): "same",
        ((64, 3, 2, 10), (2, 10)): "suffix",  # the book's, shortened
        ((2, 10), (4, 3, 2, 10)): "suffix",  # the small operand first
        ((3, 4), (1, 1)): "suffix",  # a single element
        ((3, 1), (1, 4)): "general",
        ((2, 1, 3), (4, 1)): "general",
        ((1, 2, 3, 1), (2, 1, 1, 5)): "general",
    }
    for (a_shape, b_shape), kind in cases.items():
        assert plan("add", a_shape, b_shape)[0] == kind, (a_shape, b_shape)
        a, b = rand(a_shape, seed=1), rand(b_shape, seed=2)
        da, db = cuda.asarray(a), cuda.asarray(b)
        for op, ref in (("sub", np.subtract), ("div", np.divide), ("maximum", np.maximum)):
            got = cuda.to_numpy(getattr(cuda, op)(da, db))
            np.testing.assert_allclose(got, ref(a, b), rtol=1e-6,
                                       err_msg=f"{op} {a_shape} {b_shape}")
    assert plan("add", (64, 3, 32, 10), (32, 10)) == ("suffix", (64, 3, 32, 10), (320, 0))
    x = rand((3, 4))
    np.testing.assert_allclose(cuda.to_numpy(cuda.sub(2.0, cuda.asarray(x))), 2 - x, rtol=1e-6)
    np.testing.assert_allclose(cuda.to_numpy(cuda.div(1, cuda.asarray(x))), 1 / x, rtol=1e-6)


def test_dtypes_follow_numpy(cuda):
    i32 = cuda.asarray(np.arange(-3, 3, dtype=np.int32))
    f32 = cuda.asarray(np.linspace(0.5, 3, 6, dtype=np.float32))
    assert cuda.relu(i32).dtype == np.int32 and cuda.abs(i32).dtype == np.int32
    assert cuda.sigmoid(i32).dtype == np.float64 and cuda.exp(f32).dtype == np.float32
    assert cuda.add(i32, 2).dtype == np.int32 and cuda.add(i32, 2.5).dtype == np.float64
    assert cuda.div(i32, i32).dtype == np.float64 and cuda.add(i32, f32).dtype == np.float64
    assert cuda.sum(i32).dtype == np.int64 and cuda.sum(f32).dtype == np.float32
    assert cuda.to_numpy(cuda.relu(i32)).tolist() == [0, 0, 0, 0, 1, 2]
    np.testing.assert_allclose(cuda.to_numpy(cuda.log(f32)), np.log(np.linspace(0.5, 3, 6)),
                               rtol=1e-6)
    special = cuda.asarray(np.array([0.0, -1.0, np.inf, -np.inf, np.nan, 1000.0]))
    with np.errstate(all="ignore"):
        for op in ("log", "sqrt", "exp", "sigmoid", "tanh"):
            want = getattr(get_numpy(), op)(np.array([0.0, -1.0, np.inf, -np.inf, np.nan, 1000.0]))
            np.testing.assert_allclose(cuda.to_numpy(getattr(cuda, op)(special)), want,
                                       rtol=1e-12, err_msg=op)


def get_numpy():
    from toolkit.kernels import get_backend
    return get_backend("numpy")


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_dot_transposed_strided_and_partial_tiles(cuda, trans_a, trans_b):
    """Sizes that leave partial tiles at every edge; operands read transposed in place and from
    strided device views (made contiguous on the device first)."""
    m, k, n = 19, 17, 18
    a = rand((k, m) if trans_a else (m, k), np.float64, seed=3)
    b = rand((n, k) if trans_b else (k, n), np.float64, seed=4)
    want = (a.T if trans_a else a) @ (b.T if trans_b else b)
    got = cuda.to_numpy(cuda.dot(cuda.asarray(a), cuda.asarray(b), trans_a, trans_b))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    wide = np.zeros(a.shape[:1] + (2 * a.shape[1],))
    wide[:, ::2] = a
    strided = cuda.asarray(wide)[:, ::2]
    assert not strided.is_c_contiguous()
    got = cuda.to_numpy(cuda.dot(strided, cuda.asarray(b), trans_a, trans_b))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_dot_float32_mixed_and_degenerate(cuda):
    a, b = rand((5, 3)), rand((3, 4), np.float64)
    out = cuda.dot(cuda.asarray(a), cuda.asarray(b))
    assert out.dtype == np.float64
    np.testing.assert_allclose(cuda.to_numpy(out), a.astype(np.float64) @ b, rtol=1e-12)
    empty_k = cuda.dot(cuda.asarray(np.ones((2, 0), np.float32)),
                       cuda.asarray(np.ones((0, 3), np.float32)))
    assert cuda.to_numpy(empty_k).tolist() == [[0.0] * 3] * 2


def test_reductions_over_several_blocks(cuda):
    x = rand((300,), seed=5)  # two blocks of partial sums, then one block over them
    np.testing.assert_allclose(cuda.to_numpy(cuda.sum(cuda.asarray(x))),
                               x.astype(np.float64).sum(), rtol=1e-5)
    rows = rand((1, 300), seed=6)  # a row longer than a block's threads
    e = np.exp(rows - rows.max(-1, keepdims=True))
    np.testing.assert_allclose(cuda.to_numpy(cuda.softmax(cuda.asarray(rows))),
                               e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    cube = rand((3, 4, 5), np.float64, seed=7)
    for axis in (0, 1, 2, -1):
        got = cuda.to_numpy(cuda.sum(cuda.asarray(cube), axis=axis, keepdims=True))
        np.testing.assert_allclose(got, cube.sum(axis=axis, keepdims=True), rtol=1e-12)


def test_strided_inputs_are_gathered_on_the_device(cuda):
    x = rand((3, 4, 6), seed=8)
    view = cuda.asarray(x)[:, 1:, ::3]
    np.testing.assert_array_equal(cuda.to_numpy(cuda.relu(view)), np.maximum(x[:, 1:, ::3], 0))
    np.testing.assert_allclose(cuda.to_numpy(cuda.add(view, 1.0)), x[:, 1:, ::3] + 1, rtol=1e-6)


def test_without_numba_cuda_the_module_imports_and_explains():
    """numba.cuda blocked in a fresh interpreter: the import works, the ops say what to install."""
    code = textwrap.dedent("""
        import sys
        sys.modules["numba.cuda"] = None
        from toolkit.kernels import get_backend
        cuda = get_backend("cuda")
        assert cuda.is_available() is False
        try:
            cuda.relu(None)
        except RuntimeError as error:
            print(error)
        else:
            raise SystemExit("relu did not raise")
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no GPU/CUDA is present" in result.stdout
    assert "pip install dlcourse-toolkit[cuda]" in result.stdout


@pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="this machine has a GPU")
def test_without_a_gpu_the_ops_say_so():
    code = ("from toolkit.kernels import cuda\n"
            "assert not cuda.is_available()\n"
            "try:\n    cuda.zeros((2,))\nexcept RuntimeError as e:\n    print(e)\n")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no NVIDIA GPU or CUDA driver is present" in result.stdout


def test_the_gpu_kernels_cache_is_stamped_with_the_packages_sources(tmp_path):
    """A cached CUDA kernel bakes in backend.py's op codes and other files' device functions:
    numba-cuda's cache, like the CPU's, stamps the package's kernels with all its sources, and
    leaves a function defined elsewhere on its own locator. (Only the locator is built: no GPU
    is needed.)"""
    (tmp_path / "outside.py").write_text("def kernel(x):\n    pass\n")
    code = textwrap.dedent(f"""
        import sys
        from toolkit.kernels import cuda_elementwise, cuda_runtime, jit
        from numba.cuda.dispatcher import CUDACacheImpl
        sys.path.insert(0, {str(tmp_path)!r})
        import outside
        ours, theirs = CUDACacheImpl(cuda_elementwise.relu_kernel).locator, \
            CUDACacheImpl(outside.kernel).locator
        assert type(ours).__name__.startswith("Package"), ours
        assert ours.get_source_stamp()[1] == jit.sources_stamp()
        assert not type(theirs).__name__.startswith("Package"), theirs
        print("stamped")
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stamped" in result.stdout


def test_simulator_is_not_reported_as_a_gpu():
    if cuda_runtime.SIMULATOR:
        assert not cuda_runtime.is_available()


def device_check():
    """benchmarks/device_check.py as a module."""
    return load_script("benchmarks/device_check.py")


@pytest.mark.slow
def test_device_check_runs_end_to_end_on_tiny_sizes(tmp_path, capsys):
    """benchmarks/device_check.py --tiny: every check and timing path of the one-call GPU check."""
    if not cuda_runtime.SIMULATOR:
        pytest.skip("on a GPU, run the full device check instead")
    out = tmp_path / "check.json"
    assert device_check().main(["--tiny", "--json", str(out)]) == 0, capsys.readouterr().out[-3000:]
    import json
    data = json.loads(out.read_text())
    assert len(data["checks"]) > 40 and all(check["ok"] for check in data["checks"])
    assert "relu_vs_copy" in data["ratios"] and "add (this backend, fast launch)" in data["timings"]
    assert "correctness: " in capsys.readouterr().out


def test_device_check_without_a_gpu_says_so_and_fails(capsys):
    if cuda_runtime.GPU:
        pytest.skip("this machine has a GPU")
    assert device_check().main([]) == 2
    assert "no GPU/CUDA here" in capsys.readouterr().err



def test_fast_launch_marshals_like_numba_and_the_pool_reuses_only_free_blocks():
    """Without a GPU, in a process without the simulator: the direct cuda.core launch builds the
    same raw arguments as Numba's own launcher, and the memory pool hands a block out again only
    after its array and every view of it are gone."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    script = os.path.join(ROOT, "tests", "helpers", "cuda_fast_path_check.py")
    result = subprocess.run([sys.executable, script], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "marshalling matches numba's launcher" in result.stdout
    assert "pool reuses freed blocks only" in result.stdout


def test_dot_with_two_shared_memory_stages():
    """The double-buffered GEMM (STAGES=2, a tuning choice of TOOLKIT_CUDA_GEMM_TILES) computes
    the same products, transposes and partial tiles included."""
    code = textwrap.dedent("""
        import numpy as np
        from toolkit.kernels import cuda, cuda_gemm
        rng = np.random.default_rng(9)
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((13, 21) if ta else (21, 13))
                b = rng.standard_normal((18, 13) if tb else (13, 18))
                got = cuda.to_numpy(cuda.dot(cuda.asarray(a), cuda.asarray(b), ta, tb))
                want = (a.T if ta else a) @ (b.T if tb else b)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert cuda_gemm.STAGES == 2
        print("two stages ok")
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", TOOLKIT_CUDA_GEMM_TILES="128,128,8,8,8,2")
    if cuda_runtime.GPU:
        env.pop("NUMBA_ENABLE_CUDASIM")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "two stages ok" in result.stdout
