"""What the cuda backend stands on: whether numba-cuda and a GPU are there, kernels compiled once
per signature, cheap launches, device memory, and the refusal of host arrays.

Importing this module never fails: without numba-cuda or without a usable GPU, ``USABLE`` is False
and :func:`require` raises a RuntimeError that says what is missing and how to install it. Under
Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernels run on the CPU, thread by thread,
so the backend can be tested without a GPU; :func:`is_available` is still False there.

Dispatch cost is kept low on a real GPU: a kernel is compiled eagerly for one explicit signature
(``cache=True``, so later processes load it from disk, stamped with all the package's sources
as jit.py stamps the CPU kernels), its launch configurations are cached, and
:class:`Kernel` passes the arguments to ``cuda.core.launch`` directly instead of through Numba's
per-call type dispatch; device memory comes from a small caching pool, as CuPy's does.
"""

from __future__ import annotations

import ctypes
import os
import warnings
from typing import Any, Callable

import numpy as np

try:  # numba-cuda is the optional extra `cuda`; the toolkit works without it
    from numba import cuda as _cuda
    from numba.cuda import types as _types
    from numba.cuda.core import config as _config
    from numba.cuda.np.numpy_support import from_dtype as _from_dtype
    IMPORT_ERROR: BaseException | None = None
except Exception as error:  # noqa: BLE001 - a broken install raises anything  # pragma: no cover
    _cuda = None
    IMPORT_ERROR = error

#: Kernels run under Numba's CUDA simulator (each GPU thread a Python thread), for tests.
SIMULATOR = _cuda is not None and bool(_config.ENABLE_CUDASIM)
if _cuda is not None and not SIMULATOR:  # the simulator caches nothing
    from numba.cuda.core import caching as _caching

    from .jit import install as _stamp_cache
    _stamp_cache(_caching)
#: Set TOOLKIT_CUDA_FAST_LAUNCH=0 to launch through Numba's dispatcher instead (for comparisons).
FAST_LAUNCH = os.environ.get("TOOLKIT_CUDA_FAST_LAUNCH", "1") != "0"

INSTALL_HINT = ("install the extra with `pip install dlcourse-toolkit[cuda]` on a machine with an "
                "NVIDIA GPU and driver (or set NUMBA_ENABLE_CUDASIM=1 to run it on the simulator)")


def _probe() -> tuple[bool, str]:
    """Whether a real GPU is usable, and why not."""
    if _cuda is None:
        return False, f"numba-cuda is not installed ({IMPORT_ERROR})"
    if SIMULATOR:
        return False, "NUMBA_ENABLE_CUDASIM=1: kernels run on Numba's CPU simulator, not a GPU"
    try:
        if _cuda.is_available():
            return True, ""
    except Exception as error:  # noqa: BLE001 - driver-specific  # pragma: no cover
        return False, f"the CUDA driver failed to start ({error})"
    return False, "no NVIDIA GPU or CUDA driver is present"


GPU, WHY_NOT = _probe()
#: The ops can run: on a GPU, or on the simulator.
USABLE = GPU or SIMULATOR


def is_available() -> bool:
    """Whether a real NVIDIA GPU is usable (False under the simulator and without numba-cuda)."""
    return GPU


def require() -> None:
    """RuntimeError naming what is missing unless the ops can run here."""
    if not USABLE:
        raise RuntimeError(f"cuda backend: no GPU/CUDA is present: {WHY_NOT}; {INSTALL_HINT}")


def synchronize() -> None:
    """Wait until every kernel launched so far has finished (before reading a host clock)."""
    require()
    _cuda.synchronize()


# --- device arrays -------------------------------------------------------------------------------

if _cuda is not None and SIMULATOR:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray as _DeviceArray
elif _cuda is not None:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray as _DeviceArray
else:
    _DeviceArray = ()


