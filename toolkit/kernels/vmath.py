"""exp, tanh and sigmoid over spans of arrays for the numba kernels, at the CPU's full vector width:
Intel's short vector math library (SVML, from the ``intel-cmplr-lib-rt`` package) where it is
installed, else polynomials that LLVM vectorizes. float32 tanh is a rational function everywhere
(tanh32): it is faster than SVML's routine.

Numba stopped routing ``np.exp`` through SVML in 0.62 (its LLVM no longer carries the patch), so a
loop of ``np.exp`` calls libm once per element, 10 to 50 times slower than a vector routine. The
SVML routines are called here directly: ``__svml_expf16`` takes and returns 16 float32 in one
AVX-512 register (``__svml_expf8`` eight with AVX2). Without SVML, or with
``NUMBA_DISABLE_INTEL_SVML=1``, the polynomials below serve: exp by reduction to
2^n * exp(r), |r| <= ln2/2, and tanh through expm1, in float64 (accurate to a few ulp of it)
with only arithmetic, floor and bit casts, which LLVM turns into vector code; float32 exp and
sigmoid by the same reduction in float32 (exp32, within 2 ulp), at eight or sixteen lanes
where float64 would have four or eight: four times the speed of the float64 polynomial on an
AVX2 core, and faster than NumPy's float32 exp.

Which one serves is fixed at import (``LIBRARY``). The kernels take ``TAG``, a zero-length array
whose dtype names the library, as an argument: the two builds then differ in their signature, and
Numba's on-disk cache never hands a process a build that calls a library it has not loaded.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .cpu import target
from .simd.vectors import lanes_of, splat

#: The tags: which vector math library a kernel is compiled against.
SVML_TAG = np.empty(0, np.uint8)
FALLBACK_TAG = np.empty(0, np.int8)

_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
#: 1/k! for k = 13 down to 2: the Taylor series of exp(r) - 1 - r, to float64 rounding for
#: |r| <= ln2/2.
_TAYLOR = tuple(1.0 / np.prod(np.arange(1.0, k + 1)) for k in range(13, 1, -1))
#: 1.5 * 2^52: adding it to an integer-valued float64 leaves the integer in the low bits.
_ROUNDER = 6755399441055744.0
_ROUNDER_BITS = np.int64(np.float64(_ROUNDER).view(np.int64))
#: Beyond these exp(x) is inf or 0 in float64; clamping keeps the 2^n scale finite.
_EXP_LO, _EXP_HI = -745.2, 709.8


def _svml_paths() -> list[str]:
    """Where libsvml.so may be: the intel-cmplr-lib-rt wheel's files, then wherever the dynamic
    loader finds it (an oneAPI install on LD_LIBRARY_PATH)."""
    try:
        files = importlib.metadata.distribution("intel-cmplr-lib-rt").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    return [str(Path(f.locate()).resolve()) for f in files if f.name == "libsvml.so"] + [
        "libsvml.so"]


def _load_svml() -> bool:
    """Load SVML for Numba's JIT linker (a wheel's copy after the libintlc beside it, which it
    needs and which the loader would not find); False where it cannot be loaded or is disabled
    (NUMBA_DISABLE_INTEL_SVML=1)."""
    import llvmlite.binding as llvm
    from numba.core import config

    if config.DISABLE_INTEL_SVML:
        return False
    for path in _svml_paths():
        try:
            if Path(path).is_absolute():
                for helper in sorted(Path(path).parent.glob("libintlc.so.[0-9]*")):
                    llvm.load_library_permanently(str(helper))
            llvm.load_library_permanently(path)
            return True
        except RuntimeError:
            continue
    return False


LIBRARY = "svml" if _load_svml() else "fallback"
TAG = SVML_TAG if LIBRARY == "svml" else FALLBACK_TAG

#: SVML's suffixes for the routines of one instruction set, by the features it needs and the
#: vector width the kernels use: AVX-512 (z0), AVX2 with FMA (l9), AVX (e9).
_ISA_VARIANTS = ((("avx512f",), 64, "_z0"), (("avx2", "fma"), 32, "_l9"), (("avx",), 32, "_e9"))


def _routine(base: str) -> str:
    """The name of SVML's routine ``base`` (``__svml_expf8``) to call on this CPU: the variant
    for its instruction set (``__svml_expf8_l9`` for AVX2) where the library has one, else
    ``base``, a dispatcher that picks a variant at every call. Called directly, the AVX2
    variant took 0.70-0.72 of the dispatcher's time on an AMD EPYC (Zen 3), same results."""
    import llvmlite.binding as llvm

    cpu = target()
    for needs, vector_bytes, suffix in _ISA_VARIANTS:
        if (cpu.vector_bytes == vector_bytes and cpu.features.issuperset(needs)
                and llvm.address_of_symbol(base + suffix)):
            return base + suffix
    return base


