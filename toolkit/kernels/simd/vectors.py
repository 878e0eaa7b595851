"""The IR building blocks the SIMD intrinsics share: the target's vector type, splats, fused
multiply-adds, prefetches, vector pointers and loads and stores under lane masks."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..cpu import target


def vector_type(context, dtype) -> tuple[ir.Type, ir.VectorType, int]:
    """(element type, vector type, lanes) of the target's vectors of ``dtype``."""
    element = context.get_value_type(dtype)
    lanes = target().lanes(dtype.bitwidth // 8)
    return element, ir.VectorType(element, lanes), lanes


def splat(builder: ir.IRBuilder, value: ir.Value, lanes: int) -> ir.Value:
    """A vector of ``lanes`` copies of the scalar ``value`` (insertelement, then a shuffle)."""
    vector = ir.VectorType(value.type, lanes)
    undef = ir.Constant(vector, ir.Undefined)
    one = builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), lanes),
                                                          [0] * lanes))


def multiply_add(builder: ir.IRBuilder, dtype, vector: ir.VectorType):
    """A function (x, y, acc) -> acc + x * y on vectors: fused where the CPU has FMA."""
    if isinstance(dtype, types.Float):
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                             f"llvm.fmuladd.{_mangle(vector)}")
        return lambda x, y, acc: builder.call(fma, [x, y, acc])
    return lambda x, y, acc: builder.add(acc, builder.mul(x, y))


def prefetcher(builder: ir.IRBuilder, locality: int):
    """A function that asks the cache to fetch the line holding a pointer for reading
    (llvm.prefetch, which never faults): into every level with locality 3, all but L1 with 2."""
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
        ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
    flags = [ir.Constant(i32, 0), ir.Constant(i32, locality), ir.Constant(i32, 1)]
    return lambda pointer: builder.call(fn, [builder.bitcast(pointer, i8p), *flags])


def vector_pointer(builder, base, offset, vector):
    """A pointer to the vector at element ``offset`` of ``base``."""
    return builder.bitcast(builder.gep(base, [offset]), vector.as_pointer())


class MaskedAccess:
    """Loads and stores of some lanes of a vector (llvm.masked.load/store: no memory is touched
    in the lanes masked off; masked-off loads give 0)."""

    def __init__(self, builder, vector: ir.VectorType):
        self.builder, self.vector, self.lanes = builder, vector, vector.count
        i32 = ir.IntType(32)
        self.i32s = ir.VectorType(i32, self.lanes)
        self.index = ir.Constant(self.i32s, list(range(self.lanes)))
        masks, pointer, name = ir.VectorType(ir.IntType(1), self.lanes), vector.as_pointer(), \
            _mangle(vector)
        self._load = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            vector, [pointer, i32, masks, vector]), f"llvm.masked.load.{name}.p0")
        self._store = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            ir.VoidType(), [vector, pointer, i32, masks]), f"llvm.masked.store.{name}.p0")

    def lanes_below(self, limit):
        """The mask of the lanes whose index is below the i32 ``limit`` (none when limit <= 0)."""
        return self.builder.icmp_signed("<", self.index, splat(self.builder, limit, self.lanes))

    def load(self, pointer, mask, align):
        return self.builder.call(self._load, [pointer, ir.Constant(ir.IntType(32), align), mask,
                                              ir.Constant(self.vector, None)])

    def store(self, value, pointer, mask, align):
        self.builder.call(self._store, [value, pointer, ir.Constant(ir.IntType(32), align), mask])


def _mangle(vector: ir.VectorType) -> str:
    """LLVM's overload suffix of a vector type: v16f32, v8f64, v8i32 ..."""
    element = vector.element
    kind = {ir.FloatType: "f32", ir.DoubleType: "f64"}.get(type(element))
    return f"v{vector.count}{kind or f'i{element.width}'}"


@intrinsic
def lanes_of(typingctx, x):
    """The number of ``x``'s elements in one of the target's vectors, as a constant."""
    if not isinstance(x, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, target().lanes(x.dtype.bitwidth // 8))

    return types.intp(x), codegen
