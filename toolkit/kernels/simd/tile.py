"""The register tile of the numba matrix product (numba_gemm): MR x NV vectors of C held in
registers while k runs, stored whole or, at C's edges, under lane masks."""

from __future__ import annotations

from contextlib import nullcontext

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .vectors import MaskedAccess, multiply_add, prefetcher, splat, vector_pointer, vector_type


def tile_rows(nv: int, registers: int) -> int:
    """MR for a tile NV vectors wide: the accumulators, NV vectors of B and a broadcast of A
    fill the register file (at most 28 rows: beyond that the tile gains nothing)."""
    return min(28, (registers - nv - 1) // nv)


def microkernel(mr: int, nv: int, a_by_rows: bool, prefetch_block: bool = False):
    """An intrinsic ``micro(a, a0, rs, b, b0, ldb, kc, c, c0, ldc, mode, rows, cols)`` that
    computes an ``mr`` x ``nv * lanes`` tile of products, all operands flat 1-D arrays of one
    dtype, and stores its first ``rows`` x ``cols`` of it:

        C(i, j) (+)= sum over p < kc of A(i, p) * b[b0 + p*ldb + j]   for i < rows, j < cols

    where A(i, p) is ``a[a0 + i*rs + p]`` when ``a_by_rows`` (rows of A where they lie) and
    ``a[a0 + p*rs + i]`` otherwise (a packed panel, or the columns of a transposed operand), and
    C(i, j) is ``c[c0 + i*ldc + j]``. The mr x nv vector accumulators stay in registers for
    the whole loop over p; each step loads nv vectors of B's row p, broadcasts mr numbers of
    A's column p, and does mr * nv FMAs.

    ``mode`` ADD adds the tile to C; OVERWRITE writes it, so C need not be cleared first.
    A partial tile at C's edges (rows < mr or cols < nv * lanes) stores its rows under lane
    masks (llvm.masked.store): nothing of C past them is read or written, and no scratch tile
    and copy are needed. A and B must still hold the whole tile's operands (zero padding).
    Reading A's rows in place, the tile prefetches each row ROW_AHEAD elements ahead, one row
    per step. With ``prefetch_block`` the intrinsic takes three more arguments ``(f, f0, ldf)``
    and at each step p asks L2 for the nv vectors at ``f[f0 + p*ldf:]``: the next block of a B
    read in place, fetched while this one computes.
    """

    def typer(a, b, c, fetched=None):
        if not all(isinstance(x, types.Array) and x.ndim == 1 and x.dtype == a.dtype
                   for x in (a, b, c) + ((fetched,) if prefetch_block else ())):
            return None
        return types.void(a, types.intp, types.intp, b, types.intp, types.intp, types.intp, c,
                          types.intp, types.intp, types.intp, types.intp, types.intp,
                          *((fetched, types.intp, types.intp) if prefetch_block else ()))

    def codegen(context, builder, signature, args):
        a_arg, a0_, rs_, b_arg, b0_, ldb_, kc_, c_arg, c0_, ldc_, mode_, rows_, cols_ = args[:13]
        dtype = signature.args[0].dtype
        element, vector, lanes = vector_type(context, dtype)
        itemsize = dtype.bitwidth // 8
        pa, pb, pc = (context.make_array(signature.args[i])(context, builder, arr).data
                      for i, arr in ((0, a_arg), (3, b_arg), (7, c_arg)))
        madd = multiply_add(builder, dtype, vector)
        const = lambda n: ir.Constant(ir.IntType(64), n)  # noqa: E731

        def vector_at(base, offset):
            return vector_pointer(builder, base, offset, vector)

        zero = ir.Constant(vector, None)
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)]
               for _ in range(mr)]
        if a_by_rows:  # one pointer per row of A, each read along k
            rows = [builder.gep(pa, [builder.add(a0_, builder.mul(rs_, const(i)))])
                    for i in range(mr)]
        if prefetch_block:
            pf = context.make_array(signature.args[13])(context, builder, args[13]).data
        fetch_block = prefetcher(builder, 2)      # the next block: into L2, L1 is busy
        fetch_row_ahead = prefetcher(builder, 3)  # a row's next lines, needed soon

        def step(p, fetch_row=None):
            """One step of k: loads of B's row p, broadcasts of A's column p, the FMAs; with
            ``fetch_row``, a prefetch of that row of A ROW_AHEAD elements ahead."""
            if prefetch_block:  # the nv vectors at f[f0 + p*ldf:]
                ahead_row = builder.add(args[14], builder.mul(p, args[15]))
                for v in range(nv):
                    fetch_block(builder.gep(pf, [builder.add(ahead_row, const(v * lanes))]))
            if fetch_row is not None:
                fetch_row_ahead(builder.gep(rows[fetch_row], [builder.add(p, const(ROW_AHEAD))]))
            b_row = builder.add(b0_, builder.mul(p, ldb_))
            bs = [builder.load(vector_at(pb, builder.add(b_row, const(v * lanes))),
                               align=itemsize) for v in range(nv)]
            column = None if a_by_rows else builder.add(a0_, builder.mul(p, rs_))
            for i in range(mr):
                address = (builder.gep(rows[i], [p]) if a_by_rows
                           else builder.gep(pa, [builder.add(column, const(i))]))
                broadcast = splat(builder, builder.load(address), lanes)
                for v in range(nv):
                    builder.store(madd(broadcast, bs[v], builder.load(acc[i][v])), acc[i][v])

        done = const(0)
        if a_by_rows:  # mr steps at a time, each prefetching one row of A: a line per row
            groups = builder.udiv(kc_, const(mr))  # every mr steps covers its 16 elements
            with cgutils.for_range(builder, groups) as loop:
                first = builder.mul(loop.index, const(mr))
                for i in range(mr):
                    step(builder.add(first, const(i)), i)
            done = builder.mul(groups, const(mr))
        with cgutils.for_range_slice(builder, done, kc_, const(1)) as (p, _):
            step(p)
        add = builder.fadd if isinstance(dtype, types.Float) else builder.add
        adding = builder.icmp_signed("==", mode_, const(ADD))
        whole = builder.and_(builder.icmp_signed("==", rows_, const(mr)),
                             builder.icmp_signed("==", cols_, const(nv * lanes)))
        edge = _TileEdge(builder, vector, rows_, cols_, itemsize)
        with builder.if_else(whole) as parts:
            for part, of in zip(parts, (None, edge)):
                with part, builder.if_else(adding) as (then, otherwise):
                    with then:
                        _write_tile(builder, acc, pc, c0_, ldc_, vector_at, itemsize, add, of)
                    with otherwise:
                        _write_tile(builder, acc, pc, c0_, ldc_, vector_at, itemsize, None, of)
        return context.get_dummy_value()

    if prefetch_block:
        @intrinsic
        def micro(typingctx, a, a0, rs, b, b0, ldb, kc, c, c0, ldc, mode, rows, cols, f, f0,
                  ldf):
            sig = typer(a, b, c, f)
            return (sig, codegen) if sig is not None else None
    else:
        @intrinsic
        def micro(typingctx, a, a0, rs, b, b0, ldb, kc, c, c0, ldc, mode, rows, cols):
            sig = typer(a, b, c)
            return (sig, codegen) if sig is not None else None
    return micro