def _svml(name: str, around=None, shifted: bool = False):
    """An intrinsic ``f(src, dst, i)``: dst[i:i+W] = name(src[i:i+W]) by SVML's routine for W
    elements (W = lanes_of(src)), e.g. __svml_expf16 for float32 with AVX-512; with ``around``
    a function (builder, routine, x vector) -> result vector that builds more arithmetic around
    the routine, all in registers; ``shifted`` takes a fourth argument s and applies the
    routine to src - s (softmax's exp(x - max))."""

    def check(src, dst):
        return (isinstance(src, types.Array) and isinstance(dst, types.Array)
                and src.dtype in (types.float32, types.float64) and dst.dtype == src.dtype)

    def codegen(context, builder, signature, args):
        dtype = signature.args[0].dtype
        element = context.get_value_type(dtype)
        lanes = target().lanes(dtype.bitwidth // 8)
        vector = ir.VectorType(element, lanes)
        suffix = "f" if dtype == types.float32 else ""
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector]),
                                            _routine(f"__svml_{name}{suffix}{lanes}"))
        where = [builder.bitcast(builder.gep(context.make_array(t)(context, builder, a).data,
                                             [args[2]]), vector.as_pointer())
                 for t, a in zip(signature.args[:2], args[:2])]
        value = builder.load(where[0], align=dtype.bitwidth // 8)
        if shifted:
            shift = context.cast(builder, args[3], signature.args[3], dtype)
            value = builder.fsub(value, splat(builder, shift, lanes))
        routine = lambda v: builder.call(fn, [v])  # noqa: E731
        result = around(builder, routine, value) if around else routine(value)
        builder.store(result, where[1], align=dtype.bitwidth // 8)
        return context.get_dummy_value()

    if shifted:
        @intrinsic
        def apply(typingctx, src, dst, i, shift):
            if check(src, dst) and isinstance(shift, types.Float):
                return types.void(src, dst, types.intp, shift), codegen
            return None
    else:
        @intrinsic
        def apply(typingctx, src, dst, i):
            if check(src, dst):
                return types.void(src, dst, types.intp), codegen
            return None
    return apply


def _splat(vector: ir.VectorType, number: float) -> ir.Constant:
    return ir.Constant(vector, [ir.Constant(vector.element, number)] * vector.count)


def _logistic(builder, exp, x):
    """1 / (1 + exp(-x)): exp(-x) is inf for very negative x, and 1 / (1 + inf) the correct 0."""
    one = _splat(x.type, 1.0)
    return builder.fdiv(one, builder.fadd(one, exp(builder.fneg(x))))


_svml_exp, _svml_tanh = _svml("exp"), _svml("tanh")
_svml_sigmoid = _svml("exp", _logistic)
_svml_exp_shifted = _svml("exp", shifted=True)


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


#: exp32's reduction and polynomial (Cephes' expf): ln2 in a part exact in float32 and the rest,
#: and exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2, within 2 ulp of float32.
_LN2_HI32, _LN2_LO32 = np.float32(0.693359375), np.float32(-2.12194440e-4)
_EXP32 = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                       4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
#: 1.5 * 2^23: adding it to a float32 below 2^22 in size rounds to an integer held in its low bits.
_ROUNDER32 = np.float32(12582912.0)
#: Beyond these exp(x) is inf or 0 in float32 (subnormals included); clamping keeps n small.
_EXP32_LO, _EXP32_HI = np.float32(-104.0), np.float32(89.0)
_LOG2E32, _ONE32 = np.float32(_LOG2E), np.float32(1.0)


@intrinsic
def _times_pow2(typingctx, p, rounded):
    """p * 2^n for the float32 ``rounded`` = n + 1.5 * 2^23, whose low bits hold n: 2^n built
    from bits in two halves, so that results down to the smallest subnormal, and overflow to
    inf, come out right. Its integer arithmetic is int32 here, where Numba would widen it to
    int64 and halve the lanes of the vector code."""
    if p != types.float32 or rounded != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32, f32 = ir.IntType(32), ir.FloatType()
        const = lambda n: ir.Constant(i32, n)  # noqa: E731
        n = builder.sub(builder.bitcast(args[1], i32),
                        const(int(_ROUNDER32.view(np.int32))))
        half = builder.ashr(n, const(1))
        scale = [builder.bitcast(builder.shl(builder.add(e, const(127)), const(23)), f32)
                 for e in (half, builder.sub(n, half))]
        return builder.fmul(builder.fmul(args[0], scale[0]), scale[1])

    return types.float32(types.float32, types.float32), codegen


@njit(error_model="numpy", fastmath={"contract"})
def exp32(x):
    """e^x of a float32 in float32 arithmetic: n = round(x / ln2) (by adding 1.5 * 2^23),
    r = x - n ln2, 2^n (1 + r + r^2 P(r)). NaN stays NaN."""
    c = _EXP32_LO if x < _EXP32_LO else (_EXP32_HI if x > _EXP32_HI else x)  # NaN passes
    rounded = c * _LOG2E32 + _ROUNDER32
    n = rounded - _ROUNDER32
    r = (c - n * _LN2_HI32) - n * _LN2_LO32
    q = _EXP32[0]
    for coefficient in _EXP32[1:]:
        q = q * r + coefficient
    return _times_pow2(q * (r * r) + r + _ONE32, rounded)


@njit(error_model="numpy", fastmath={"contract"})
def sigmoid32(x):
    """1 / (1 + e^-x) of a float32 in float32 arithmetic (exp32)."""
    return _ONE32 / (_ONE32 + exp32(-x))


@njit(error_model="numpy")
def _pow2(k):
    """2.0 ** k for an integer k with -1022 <= k <= 1023, built from its bits."""
    return float64_from_bits((k + 1023) << 52)


@njit(error_model="numpy")
def _reduce(x):
    """(k, r) with x = k ln2 + r, |r| <= ln2/2 (ln2 in two parts, so r is exact); k is 0 for a
    NaN x, whose r stays NaN. k is read from the bits of n + 1.5 * 2^52, whose low bits hold
    the integer n: AVX2 has no vector conversion from float64 to int64 (AVX-512 has)."""
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    return bits_of_float64((n if n == n else 0.0) + _ROUNDER) - _ROUNDER_BITS, r


@njit(error_model="numpy")
def _expm1_small(r):
    """exp(r) - 1 for |r| <= ln2/2, by its Taylor series (Horner)."""
    q = _TAYLOR[0]
    for c in _TAYLOR[1:]:
        q = q * r + c
    return r + r * r * q


@njit(error_model="numpy")
def exp64(x):
    """e^x in float64 from arithmetic alone: 2^n (1 + expm1(r)), the scale in two halves so that
    results down to the smallest subnormal come out right. NaN stays NaN."""
    clamped = _EXP_LO if x < _EXP_LO else (_EXP_HI if x > _EXP_HI else x)  # NaN passes
    k, r = _reduce(clamped)
    half = k >> 1
    return (1.0 + _expm1_small(r)) * _pow2(half) * _pow2(k - half)


@njit(error_model="numpy")
def tanh64(x):
    """tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)) with the sign of x; expm1(y) as
    2^n expm1(r) + (2^n - 1), exact near 0 where 1 - e^y would cancel."""
    y = -2.0 * abs(x)
    k, r = _reduce(-40.0 if y < -40.0 else y)  # tanh(20) is 1 in float64; NaN passes
    scale = _pow2(k)
    e = scale * _expm1_small(r) + (scale - 1.0)
    return np.copysign(-e / (2.0 + e), x)


#: Eigen's rational approximation of tanh in float32: x P(x^2) / Q(x^2) on |x| <= _TANH_CLAMP,
#: where it reaches 1.0; within 3e-7 of tanh (2 ulp) everywhere, and vectorized by LLVM.
_P13, _P11, _P9, _P7, _P5, _P3, _P1 = (np.float32(c) for c in (
    -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
    1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))
_Q6, _Q4, _Q2, _Q0 = (np.float32(c) for c in (
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))
_TANH_CLAMP = np.float32(7.90531110763549805)


@njit(error_model="numpy", fastmath={"contract"})
def tanh32(x):
    """tanh of a float32 by the rational function above: on a single core faster than SVML's
    routine and NumPy's (two short polynomials and a division). NaN stays NaN, -0 stays -0."""
    c = _TANH_CLAMP if x > _TANH_CLAMP else (-_TANH_CLAMP if x < -_TANH_CLAMP else x)
    x2 = c * c
    p = (((((_P13 * x2 + _P11) * x2 + _P9) * x2 + _P7) * x2 + _P5) * x2 + _P3) * x2 + _P1
    q = ((_Q6 * x2 + _Q4) * x2 + _Q2) * x2 + _Q0
    return c * p / q


def exp_span(src, dst, lo, hi, tag):
    """dst[lo:hi] = exp(src[lo:hi]) (src may be dst) with the library ``tag`` names."""


def tanh_span(src, dst, lo, hi, tag):
    """dst[lo:hi] = tanh(src[lo:hi]) (src may be dst) with the library ``tag`` names."""


@njit(error_model="numpy")
def sigmoid64(x):
    """1 / (1 + e^-x): exp(-x) is inf for very negative x, and 1 / (1 + inf) the correct 0."""
    return 1.0 / (1.0 + exp64(-x))


@njit(error_model="numpy")
def _sigmoid_scalar(x):
    return 1 / (1 + np.exp(-x))


def exp_shifted_span(src, dst, lo, hi, shift, tag):
    """dst[lo:hi] = exp(src[lo:hi] - shift) (src may be dst) with the library ``tag`` names."""


@overload(exp_shifted_span)
def _exp_shifted_span(src, dst, lo, hi, shift, tag):
    if tag.dtype == types.uint8 and src.dtype in (types.float32, types.float64):
        def with_svml(src, dst, lo, hi, shift, tag):
            width = lanes_of(src)
            i = lo
            while i + width <= hi:
                _svml_exp_shifted(src, dst, i, shift)
                i += width
            for j in range(i, hi):
                dst[j] = np.exp(src[j] - shift)
        return with_svml

    if src.dtype == types.float32:
        def with_fallback32(src, dst, lo, hi, shift, tag):
            xs, out, s = src[lo:hi], dst[lo:hi], np.float32(shift)
            for j in range(hi - lo):
                out[j] = exp32(xs[j] - s)
        return with_fallback32

    def with_fallback(src, dst, lo, hi, shift, tag):
        xs, out = src[lo:hi], dst[lo:hi]
        for j in range(hi - lo):
            out[j] = exp64(np.float64(xs[j]) - np.float64(shift))
    return with_fallback


def sigmoid_span(src, dst, lo, hi, tag):
    """dst[lo:hi] = 1 / (1 + exp(-src[lo:hi])) (src may be dst), with the library ``tag``
    names."""


def _spans(svml_apply, scalar, fallback, fallback32=None):
    """The @overload body of exp_span or sigmoid_span: SVML a vector at a time, with ``scalar``
    (libm) for the last few elements; or the vectorizable ``fallback`` (in float64), or for
    float32 ``fallback32`` (in float32) where given."""

    def choose(src, dst, lo, hi, tag):
        if tag.dtype == types.uint8 and src.dtype in (types.float32, types.float64):
            def with_svml(src, dst, lo, hi, tag):
                width = lanes_of(src)
                i = lo
                while i + width <= hi:
                    svml_apply(src, dst, i)
                    i += width
                for j in range(i, hi):
                    dst[j] = scalar(src[j])
            return with_svml

        if fallback32 is not None and src.dtype == types.float32:
            def with_fallback32(src, dst, lo, hi, tag):
                xs, out = src[lo:hi], dst[lo:hi]
                for j in range(hi - lo):
                    out[j] = fallback32(xs[j])
            return with_fallback32

        def with_fallback(src, dst, lo, hi, tag):
            xs, out = src[lo:hi], dst[lo:hi]
            for j in range(hi - lo):
                out[j] = fallback(np.float64(xs[j]))
        return with_fallback

    return choose


overload(exp_span)(_spans(_svml_exp, np.exp, exp64, exp32))
@overload(tanh_span)
def _tanh_span(src, dst, lo, hi, tag):
    if src.dtype == types.float32:
        def rational(src, dst, lo, hi, tag):
            xs, out = src[lo:hi], dst[lo:hi]
            for j in range(hi - lo):
                out[j] = tanh32(xs[j])
        return rational
    return _spans(_svml_tanh, np.tanh, tanh64)(src, dst, lo, hi, tag)
overload(sigmoid_span)(_spans(_svml_sigmoid, _sigmoid_scalar, sigmoid64, sigmoid32))
