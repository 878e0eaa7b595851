"""Explicit SIMD for the numba kernels: Numba intrinsics that emit LLVM vector instructions of the
target's full width (cpu.target), where LLVM's loop vectorizer would not.

LLVM's vectorizer keeps accumulators only as vectors of partial sums along a loop, and on recent
Intel cores it prefers 256-bit vectors even where AVX-512 doubles the arithmetic. A register tile
of a matrix product wants the opposite arrangement: vectors across the columns of C, held in
registers for the whole k loop. The intrinsics below write such loops in LLVM IR directly.

Numba's on-disk cache checks only the source file of each cached kernel, not the modules it
calls into: after editing this file (or vmath.py), delete the ``*.nbi``/``*.nbc`` files under
``toolkit/kernels/__pycache__`` so that the kernels built on it are compiled again.
"""

from __future__ import annotations

from contextlib import nullcontext

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .cpu import target


def _vector_type(context, dtype) -> tuple[ir.Type, ir.VectorType, int]:
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


def _multiply_add(builder: ir.IRBuilder, dtype, vector: ir.VectorType):
    """A function (x, y, acc) -> acc + x * y on vectors: fused where the CPU has FMA."""
    if isinstance(dtype, types.Float):
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                             f"llvm.fmuladd.{_mangle(vector)}")
        return lambda x, y, acc: builder.call(fma, [x, y, acc])
    return lambda x, y, acc: builder.add(acc, builder.mul(x, y))


def microkernel(mr: int, nv: int, a_by_rows: bool, prefetch: str | None = None):
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
    per step. With ``prefetch`` the intrinsic takes three more arguments ``(f, f0, ldf)``:
    - "block": at each step p it asks L2 for the nv vectors at ``f[f0 + p*ldf:]``, the next
      block of a B read in place, fetched while this one computes;
    - "tile": at each step p < mr it asks L1 for the nv vectors of row p of the next tile of C,
      ``f[f0 + p*ldf:]``, for writing (prefetchw), so that the tile's stores at the end find
      their lines owned instead of waiting for them: with a small k the stores would otherwise
      cost as much as the FMAs.
    """

    def typer(a, b, c, fetched=None):
        if not all(isinstance(x, types.Array) and x.ndim == 1 and x.dtype == a.dtype
                   for x in (a, b, c) + ((fetched,) if prefetch else ())):
            return None
        return types.void(a, types.intp, types.intp, b, types.intp, types.intp, types.intp, c,
                          types.intp, types.intp, types.intp, types.intp, types.intp,
                          *((fetched, types.intp, types.intp) if prefetch else ()))

    def codegen(context, builder, signature, args):
        a_arg, a0_, rs_, b_arg, b0_, ldb_, kc_, c_arg, c0_, ldc_, mode_, rows_, cols_ = args[:13]
        dtype = signature.args[0].dtype
        element, vector, lanes = _vector_type(context, dtype)
        itemsize = dtype.bitwidth // 8
        pa, pb, pc = (context.make_array(signature.args[i])(context, builder, arr).data
                      for i, arr in ((0, a_arg), (3, b_arg), (7, c_arg)))
        madd = _multiply_add(builder, dtype, vector)
        const = lambda n: ir.Constant(ir.IntType(64), n)  # noqa: E731

        def vector_at(base, offset):
            return _vector_pointer(builder, base, offset, vector)

        zero = ir.Constant(vector, None)
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(nv)]
               for _ in range(mr)]
        if a_by_rows:  # one pointer per row of A, each read along k
            rows = [builder.gep(pa, [builder.add(a0_, builder.mul(rs_, const(i)))])
                    for i in range(mr)]
        if prefetch:
            pf = context.make_array(signature.args[13])(context, builder, args[13]).data
        fetch_block = _prefetcher(builder, 2)      # the next block: into L2, L1 is busy
        fetch_row_ahead = _prefetcher(builder, 3)  # a row's next lines, needed soon
        fetch_for_writing = _prefetcher(builder, 3, write=True)

        def fetch_ahead(p, fetch):
            """``fetch`` each of the nv vectors at f[f0 + p*ldf:]."""
            ahead_row = builder.add(args[14], builder.mul(p, args[15]))
            for v in range(nv):
                fetch(builder.gep(pf, [builder.add(ahead_row, const(v * lanes))]))

        def step(p, fetch_row=None):
            """One step of k: loads of B's row p, broadcasts of A's column p, the FMAs; with
            ``fetch_row``, a prefetch of that row of A ROW_AHEAD elements ahead."""
            if prefetch == "block":
                fetch_ahead(p, fetch_block)
            elif prefetch == "tile":
                with builder.if_then(builder.icmp_signed("<", p, const(mr))):
                    fetch_ahead(p, fetch_for_writing)
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

    if prefetch:
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
        self.masked = _MaskedAccess(builder, vector)
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


class _MaskedAccess:
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


def _prefetcher(builder: ir.IRBuilder, locality: int, write: bool = False):
    """A function that asks the cache to fetch the line holding a pointer (llvm.prefetch, which
    never faults): into every level with locality 3, all but L1 with 2; with ``write``, owned
    for writing (prefetchw)."""
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
        ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
    flags = [ir.Constant(i32, int(write)), ir.Constant(i32, locality), ir.Constant(i32, 1)]
    return lambda pointer: builder.call(fn, [builder.bitcast(pointer, i8p), *flags])


@intrinsic
def lanes_of(typingctx, x):
    """The number of ``x``'s elements in one of the target's vectors, as a constant."""
    if not isinstance(x, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, target().lanes(x.dtype.bitwidth // 8))

    return types.intp(x), codegen


@intrinsic
def transpose_block(typingctx, x, x0, ldx, rows, cols, out, o0, ldo, width):
    """out[o0 + j*ldo + i] = X(i, j) for i < width, j < cols, where X(i, j) is x[x0 + i*ldx + j]
    for i < rows and 0 below them (flat arrays of one dtype; rows <= width <= W and cols <= W,
    W = lanes_of(x)). The block is transposed in registers, its rows loaded and its columns
    stored as whole vectors (log2 W rounds of two-source shuffles) where element by element it
    would take W * W strided accesses; a partial block loads and stores under lane masks, and
    nothing outside it is read or written."""
    if not (isinstance(x, types.Array) and isinstance(out, types.Array) and x.ndim == out.ndim == 1
            and x.dtype == out.dtype):
        return None

    def codegen(context, builder, signature, args):
        element, vector, lanes = _vector_type(context, signature.args[0].dtype)
        itemsize = signature.args[0].dtype.bitwidth // 8
        px, po = (context.make_array(signature.args[i])(context, builder, args[i]).data
                  for i in (0, 5))
        x0, ldx, rows, cols, o0, ldo, width = (args[i] for i in (1, 2, 3, 4, 6, 7, 8))
        const = lambda n: ir.Constant(ir.IntType(64), n)  # noqa: E731
        row_at = [_vector_pointer(builder, px, builder.add(x0, builder.mul(ldx, const(i))),
                                  vector) for i in range(lanes)]
        column_at = [_vector_pointer(builder, po, builder.add(o0, builder.mul(ldo, const(j))),
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
                access = _MaskedAccess(builder, vector)
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
def bits_of_float64(typingctx, x):
    """The IEEE-754 bits of the float64 ``x`` as an int64 (vectorizes, unlike a view)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def float64_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (vectorizes, unlike a view)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


