"""Run by test_cuda.py in a process without the simulator and without a GPU: the cuda backend's
direct launch must marshal arguments exactly as Numba's own launcher does, and its memory pool
must hand a block out again only once nothing refers to it."""

import ctypes
import gc
import types as pytypes

import numpy as np
from numba.cuda.cudadrv import driver
from numba.cuda.cudadrv.devicearray import DeviceNDArray
from numba.cuda.dispatcher import _Kernel

from toolkit.kernels import cuda_runtime as rt

assert not rt.SIMULATOR


def fake_pointer(address, size):
    return driver.MemoryPointer(None, driver.binding.CUdeviceptr(address), size)


def numba_args(argtypes, args):
    """The raw launch arguments Numba's own _Kernel.launch would build."""
    fake = pytypes.SimpleNamespace(extensions=[])
    fake._prepare_args = lambda *a: _Kernel._prepare_args(fake, *a)
    raw = []
    for t, v in zip(argtypes, args):
        fake._prepare_args(t, v, 0, [], raw)
    return raw


def normal(values):
    """(C type, value) of each raw argument; Python ints and c_int64 both travel as 8 bytes."""
    typed = [isinstance(v, ctypes._SimpleCData) for v in values]
    return [(type(v).__name__ if t and not isinstance(v, ctypes.c_int64) else "int",
             v.value if t else int(v)) for v, t in zip(values, typed)]


x = DeviceNDArray((4, 3, 5), (60, 20, 4), np.float32, gpu_data=fake_pointer(0x7F0000001000, 240))
y = DeviceNDArray((7,), (8,), np.float64, gpu_data=fake_pointer(0x7F0000002000, 56))
spec = (np.dtype(np.float32), np.dtype(np.float64), "int", ("scalar", np.float32),
        ("scalar", np.float64), ("scalar", np.int32), ("tuple", 3))
argtypes = [rt._numba_type(s) for s in spec]
args = (x, y, 12345, np.float32(1.5), 2.25, np.int32(-7), (4, 3, 5))
mine = []
for t, a in zip(argtypes, args):
    rt._marshaller(t)(mine, a)
flat = (x.reshape(x.size),) + args[1:]
theirs = numba_args(argtypes, flat)
assert normal(mine) == normal(theirs), (normal(mine), normal(theirs))
print("marshalling matches numba's launcher")



# the pool, with a stand-in context
class Owned:
    def __init__(self, address):
        self.device_pointer = driver.binding.CUdeviceptr(address)


class Context:
    allocated = 0

    def memalloc(self, size):
        Context.allocated += 1
        return Owned(0x10000 * Context.allocated)


pool = rt._Pool(Context())
a = pool.empty((64, 3, 32, 10), np.dtype(np.float32))
ref = np.empty((64, 3, 32, 10), np.float32)
assert (a.shape, a.strides, a.size, a.dtype) == (ref.shape, ref.strides, ref.size, ref.dtype)
assert a.is_c_contiguous() and a.alloc_size == ref.nbytes
first = int(a.gpu_data.device_pointer)
b = pool.empty((64, 3, 32, 10), np.dtype(np.float32))  # from the cached fields
assert (b.shape, b.strides, b.size, b.is_c_contiguous()) == (a.shape, a.strides, a.size, True)
assert int(b.gpu_data.device_pointer) != first and Context.allocated == 2
view = a.gpu_data.view(1024)  # what slicing a[1:] keeps
del a
gc.collect()
c = pool.empty((64, 3, 32, 10), np.dtype(np.float32))
assert Context.allocated == 3, "a block still viewed was handed out again"
del view, c
gc.collect()
d = pool.empty((2, 5), np.dtype(np.float32))  # 40 bytes: a 512-byte block, new
e = pool.empty((64, 3, 32, 10), np.dtype(np.float32))
assert Context.allocated == 4 and int(e.gpu_data.device_pointer) in (first, 0x30000)
print("pool reuses freed blocks only")