#: How far ahead (in elements) a tile reading A's rows in place prefetches each row.
ROW_AHEAD = 256
#: The microkernel's modes: write its tile over C, or add it to C.
OVERWRITE, ADD = 0, 1


def _write_tile(builder, acc, pc, c0, ldc, vector_at, align, add, edge=None):
    """C's tile from the accumulators: written, or added to C with ``add``; with a _TileEdge,
    only its rows and columns."""
    const = lambda n: ir.Constant(ir.IntType(64), n)  # noqa: E731
    for i, row in enumerate(acc):
        c_row = builder.add(c0, builder.mul(ldc, const(i)))
        with edge.row(i) if edge else nullcontext():
            for v, slot in enumerate(row):
                value = builder.load(slot)
                where = vector_at(pc, builder.add(c_row, const(v * value.type.count)))
                if edge:
                    edge.write(v, where, value, add)
                elif add is not None:
                    builder.store(add(builder.load(where, align=align), value), where, align=align)
                else:
                    builder.store(value, where, align=align)


class _TileEdge:
    """The stores of a partial tile: rows past ``rows`` skipped, and each vector's lanes past
    ``cols`` masked off (llvm.masked.load and llvm.masked.store touch no memory there)."""

    def __init__(self, builder, vector, rows, cols, align):
        self.builder, self.rows, self.align = builder, rows, align
        self.masked = MaskedAccess(builder, vector)
        self.cols = builder.trunc(cols, ir.IntType(32))

    def row(self, i):
        """A block that runs only for the tile's rows below ``rows``."""
        return self.builder.if_then(self.builder.icmp_signed(
            "<", ir.Constant(self.rows.type, i), self.rows))

    def write(self, v, where, value, add):
        """Store (or add, with ``add``) the lanes of vector ``v`` of a row left of ``cols``."""
        b, masked = self.builder, self.masked
        mask = masked.lanes_below(b.sub(self.cols, ir.Constant(self.cols.type, v * masked.lanes)))
        if add is not None:
            value = add(masked.load(where, mask, self.align), value)
        masked.store(value, where, mask, self.align)
