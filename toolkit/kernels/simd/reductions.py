"""The largest element of an array at the target's full vector width (softmax's first pass)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .vectors import splat, vector_type

#: Running maxima vector_max keeps: llvm.maxnum is a few dependent instructions on x86, so one
#: running vector would wait on each of them in turn.
MAX_ACCUMULATORS = 4


@intrinsic
def vector_max(typingctx, xs):
    """The largest element of the 1-D contiguous float array xs (at least one element), NaN
    ignored (llvm.maxnum): MAX_ACCUMULATORS vectors of running maxima over groups of as many
    vectors, then one over the whole vectors left, then what is left one element at a time."""
    if not (isinstance(xs, types.Array) and xs.ndim == 1 and isinstance(xs.dtype, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        dtype = signature.args[0].dtype
        element, vector, lanes = vector_type(context, dtype)
        kind = f"f{dtype.bitwidth}"
        array = context.make_array(signature.args[0])(context, builder, args[0])
        data, n = array.data, builder.extract_value(array.shape, 0)
        vmax = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            vector, [vector] * 2), f"llvm.maxnum.v{lanes}{kind}")
        smax = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            element, [element] * 2), f"llvm.maxnum.{kind}")
        reduce = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            element, [vector]), f"llvm.vector.reduce.fmax.v{lanes}{kind}")
        i64 = ir.IntType(64)
        width = ir.Constant(i64, lanes)

        def load(k):
            return builder.load(builder.bitcast(builder.gep(data, [builder.mul(k, width)]),
                                                vector.as_pointer()), align=dtype.bitwidth // 8)

        first = splat(builder, builder.load(data), lanes)
        running = [cgutils.alloca_once_value(builder, first) for _ in range(MAX_ACCUMULATORS)]
        whole = builder.udiv(n, width)
        group = ir.Constant(i64, MAX_ACCUMULATORS)
        with cgutils.for_range(builder, builder.udiv(whole, group)) as loop:
            for a, best in enumerate(running):
                k = builder.add(builder.mul(loop.index, group), ir.Constant(i64, a))
                builder.store(builder.call(vmax, [builder.load(best), load(k)]), best)
        best = running[0]
        for other in running[1:]:
            builder.store(builder.call(vmax, [builder.load(best), builder.load(other)]), best)
        grouped = builder.mul(builder.udiv(whole, group), group)
        with cgutils.for_range_slice(builder, grouped, whole, ir.Constant(i64, 1)) as (k, _):
            builder.store(builder.call(vmax, [builder.load(best), load(k)]), best)
        result = cgutils.alloca_once_value(builder, builder.call(reduce, [builder.load(best)]))
        start = builder.mul(whole, width)
        with cgutils.for_range_slice(builder, start, n, ir.Constant(i64, 1)) as (i, _):
            builder.store(builder.call(smax, [builder.load(result),
                                              builder.load(builder.gep(data, [i]))]), result)
        return builder.load(result)

    return xs.dtype(xs), codegen
