"""How the matrix product moves panels through registers: blocks of up to lanes x lanes
transposed (packing along k, and C^T blocks written back into C), and short runs copied under
lane masks (packing across k)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .vectors import MaskedAccess, vector_pointer, vector_type


@intrinsic
def transpose_block(typingctx, x, x0, ldx, rows, cols, out, o0, ldo, width):
    """out[o0 + j*ldo + i] = X(i, j) for i < width, j < cols, where X(i, j) is x[x0 + i*ldx + j]
    for i < rows and 0 below them (flat arrays of one dtype; rows <= width <= W and cols <= W,
    W = lanes_of(x)). The block is transposed in registers, its rows loaded and its columns
    stored as whole vectors (log2 W rounds of two-source shuffles) where element by element it
    would take W * W strided accesses; a partial block loads and stores under lane masks, and
    nothing outside it is read or written."""
    if not _flat_pair(x, out):
        return None

    def codegen(context, builder, signature, args):
        vector, lanes, itemsize, px, po = _operands(context, builder, signature, args, 5)
        x0, ldx, rows, cols, o0, ldo, width = (args[i] for i in (1, 2, 3, 4, 6, 7, 8))
        const = lambda n: ir.Constant(ir.IntType(64), n)  # noqa: E731
        row_at = [vector_pointer(builder, px, builder.add(x0, builder.mul(ldx, const(i))),
                                 vector) for i in range(lanes)]
        column_at = [vector_pointer(builder, po, builder.add(o0, builder.mul(ldo, const(j))),
                                    vector) for j in range(lanes)]
        whole = builder.and_(builder.icmp_signed("==", rows, const(lanes)),
                             builder.icmp_signed("==", cols, const(lanes)))
        whole = builder.and_(whole, builder.icmp_signed("==", width, const(lanes)))
        with builder.if_else(whole) as (plain, masked):
            with plain:
                rows_in = [builder.load(at, align=itemsize) for at in row_at]
                for column, at in zip(_transposed(builder, rows_in), column_at):
                    builder.store(column, at, align=itemsize)
            with masked:
                access = MaskedAccess(builder, vector)
                i32 = ir.IntType(32)
                in_cols = access.lanes_below(builder.trunc(cols, i32))
                in_width = access.lanes_below(builder.trunc(width, i32))
                none = ir.Constant(in_cols.type, None)
                rows_in = [access.load(at, builder.select(builder.icmp_signed(
                    "<", const(i), rows), in_cols, none), itemsize)
                    for i, at in enumerate(row_at)]
                for j, (column, at) in enumerate(zip(_transposed(builder, rows_in), column_at)):
                    access.store(column, at, builder.select(builder.icmp_signed(
                        "<", const(j), cols), in_width, none), itemsize)
        return context.get_dummy_value()

    return types.void(x, types.intp, types.intp, types.intp, types.intp, out, types.intp,
                      types.intp, types.intp), codegen


def _transposed(builder, rows: list) -> list:
    """The columns of a square of vectors (its rows): log2 W rounds that swap the off-diagonal
    half x half blocks of every 2half x 2half block by two-source shuffles."""
    rows, lanes = list(rows), len(rows)
    half = lanes // 2
    while half:
        upper = [j if j & half == 0 else lanes + j - half for j in range(lanes)]
        lower = [j + half if j & half == 0 else lanes + j for j in range(lanes)]
        for i in range(lanes):
            if i & half == 0:
                a, b = rows[i], rows[i + half]
                rows[i] = builder.shuffle_vector(a, b, _lane_mask(upper))
                rows[i + half] = builder.shuffle_vector(a, b, _lane_mask(lower))
        half //= 2
    return rows


def _lane_mask(lanes: list[int]) -> ir.Constant:
    return ir.Constant(ir.VectorType(ir.IntType(32), len(lanes)), lanes)


@intrinsic
def copy_vector(typingctx, x, x0, count, out, o0, width):
    """out[o0 + i] = x[x0 + i] for i < count, and 0 for count <= i < width (count <= width <= W,
    W = lanes_of(x); flat arrays of one dtype): one masked load and one masked store, nothing
    outside them read or written. A panel's row of 6 (the wide tile's MR) copied element by
    element cost a loop's overhead per 6 numbers: packing (10000 x 512)^T in panels of 6 took
    1.9x this time."""
    if not _flat_pair(x, out):
        return None

    def codegen(context, builder, signature, args):
        vector, _, itemsize, px, po = _operands(context, builder, signature, args, 3)
        x0, count, o0, width = (args[i] for i in (1, 2, 4, 5))
        access, i32 = MaskedAccess(builder, vector), ir.IntType(32)
        value = access.load(vector_pointer(builder, px, x0, vector),
                            access.lanes_below(builder.trunc(count, i32)), itemsize)
        access.store(value, vector_pointer(builder, po, o0, vector),
                     access.lanes_below(builder.trunc(width, i32)), itemsize)
        return context.get_dummy_value()

    return types.void(x, types.intp, types.intp, out, types.intp, types.intp), codegen


def _flat_pair(x, out) -> bool:
    """Whether the intrinsic's source and destination are 1-D arrays of one dtype."""
    return (isinstance(x, types.Array) and isinstance(out, types.Array)
            and x.ndim == out.ndim == 1 and x.dtype == out.dtype)


def _operands(context, builder, signature, args, out_at: int):
    """(vector type, lanes, itemsize, data pointer of x, data pointer of out) for an intrinsic
    whose first argument is x and whose argument ``out_at`` is out."""
    dtype = signature.args[0].dtype
    _, vector, lanes = vector_type(context, dtype)
    px, po = (context.make_array(signature.args[i])(context, builder, args[i]).data
              for i in (0, out_at))
    return vector, lanes, dtype.bitwidth // 8, px, po
