"""The whole GPU check of the cuda backend in one call: every op against NumPy at realistic sizes,
then the issue's three speed ratios, each against its peer measured side by side in this run.

1. relu, float32, 2^28 elements, against device-to-device copy bandwidth (cuMemcpyDtoD through
   Numba and CuPy's copy, the faster counts); bytes read plus bytes written, as for the copy.
2. dot, float32, n = 4096, against cuBLAS SGEMM through CuPy with TF32 off (checked: its error
   must be FP32's), and PyTorch's matmul with TF32 off where PyTorch is there; the transposed
   variants too.
3. the book's broadcast (64, 3, 32, 10) + (32, 10) per call on device arrays (a loop of calls, then
   one synchronize: what a training step sees) against CuPy's ``x + v`` and PyTorch's, and against
   this backend through Numba's own dispatcher (TOOLKIT_CUDA_FAST_LAUNCH=0's path).

Kernel compile time (or loading from Numba's cache) and host<->device transfer times are reported
apart. Timings are medians of repeats after a warm-up (CUDA events for single kernels). Exit code:
0 when every correctness check passed, 1 when one failed, 2 when there is no GPU.

On the device machine it runs in ONE call with issue 14's grading check and the cuda tests:
benchmarks/device_run.sh says how (estimated, not yet measured: 1-2 minutes to start the machine,
3-4 for this check with its kernel compiles; the image's numba-cuda 0.30.4 needs NumPy 2.4,
which travels as a wheel). Without a GPU, ``NUMBA_ENABLE_CUDASIM=1 python
benchmarks/device_check.py --tiny`` runs every code path on tiny sizes under Numba's simulator
(its timings mean nothing), and ``--ptx DIR`` compiles every kernel signature those paths use for
the H100 (sm_90) without a GPU, writing the PTX and printing ptxas's registers and spills: it needs
NVVM, NVRTC and ptxas, e.g. ``pip install --target /tmp/nvcc nvidia-cuda-nvcc nvidia-nvvm
nvidia-cuda-nvrtc`` with CUDA_HOME=/tmp/nvcc/nvidia/cu13, LD_LIBRARY_PATH=$CUDA_HOME/lib and
PYTHONPATH=/tmp/nvcc. The simulator cannot catch typing errors that only the real compiler sees;
this does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")  # cuBLAS/cuDNN: no TF32 behind our back

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from toolkit.kernels import cuda_runtime as rt
from toolkit.kernels import get_backend

WARMUP = 2  # untimed calls before each measurement (none with --tiny)
#: Other GEMM tiles (BM,BN,BK,TM,TN,STAGES) timed at n = 4096 beside the default 128,128,8,8,8,1.
GEMM_VARIANTS = ("128,128,8,8,8,2", "128,128,16,8,8,1", "64,64,8,8,8,1", "64,128,8,8,8,1")
TARGETS = {"relu_vs_copy": 0.90, "dot_vs_cublas": 0.50, "broadcast_vs_cupy": 1.00}


class Report:
    """Correctness verdicts and measurements, printed as they come and kept for the JSON file."""

    def __init__(self) -> None:
        self.checks: list[dict] = []
        self.timings: dict[str, Any] = {}

    def check(self, name: str, got: np.ndarray, want: np.ndarray, rtol: float,
              dtype: Any = None) -> None:
        """PASS when got has want's shape (and dtype) and ||got - want|| / ||want|| <= rtol, with
        NaN and inf in the same places."""
        ok, why = True, ""
        if got.shape != want.shape:
            ok, why = False, f"shape {got.shape} != {want.shape}"
        elif dtype is not None and got.dtype != np.dtype(dtype):
            ok, why = False, f"dtype {got.dtype} != {np.dtype(dtype)}"
        else:
            g, w = got.astype(np.float64), want.astype(np.float64)
            finite = np.isfinite(w)
            infinite = ~finite & ~np.isnan(w)
            if (not np.array_equal(np.isnan(g), np.isnan(w))
                    or not np.array_equal(g[infinite], w[infinite])):
                ok, why = False, "NaN/inf in different places"
            else:
                norm = np.linalg.norm(w[finite]) or 1.0
                error = np.linalg.norm(g[finite] - w[finite]) / norm
                ok, why = error <= rtol, f"relative error {error:.1e} (limit {rtol:.0e})"
        self.checks.append({"check": name, "ok": bool(ok), "detail": why})
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<48} {why}", flush=True)

    def time(self, name: str, seconds: float, **extra: Any) -> None:
        self.timings[name] = {"seconds": seconds, **extra}
        rate = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in extra.items())
        print(f"  {name:<44} {seconds * 1e6:12.2f} us  {rate}", flush=True)


def event_timer(fn: Callable[[], Any], repeats: int, inner: int = 5) -> float:
    """Median seconds of one call of ``fn`` (GPU work): CUDA events around ``inner`` calls in a
    row, so the host's launch overhead overlaps the device's work as in real use (the wall clock
    on the simulator, which has no events)."""
    if not rt.GPU:
        return wall_timer(fn, repeats)
    cuda = rt._cuda
    for _ in range(WARMUP):
        fn()
    cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cuda.event(), cuda.event()
        start.record()
        for _ in range(inner):
            fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3 / inner)
    return statistics.median(times)


def wall_timer(fn: Callable[[], Any], repeats: int, calls: int = 1,
               sync: Callable[[], Any] | None = None) -> float:
    """Median seconds per call of ``calls`` back-to-back calls of ``fn`` followed by ``sync``."""
    sync = sync or rt._cuda.synchronize
    for _ in range(WARMUP * calls):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def peers() -> tuple[Any, Any]:
    """CuPy and PyTorch (each None when missing), with TF32 switched off."""
    try:
        import cupy
        handle = cupy.cuda.device.get_cublas_handle()
        cupy.cuda.cublas.setMathMode(handle, cupy.cuda.cublas.CUBLAS_DEFAULT_MATH)
    except Exception as error:  # noqa: BLE001 - report and go on without the peer
        print(f"  (CuPy unavailable: {error})")
        cupy = None
    try:
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except Exception as error:  # noqa: BLE001
        print(f"  (PyTorch unavailable: {error})")
        torch = None
    return cupy, torch


def correctness(cuda: Any, report: Report, tiny: bool) -> None:
    """Every op against NumPy (float64 reference) on fresh random data at realistic sizes."""
    print("correctness (against NumPy, float64 references)", flush=True)
    rng = np.random.default_rng(int(time.time()))
    side = 5 if tiny else 1000
    x32 = rng.standard_normal((side, side + 3), dtype=np.float32) * 4
    x32.flat[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0]
    x64 = x32.astype(np.float64)
    dx = cuda.asarray(x32)
    with np.errstate(all="ignore"):
        sig = 1 / (1 + np.exp(-x64))
        for op, ref in (("relu", np.maximum(x64, 0)), ("sigmoid", sig), ("tanh", np.tanh(x64)),
                        ("exp", np.exp(x64)), ("log", np.log(x64)), ("sqrt", np.sqrt(x64)),
                        ("abs", np.abs(x64))):
            report.check(f"{op} float32 {x32.shape}", cuda.to_numpy(getattr(cuda, op)(dx)),
                         ref.astype(np.float32), 1e-6, np.float32)
    n = 300 if tiny else (1 << 22) + 5
    big = rng.standard_normal(n, dtype=np.float32)
    report.check(f"relu float32 ({n},)", cuda.to_numpy(cuda.relu(cuda.asarray(big))),
                 np.maximum(big, 0), 0, np.float32)
    ints = rng.integers(-100, 100, (side, side)).astype(np.int32)
    report.check("relu int32", cuda.to_numpy(cuda.relu(cuda.asarray(ints))), np.maximum(ints, 0), 0,
                 np.int32)
    report.check("sigmoid int32 -> float64", cuda.to_numpy(cuda.sigmoid(cuda.asarray(ints))),
                 1 / (1 + np.exp(-ints.astype(np.float64))), 1e-12, np.float64)
    grad = rng.standard_normal(x32.shape, dtype=np.float32)
    report.check("relu_grad float32", cuda.to_numpy(cuda.relu_grad(dx, cuda.asarray(grad))),
                 np.where(x32 > 0, grad, 0), 0, np.float32)

    book_x = rng.standard_normal((1 if tiny else 64, 3, 32, 10), dtype=np.float32)
    book_v = rng.standard_normal((32, 10), dtype=np.float32)
    pairs = {
        "same shape": (x32, rng.standard_normal(x32.shape, dtype=np.float32)),
        "book (64,3,32,10)+(32,10)": (book_x, book_v),
        "column (n,1)+(1,m)": (x32[:, :1].copy(), x32[:1, :].copy()),
        "middle (8,1,5)+(6,1)": (rng.standard_normal((8, 1, 5)), rng.standard_normal((6, 1))),
    }
    for label, (a, b) in pairs.items():
        da, db = cuda.asarray(a), cuda.asarray(b)
        for op, ref in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                        ("div", np.divide), ("maximum", np.maximum), ("minimum", np.minimum)):
            with np.errstate(all="ignore"):
                want = ref(a.astype(np.float64), b.astype(np.float64)).astype(np.result_type(a, b))
            report.check(f"{op} {label}", cuda.to_numpy(getattr(cuda, op)(da, db)), want, 1e-6,
                         np.result_type(a, b))
    report.check("sub 2.0 - x (Python scalar)", cuda.to_numpy(cuda.sub(2.0, dx)),
                 (2.0 - x64).astype(np.float32), 1e-6, np.float32)
    dints = cuda.asarray(ints)
    report.check("add int32 + int32", cuda.to_numpy(cuda.add(dints, dints)), ints + ints, 0,
                 np.int32)
    strided = cuda.asarray(x32)[:, 1::2]
    report.check("mul on a strided view", cuda.to_numpy(cuda.mul(strided, 3.0)),
                 x32[:, 1::2] * np.float32(3), 1e-6, np.float32)

    for m, k, n, dtype in ((19, 17, 18, np.float64),) if tiny else (
            (1000, 1000, 1000, np.float32), (1024, 768, 512, np.float32),
            (129, 4097, 65, np.float32), (700, 300, 500, np.float64)):
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                got = cuda.to_numpy(cuda.dot(cuda.asarray(a), cuda.asarray(b), ta, tb))
                report.check(f"dot {np.dtype(dtype).name} {m}x{k}x{n} ta={ta:d} tb={tb:d}", got,
                             want, 3e-5 if dtype == np.float32 else 1e-12, dtype)

    for shape in ((5, 3),) if tiny else ((4096, 1000), (512, 10), (3, 70000)):
        s = rng.standard_normal(shape, dtype=np.float32) * 20
        s64 = s.astype(np.float64)
        e = np.exp(s64 - s64.max(-1, keepdims=True))
        report.check(f"softmax float32 {shape}", cuda.to_numpy(cuda.softmax(cuda.asarray(s))),
                     e / e.sum(-1, keepdims=True), 1e-5, np.float32)
    clean = rng.standard_normal((side, side + 3), dtype=np.float32)
    for axis in (None, 0, 1):
        got = cuda.to_numpy(cuda.sum(cuda.asarray(clean), axis=axis))
        report.check(f"sum float32 axis={axis}", got,
                     np.sum(clean.astype(np.float64), axis=axis), 1e-5, np.float32)
        report.check(f"sum int32 axis={axis}", cuda.to_numpy(cuda.sum(dints, axis=axis)),
                     np.sum(ints, axis=axis), 0, np.int64)


def network(report: Report, tiny: bool) -> None:
    """The network library on this backend: the same seed gives the same losses as on numpy
    (float32 rounding apart), and the time of one epoch of small batches on each."""
    print("network (toolkit.nn): cuda against numpy, same seed", flush=True)
    from toolkit.nn.layers import Dense
    from toolkit.nn.models import Sequential
    rng = np.random.default_rng(3)
    samples, features = (8, 5) if tiny else (4096, 256)
    x = rng.standard_normal((samples, features)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    losses, seconds = {}, {}
    for backend in ("numpy", "cuda"):
        model = Sequential([Dense(16 if tiny else 64, activation="relu", input_shape=(features,)),
                            Dense(1, activation="sigmoid")], backend=backend, seed=0)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=1, batch_size=8 if tiny else 128, verbose=0)  # compile, warm up
        start = time.perf_counter()
        history = model.fit(x, y, epochs=2, batch_size=8 if tiny else 128, verbose=0)
        seconds[backend] = (time.perf_counter() - start) / 2
        losses[backend] = np.array(history.history["loss"])
    report.check("fit losses, cuda against numpy", losses["cuda"], losses["numpy"], 1e-3)
    report.time("one epoch (numpy backend)", seconds["numpy"])
    report.time("one epoch (cuda backend)", seconds["cuda"],
                speedup_over_numpy=seconds["numpy"] / seconds["cuda"])


def speed(cuda: Any, report: Report, tiny: bool) -> dict:
    """The issue's three ratios and the figures around them."""
    cupy, torch = (None, None) if tiny else peers()
    timer = event_timer
    repeats = 1 if tiny else 20
    ratios: dict[str, float] = {}
    rng = np.random.default_rng(1)

    print("transfers (host <-> device, apart from kernel time)", flush=True)
    host = rng.standard_normal(1 << (10 if tiny else 24), dtype=np.float32)  # 64 MiB
    device, back = cuda.asarray(host), np.empty_like(host)
    t = wall_timer(lambda: cuda.asarray(host), repeats)
    report.time(f"asarray {host.nbytes >> 20} MiB (allocate + copy)", t, GBps=host.nbytes / t / 1e9)
    t = wall_timer(lambda: device.copy_to_device(host), repeats)
    report.time(f"host->device {host.nbytes >> 20} MiB (pageable)", t, GBps=host.nbytes / t / 1e9)
    t = wall_timer(lambda: device.copy_to_host(back), repeats)
    report.time(f"device->host {host.nbytes >> 20} MiB (pageable)", t, GBps=host.nbytes / t / 1e9)

    print("relu, float32, 2^28 elements, against device-to-device copy", flush=True)
    n = 1 << (10 if tiny else 28)
    x = cuda.asarray(rng.standard_normal(n, dtype=np.float32))
    out = cuda.zeros((n,), np.float32)
    nbytes = 2 * 4 * n  # read + write
    copy = timer(lambda: out.copy_to_device(x), repeats)
    report.time("copy (cuMemcpyDtoD via numba)", copy, GBps=nbytes / copy / 1e9)
    if cupy is not None:
        cx, cout = cupy.asarray(x), cupy.empty(n, cupy.float32)
        t = timer(lambda: cupy.copyto(cout, cx), repeats)
        report.time("copy (CuPy copyto)", t, GBps=nbytes / t / 1e9)
        copy = min(copy, t)
    relu = timer(lambda: cuda.relu(x), repeats)
    report.time("relu (this backend)", relu, GBps=nbytes / relu / 1e9,
                percent_of_copy=100 * copy / relu)
    ratios["relu_vs_copy"] = copy / relu

    print("dot, float32, n = 4096, against cuBLAS SGEMM (TF32 off)", flush=True)
    n = 20 if tiny else 4096
    flops = 2 * n**3
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    da, db = cuda.asarray(a), cuda.asarray(b)
    ours = {}
    for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
        t = timer(lambda: cuda.dot(da, db, ta, tb), max(1, repeats // 2))
        ours[(ta, tb)] = t
        report.time(f"dot ta={ta:d} tb={tb:d} (this backend)", t, TFLOPs=flops / t / 1e12)
    best_peer = None
    if cupy is not None:
        ca, cb = cupy.asarray(a), cupy.asarray(b)
        product = cupy.matmul(ca, cb)
        check = cupy.asnumpy(product[:64]).astype(np.float64)
        ref = a[:64].astype(np.float64) @ b.astype(np.float64)
        error = np.abs(check - ref).max() / np.abs(ref).max()
        t = timer(lambda: cupy.matmul(ca, cb, out=product), repeats)
        report.time("cuBLAS SGEMM (CuPy matmul)", t, TFLOPs=flops / t / 1e12,
                    fp32_error=float(error), tf32_suspected=bool(error > 1e-4))
        best_peer = t
    if torch is not None:
        ta_, tb_ = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        t = timer(lambda: torch.matmul(ta_, tb_), repeats)
        report.time("PyTorch matmul (TF32 off)", t, TFLOPs=flops / t / 1e12)
        best_peer = t if best_peer is None else min(best_peer, t)
    if best_peer is not None:
        ratios["dot_vs_cublas"] = best_peer / ours[(False, False)]
    if not tiny:  # other tile shapes, each compiled in its own process (compile-time constants)
        for tiles in GEMM_VARIANTS:
            env = dict(os.environ, TOOLKIT_CUDA_GEMM_TILES=tiles)
            run = subprocess.run([sys.executable, __file__, "--gemm-only", str(n)], env=env,
                                 capture_output=True, text=True, timeout=180)
            if run.returncode:
                print(f"  tiles {tiles}: failed: {(run.stdout + run.stderr)[-600:]}")
                continue
            t, error = json.loads(run.stdout.strip().splitlines()[-1])
            report.checks.append({"check": f"dot tiles {tiles}", "ok": error <= 3e-5,
                                  "detail": f"relative error {error:.1e}"})
            extra = {"TFLOPs": flops / t / 1e12, "rel_error": error}
            if best_peer is not None:
                extra["percent_of_cublas"] = 100 * best_peer / t
            report.time(f"dot tiles {tiles} (this backend)", t, **extra)

    print("the book's broadcast (64, 3, 32, 10) + (32, 10), per call on device arrays", flush=True)
    bx = rng.standard_normal((1 if tiny else 64, 3, 32, 10), dtype=np.float32)
    bv = rng.standard_normal((32, 10), dtype=np.float32)
    dbx, dbv = cuda.asarray(bx), cuda.asarray(bv)
    calls = 1 if tiny else 2000
    repeats = 1 if tiny else 7
    small = {}
    small["ours"] = wall_timer(lambda: cuda.add(dbx, dbv), repeats, calls=calls)
    report.time("add (this backend, fast launch)", small["ours"])
    rt.FAST_LAUNCH = False
    try:
        small["numba_dispatch"] = wall_timer(lambda: cuda.add(dbx, dbv), repeats, calls=calls)
    finally:
        rt.FAST_LAUNCH = True
    report.time("add (this backend, Numba dispatcher)", small["numba_dispatch"])
    small["relu"] = wall_timer(lambda: cuda.relu(dbx), repeats, calls=calls)
    report.time("relu of the (64, 3, 32, 10) array (this backend)", small["relu"])
    if cupy is not None:
        cx, cv = cupy.asarray(bx), cupy.asarray(bv)
        small["cupy"] = wall_timer(lambda: cx + cv, repeats, calls=calls)
        report.time("x + v (CuPy)", small["cupy"])
        ratios["broadcast_vs_cupy"] = small["cupy"] / small["ours"]
    if torch is not None:
        tx, tv = torch.from_numpy(bx).cuda(), torch.from_numpy(bv).cuda()
        small["torch"] = wall_timer(lambda: tx + tv, repeats, calls=calls,
                                    sync=torch.cuda.synchronize)
        report.time("x + v (PyTorch)", small["torch"])
    return ratios


def gemm_only(n: int) -> None:
    """Print [seconds, relative error] of dot at n x n x n float32 with this process's tiles."""
    cuda = get_backend("cuda")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    da, db = cuda.asarray(a), cuda.asarray(b)
    got = cuda.to_numpy(cuda.dot(da, db))[:64].astype(np.float64)
    want = a[:64].astype(np.float64) @ b.astype(np.float64)
    error = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    print(json.dumps([event_timer(lambda: cuda.dot(da, db), 10), error]))


def dump_signatures(path: str) -> None:
    """Write every kernel signature compiled so far (module, function, spec) to ``path``."""
    specs = []
    for fn, spec in rt._compiled:
        items = [str(i) if isinstance(i, np.dtype) else i if i == "int" else [i[0], str(i[1])]
                 for i in spec]
        specs.append([fn.__module__, fn.__name__, items])
    with open(path, "w") as file:
        json.dump(specs, file)


def ptx_report(directory: str) -> int:
    """Compile every kernel signature that the --tiny run uses to sm_90 PTX, without a GPU; print
    ptxas's registers, stack and spills where ptxas is found. Nonzero if one does not compile."""
    import importlib
    specs_file = os.path.join(directory, "signatures.json")
    os.makedirs(directory, exist_ok=True)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    run = subprocess.run([sys.executable, __file__, "--tiny", "--signatures", specs_file], env=env,
                         capture_output=True, text=True)
    if run.returncode:
        print(run.stdout[-2000:], run.stderr[-2000:])
        return 1
    with open(specs_file) as file:
        specs = json.load(file)
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    class Hopper:  # device functions ask the current device for its compute capability
        compute_capability = (9, 0)
    dispatcher.get_current_device = lambda: Hopper()
    home = os.environ.get("CUDA_HOME", "")
    ptxas = os.path.join(home, "bin", "ptxas") if home else shutil.which("ptxas")  # NVVM's own
    failed = 0
    for module, name, items in sorted(specs):
        fn = getattr(importlib.import_module(module), name)
        spec = [np.dtype(i) if isinstance(i, str) and i != "int" else i if i == "int" else
                (i[0], int(i[1]) if i[0] == "tuple" else np.dtype(i[1])) for i in items]
        shown = [f"{i[0]} {i[1]}" if isinstance(i, tuple) else str(i) for i in spec]
        label = f"{name}({', '.join(shown)})"
        try:
            types = [rt._numba_type(i) for i in spec]
            ptx, _ = cuda.compile_ptx(fn, rt._types.void(*types), cc=(9, 0))
        except Exception as error:  # noqa: BLE001 - report every kernel, then fail
            failed += 1
            print(f"FAIL {label}: {type(error).__name__}: {str(error)[:400]}")
            continue
        path = os.path.join(directory, f"{name}_{abs(hash(label)) % 10**8}.ptx")
        with open(path, "w") as file:
            file.write(ptx)
        usage = ""
        if ptxas and os.path.exists(ptxas):
            out = subprocess.run([ptxas, "-arch=sm_90", "-v", path, "-o", os.devnull],
                                 capture_output=True, text=True)
            usage = "; ".join(line.split("info    : ")[-1].strip()
                              for line in (out.stdout + out.stderr).splitlines()
                              if "registers" in line or "spill" in line or "fatal" in line)
        print(f"ok   {label}  {usage}")
    print(f"{len(specs) - failed}/{len(specs)} kernel signatures compile for sm_90")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="tiny sizes, no peers: run the code paths (e.g. on the simulator)")
    parser.add_argument("--json", help="also write the checks and timings to this JSON file")
    parser.add_argument("--ptx", metavar="DIR",
                        help="no GPU needed: compile every kernel signature for sm_90 into DIR")
    parser.add_argument("--signatures", help=argparse.SUPPRESS)  # used by --ptx
    parser.add_argument("--gemm-only", type=int, help=argparse.SUPPRESS)  # one tile variant
    args = parser.parse_args(argv)
    if args.ptx:
        return ptx_report(args.ptx)
    if args.gemm_only:
        gemm_only(args.gemm_only)
        return 0
    if not rt.is_available() and not (args.tiny and rt.USABLE):
        print(f"device_check: no GPU/CUDA here: {rt.WHY_NOT}. Run it on the device machine (see "
              f"this script's docstring), or with --tiny under NUMBA_ENABLE_CUDASIM=1.",
              file=sys.stderr)
        return 2
    global WARMUP
    WARMUP = 0 if args.tiny else 2
    cuda = get_backend("cuda")
    report = Report()
    print(f"device: {describe()}", flush=True)
    start = time.perf_counter()
    cuda.warm_up()
    report.time("compile or load from cache (warm_up)", time.perf_counter() - start)
    correctness(cuda, report, args.tiny)
    try:
        network(report, args.tiny)
    except Exception as error:  # noqa: BLE001 - the network library is another module's; go on
        report.checks.append({"check": "network", "ok": False, "detail": repr(error)})
        print(f"  FAIL  network: {error!r}", flush=True)
    ratios = speed(cuda, report, args.tiny)
    failed = [c["check"] for c in report.checks if not c["ok"]]
    print("\nsummary" + (" (--tiny: sizes too small, timings mean nothing)" if args.tiny else ""))
    print(f"  correctness: {len(report.checks) - len(failed)}/{len(report.checks)} checks passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    for key, target in TARGETS.items():
        value = ratios.get(key)
        verdict = "" if args.tiny else f"  {'met' if value and value >= target else 'NOT met'}"
        shown = "not measured (peer missing)" if value is None else (
            f"{100 * value:6.1f}%  target >= {100 * target:.0f}%{verdict}")
        print(f"  {key:<20} {shown}")
    if args.signatures:
        dump_signatures(args.signatures)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": describe(), "checks": report.checks, "timings": report.timings,
                       "ratios": ratios, "tiny": args.tiny}, file, indent=1)
    return 1 if failed else 0


def describe() -> str:
    """The GPU, the software versions, or that this is the simulator."""
    if not rt.GPU:
        return f"Numba CUDA simulator on {platform.machine()} (no GPU)"
    device = rt._cuda.get_current_device()
    import numba_cuda
    return (f"{device.name.decode() if isinstance(device.name, bytes) else device.name}, "
            f"{device.MULTIPROCESSOR_COUNT} SMs, cc {device.compute_capability}; "
            f"numba-cuda {numba_cuda.__version__}, numpy {np.__version__}, "
            f"python {platform.python_version()}")


if __name__ == "__main__":
    sys.exit(main())