def _sparse_setup(context, builder, signature, args, dense_at):
    """Pointers and types shared by the sparse-row intrinsics: (indices, data, dense, out data
    pointers), the vector type and the itemsize."""
    dtype = signature.args[dense_at].dtype
    element, vector, lanes = _vector_type(context, dtype)
    pointers = [context.make_array(signature.args[i])(context, builder, args[i]).data
                for i in range(len(args)) if isinstance(signature.args[i], types.Array)]
    return pointers, vector, dtype.bitwidth // 8


def _vector_pointer(builder, base, offset, vector):
    return builder.bitcast(builder.gep(base, [offset]), vector.as_pointer())


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
        madd = _multiply_add(builder, signature.args[1].dtype, vector)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vector, None))
        i64 = ir.IntType(64)
        with cgutils.for_range_slice(builder, args[2], args[3], ir.Constant(i64, 1)) as (p, _):
            column = builder.sext(builder.load(builder.gep(pi, [p])), i64) \
                if signature.args[0].dtype.bitwidth < 64 else builder.load(builder.gep(pi, [p]))
            at = builder.add(builder.mul(column, args[5]), args[6])
            row = builder.load(_vector_pointer(builder, pdense, at, vector), align=itemsize)
            value = splat(builder, builder.load(builder.gep(pd, [p])), vector.count)
            builder.store(madd(value, row, builder.load(acc)), acc)
        builder.store(builder.load(acc), _vector_pointer(builder, pout, args[8], vector),
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
        madd = _multiply_add(builder, signature.args[1].dtype, vector)
        source = builder.load(_vector_pointer(builder, pdense, args[5], vector), align=itemsize)
        i64 = ir.IntType(64)
        with cgutils.for_range_slice(builder, args[2], args[3], ir.Constant(i64, 1)) as (p, _):
            column = builder.sext(builder.load(builder.gep(pi, [p])), i64) \
                if signature.args[0].dtype.bitwidth < 64 else builder.load(builder.gep(pi, [p]))
            where = _vector_pointer(builder, pout, builder.add(builder.mul(column, args[7]),
                                                               args[8]), vector)
            value = splat(builder, builder.load(builder.gep(pd, [p])), vector.count)
            builder.store(madd(value, source, builder.load(where, align=itemsize)), where,
                          align=itemsize)
        return context.get_dummy_value()

    return sig, codegen


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
        element, vector, lanes = _vector_type(context, dtype)
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