def device_array(op: str, x: Any) -> Any:
    """``x`` if it is a device array; a host array is refused, never copied behind one's back."""
    if type(x) is _DeviceArray:
        return x
    require()
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        raise TypeError(
            f"{op}: argument is a host array ({type(x).__name__}); move it with cuda.asarray(x) "
            f"first (the cuda backend never copies host data silently on every call)"
        )
    if _cuda is not None and isinstance(x, _DeviceArray):
        return x
    if _cuda is not None and _cuda.is_cuda_array(x):  # CuPy, PyTorch: zero-copy view
        return _cuda.as_cuda_array(x)
    raise TypeError(f"{op}: expected a device array from cuda.asarray(...), got {type(x).__name__}")


def is_device_array(x: Any) -> bool:
    """Whether ``x`` is one of this backend's device arrays."""
    return _cuda is not None and isinstance(x, _DeviceArray)


def empty(shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A new C-contiguous device array, its memory from the pool on a GPU."""
    if _pool is not None and FAST_LAUNCH and 0 not in shape:
        return _pool.empty(shape, dtype)
    return _cuda.device_array(shape, dtype)


def is_contiguous(x: Any) -> bool:
    """Whether ``x`` is C-contiguous (its elements in row-major order without gaps)."""
    return x.is_c_contiguous()


def base_view(x: Any, span: int) -> Any:
    """A 1-D device array over the ``span`` elements that start at ``x``'s first element."""
    if SIMULATOR:
        ary = np.lib.stride_tricks.as_strided(x._ary, (span,), (x.dtype.itemsize,))
        return _DeviceArray(ary)
    return _DeviceArray((span,), (x.dtype.itemsize,), x.dtype, gpu_data=x.gpu_data)


# --- memory pool ---------------------------------------------------------------------------------

class _Pool:
    """Caching allocator: freed blocks are kept by size and handed out again, so small ops pay
    neither cuMemAlloc nor cuMemFree (which waits for the device) on every call. Blocks return
    to the pool when their array (and every view of it) is gone; work on the one stream stays in
    order, so a block handed out again is only written after the kernels reading it."""

    def __init__(self, context: Any = None) -> None:
        from numba.cuda.cudadrv import devices, driver

        class PooledPointer(driver.MemoryPointer):
            def __del__(self) -> None:
                self.blocks.append(self.base)

        self._context = devices.get_context() if context is None else context
        self._pointer = PooledPointer
        self._free: dict[int, list] = {}
        self._fields: dict[tuple, dict] = {}

    def _block(self, nbytes: int) -> Any:
        if nbytes < (1 << 20):
            size = max(512, 1 << (nbytes - 1).bit_length())
        else:
            size = (nbytes + 0xFFFFF) & ~0xFFFFF
        blocks = self._free.setdefault(size, [])
        if blocks:
            base = blocks.pop()
        else:
            try:
                base = self._context.memalloc(size)
            except Exception:  # noqa: BLE001 - out of memory: give the cached blocks back, retry
                for cached in self._free.values():
                    cached.clear()
                self._context.deallocations.clear()
                base = self._context.memalloc(size)
        pointer = self._pointer(self._context, base.device_pointer, size)
        pointer.blocks, pointer.base = blocks, base
        return pointer

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        """A C-contiguous device array; its Python fields are copied from the first array of the
        same shape and dtype instead of recomputed (numba's constructor takes microseconds)."""
        fields = self._fields.get((shape, dtype))
        if fields is None:
            strides, step = [], dtype.itemsize
            for n in reversed(shape):
                strides.append(step)
                step *= max(n, 1)
            array = _DeviceArray(shape, tuple(reversed(strides)), dtype,
                                 gpu_data=self._block(step))
            if len(self._fields) > 4096:
                self._fields.clear()
            self._fields[(shape, dtype)] = {k: v for k, v in array.__dict__.items()
                                           if k not in ("gpu_data", "_strided_memory_view_shim")}
            return array
        array = object.__new__(_DeviceArray)
        array.__dict__.update(fields)
        array.gpu_data = self._block(fields["alloc_size"])
        return array


_pool: _Pool | None = None


def _start_pool() -> None:
    global _pool
    if GPU and _pool is None:
        _pool = _Pool()


# --- kernels -------------------------------------------------------------------------------------

_compiled: dict[tuple, "Kernel"] = {}
#: Kernels compiled without Numba's disk cache (their compile-time constants were overridden).
UNCACHED: set = set()


def kernel(fn: Callable, *spec: Any) -> "Kernel":
    """``fn`` compiled for exactly one signature (once; later calls get the cached one). Each item
    of ``spec`` is a NumPy dtype (a 1-D C-contiguous array of it), "int" (an int64), ("scalar",
    dtype) or ("tuple", rank) (that many int64s): cheap to hash, so the lookup costs little."""
    key = (fn, spec)
    k = _compiled.get(key)
    if k is None:
        k = _compiled[key] = Kernel(fn, tuple(_numba_type(item) for item in spec))
    return k


def _numba_type(item: Any):
    """The Numba type that one ``spec`` item of :func:`kernel` stands for (dtypes first: NumPy
    holds np.dtype("int64") == "int")."""
    if isinstance(item, np.dtype):
        return _types.Array(_from_dtype(item), 1, "C")
    if isinstance(item, tuple):
        kind, value = item
        if kind == "scalar":
            return _from_dtype(np.dtype(value))
        return _types.UniTuple(_types.int64, value)
    if item == "int":
        return _types.int64
    raise TypeError(f"unknown kernel argument spec {item!r}")


class Kernel:
    """A kernel compiled eagerly for one signature; ``k.launch(grid, block, shared, args)`` runs it.
    Arrays are passed flat (any C-contiguous device array), integers as int64."""

    def __init__(self, fn: Callable, argtypes: tuple) -> None:
        self.argtypes = argtypes
        cache = not SIMULATOR and fn not in UNCACHED
        self.dispatcher = _cuda.jit(_types.void(*argtypes), cache=cache)(fn)
        self._configs: dict[tuple, Any] = {}
        self._fast = None
        if GPU:
            self._start_fast()

    def _start_fast(self) -> None:
        """Take the compiled function out of Numba's dispatcher for direct launches; if this
        numba-cuda's internals differ, stay on Numba's own launch path (slower, still right)."""
        try:
            from cuda.core import LaunchConfig, launch
            from numba.cuda.cudadrv import driver
            overload = next(iter(self.dispatcher.overloads.values()))
            self._fast = overload._codelibrary.get_cufunc().kernel
            self._launch = launch
            self._config = LaunchConfig
            self._stream = driver._to_core_stream(0)
            self._marshal = [_marshaller(t) for t in self.argtypes]
        except Exception as error:  # noqa: BLE001 - any mismatch means: use the dispatcher
            warnings.warn(f"cuda backend: direct kernel launch unavailable ({error}); "
                          f"launching through Numba's dispatcher", RuntimeWarning, stacklevel=2)
            self._fast = None
            return
        _start_pool()

    def launch(self, grid: Any, block: Any, shared: int, args: tuple) -> None:
        """Run the kernel on ``grid`` blocks of ``block`` threads."""
        if self._fast is None or not FAST_LAUNCH:
            flat = [a.reshape(a.size) if type(a) is _DeviceArray and a.ndim != 1 else a
                    for a in args]
            self.dispatcher[grid, block, 0, shared](*flat)
            return
        key = (grid, block, shared)
        config = self._configs.get(key)
        if config is None:
            config = self._configs[key] = self._config(grid=grid, block=block, shmem_size=shared)
        raw: list = []
        for marshal, a in zip(self._marshal, args):
            marshal(raw, a)
        self._launch(self._stream, config, self._fast, *raw)


def _marshaller(t) -> Callable[[list, Any], None]:
    """How one argument of Numba type ``t`` goes into the raw launch arguments, in the layout that
    Numba's own launcher uses (an array: meminfo, parent, size, itemsize, data, shape, strides)."""
    if isinstance(t, _types.Array):
        def array(raw: list, a: Any) -> None:
            size, item = a.size, a.dtype.itemsize
            raw += (0, 0, size, item, int(a.gpu_data.device_pointer), size, item)
        return array
    if isinstance(t, _types.BaseTuple):
        return lambda raw, a: raw.extend(a)
    if t == _types.int64:
        return lambda raw, a: raw.append(int(a))
    c_type = getattr(ctypes, "c_double" if t == _types.float64 else "c_float"
                     if t == _types.float32 else f"c_{t}")
    return lambda raw, a: raw.append(c_type(a))
