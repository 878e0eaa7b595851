"""Rows of a CSR matrix against a dense one, a vector of columns at a time, the sum or the
update kept in a register (numba_sparse)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .vectors import multiply_add, splat, vector_pointer, vector_type


def _sparse_setup(context, builder, signature, args, dense_at):
    """Pointers and types shared by the sparse-row intrinsics: (indices, data, dense, out data
    pointers), the vector type and the itemsize."""
    dtype = signature.args[dense_at].dtype
    element, vector, lanes = vector_type(context, dtype)
    pointers = [context.make_array(signature.args[i])(context, builder, args[i]).data
                for i in range(len(args)) if isinstance(signature.args[i], types.Array)]
    return pointers, vector, dtype.bitwidth // 8


def _sparse_signature(indices, data, dense, out):
    return (isinstance(indices, types.Array) and isinstance(indices.dtype, types.Integer)
            and all(isinstance(x, types.Array) and x.dtype == data.dtype
                    for x in (data, dense, out)) and isinstance(data.dtype, types.Float))


@intrinsic
def gather_rows_sum(typingctx, indices, data, p0, p1, dense, ld, j0, out, o0):
    """out[o0:o0+W] = the sum over p0 <= p < p1 of data[p] * dense[indices[p]*ld + j0:][:W]
    (flat arrays, W = lanes_of(dense)): one vector of a CSR row times a dense matrix, the sum
    kept in a register."""
    if not _sparse_signature(indices, data, dense, out):
        return None
    sig = types.void(indices, data, types.intp, types.intp, dense, types.intp, types.intp, out,
                     types.intp)

    def codegen(context, builder, signature, args):
        (pi, pd, pdense, pout), vector, itemsize = _sparse_setup(
            context, builder, signature, args, 4)
        madd = multiply_add(builder, signature.args[1].dtype, vector)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vector, None))
        i64 = ir.IntType(64)
        with cgutils.for_range_slice(builder, args[2], args[3], ir.Constant(i64, 1)) as (p, _):
            column = builder.sext(builder.load(builder.gep(pi, [p])), i64) \
                if signature.args[0].dtype.bitwidth < 64 else builder.load(builder.gep(pi, [p]))
            at = builder.add(builder.mul(column, args[5]), args[6])
            row = builder.load(vector_pointer(builder, pdense, at, vector), align=itemsize)
            value = splat(builder, builder.load(builder.gep(pd, [p])), vector.count)
            builder.store(madd(value, row, builder.load(acc)), acc)
        builder.store(builder.load(acc), vector_pointer(builder, pout, args[8], vector),
                      align=itemsize)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def scatter_rows_add(typingctx, indices, data, p0, p1, dense, d0, out, ld, j0):
    """out[indices[p]*ld + j0:][:W] += data[p] * dense[d0:d0+W] for p0 <= p < p1 (flat arrays,
    W = lanes_of(dense)): one vector of a dense row spread into the rows of out that a CSR row
    names (the rows differ within a CSR row, so the updates are independent)."""
    if not _sparse_signature(indices, data, dense, out):
        return None
    sig = types.void(indices, data, types.intp, types.intp, dense, types.intp, out, types.intp,
                     types.intp)

    def codegen(context, builder, signature, args):
        (pi, pd, pdense, pout), vector, itemsize = _sparse_setup(
            context, builder, signature, args, 4)
        madd = multiply_add(builder, signature.args[1].dtype, vector)
        source = builder.load(vector_pointer(builder, pdense, args[5], vector), align=itemsize)
        i64 = ir.IntType(64)
        with cgutils.for_range_slice(builder, args[2], args[3], ir.Constant(i64, 1)) as (p, _):
            column = builder.sext(builder.load(builder.gep(pi, [p])), i64) \
                if signature.args[0].dtype.bitwidth < 64 else builder.load(builder.gep(pi, [p]))
            where = vector_pointer(builder, pout, builder.add(builder.mul(column, args[7]),
                                                              args[8]), vector)
            value = splat(builder, builder.load(builder.gep(pd, [p])), vector.count)
            builder.store(madd(value, source, builder.load(where, align=itemsize)), where,
                          align=itemsize)
        return context.get_dummy_value()

    return sig, codegen
