"""FP8 E4M3FN and float16 conversions against numpy: every code, every rounding boundary,
saturation, NaN, subnormals, on every ISA."""

from __future__ import annotations

import numpy as np
import pytest

import livemind.kernels as K
from livemind import _native

ODD_SIZES = (1, 3, 17, 129, 4097)
LARGEST = 448.0


def e4m3_values() -> np.ndarray:
    """float64 value of each of the 256 codes, from the E4M3FN definition."""
    c = np.arange(256)
    sign = np.where(c & 0x80, -1.0, 1.0)
    e, m = (c >> 3) & 15, c & 7
    mag = np.where(e == 0, 2.0**-6 * (m / 8), 2.0 ** (e - 7.0) * (1 + m / 8))
    return np.where((c & 0x7F) == 0x7F, np.copysign(np.nan, sign), sign * mag)


VALUES = e4m3_values()
POSITIVE = VALUES[:0x7F]  # codes 0 .. 0x7E, increasing


def encode_reference(x) -> np.ndarray:
    """Nearest E4M3FN code in float64 arithmetic, ties to the even code, saturating."""
    x = np.asarray(x, np.float64).ravel()
    a = np.abs(x)
    hi = np.clip(np.searchsorted(POSITIVE, a), 1, 0x7E)  # first grid value >= a (clamped)
    lo = hi - 1
    d_lo, d_hi = a - POSITIVE[lo], POSITIVE[hi] - a
    code = np.where((d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0)), hi, lo)
    code = np.where(np.isnan(a), 0x7F, code)
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def same_values(got, want) -> bool:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return bool(np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want)))


def test_reference_encoder_is_exact_on_codes():
    # the test's own oracle must invert the table, or the tests below prove nothing
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(encode_reference(VALUES), codes)


def test_decode_every_code(each_isa):
    codes = np.arange(256, dtype=np.uint8)
    assert same_values(K.fp8_decode(codes), VALUES)
    f16 = K.fp8_decode(codes, dtype=np.float16)
    assert f16.dtype == np.float16
    assert same_values(f16, VALUES)
    assert same_values(_native_ref_decode(codes), VALUES)


def _native_ref_decode(codes: np.ndarray) -> np.ndarray:
    out = np.empty(codes.shape, np.float32)
    _native.fp8_to_f32_ref(codes, out, codes.size)
    return out


def test_encode_decode_round_trip(each_isa):
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(K.fp8_encode(K.fp8_decode(codes)), codes)  # NaN codes keep their sign
    assert np.array_equal(K.fp8_encode(K.fp8_decode(codes, dtype=np.float16)), codes)


def test_rounding_boundaries(each_isa):
    lo, hi = POSITIVE[:-1], POSITIVE[1:]
    mid = ((lo + hi) / 2).astype(np.float32)  # exact: 5 significant bits
    below = np.nextafter(mid, np.float32(0))
    above = np.nextafter(mid, np.float32(np.inf))
    c = np.arange(0x7E)
    even = np.where(c % 2 == 1, c + 1, c)
    assert np.array_equal(K.fp8_encode(mid), even)
    assert np.array_equal(K.fp8_encode(below), c)
    assert np.array_equal(K.fp8_encode(above), c + 1)
    assert np.array_equal(K.fp8_encode(-mid), even | 0x80)
    assert np.array_equal(K.fp8_encode(-above), (c + 1) | 0x80)


def test_saturation_nan_and_subnormals(each_isa):
    big = np.array([448.0, 448.1, 463.9, 464.0, 480.0, 1e6, 3.4e38, np.inf], np.float32)
    assert np.all(K.fp8_encode(big) == 0x7E)
    assert np.all(K.fp8_encode(-big) == 0xFE)
    with np.errstate(over="ignore"):  # 1e6 and up are inf in float16
        big16 = big.astype(np.float16)
    assert np.all(K.fp8_encode(big16) == 0x7E)
    assert np.array_equal(K.fp8_encode(np.array([np.nan, -np.nan], np.float32)), [0x7F, 0xFF])
    assert np.array_equal(K.fp8_encode(np.array([np.nan, -np.nan], np.float16)), [0x7F, 0xFF])
    assert np.isnan(K.fp8_decode(np.array([0x7F, 0xFF], np.uint8))).all()
    sub = np.array([2.0**-9, 2.0**-10, 1.5 * 2**-9, 1.5 * 2**-10, 2.0**-11, 7 * 2.0**-9, 7.5 * 2.0**-9,
                    -1e-30, -0.0, 0.0], np.float32)
    assert np.array_equal(K.fp8_encode(sub), [1, 0, 2, 1, 0, 7, 8, 0x80, 0x80, 0])
    assert K.fp8_decode(np.array([1], np.uint8))[0] == 2.0**-9


def random_wide(rng, n: int) -> np.ndarray:
    """Magnitudes spread over 2^-14 .. 2^11 (subnormal to saturating), both signs, some edges."""
    x = rng.uniform(1, 2, n) * 2.0 ** rng.integers(-14, 11, n) * rng.choice([-1, 1], n)
    x[: min(n, 6)] = [0.0, -0.0, np.inf, -np.nan, 448.0, 2.0**-10][: min(n, 6)]
    return x.astype(np.float32)


@pytest.mark.parametrize("n", ODD_SIZES)
def test_encode_random_matches_numpy(each_isa, rng, n):
    x = random_wide(rng, n)
    assert np.array_equal(K.fp8_encode(x), encode_reference(x))
    with np.errstate(over="ignore"):
        h = x.astype(np.float16)
    assert np.array_equal(K.fp8_encode(h), encode_reference(h.astype(np.float64)))
    codes = rng.integers(0, 256, n).astype(np.uint8)
    assert same_values(K.fp8_decode(codes), VALUES[codes])
    assert same_values(K.fp8_decode(codes, np.float16), VALUES[codes])


def test_any_shape_and_layout(rng):
    x = random_wide(rng, 2 * 3 * 17).reshape(2, 3, 17)
    codes = K.fp8_encode(x)
    assert codes.shape == (2, 3, 17) and codes.dtype == np.uint8
    assert np.array_equal(codes.ravel(), encode_reference(x))
    strided = x[:, ::2, ::3]  # not contiguous
    assert np.array_equal(K.fp8_encode(strided), encode_reference(strided).reshape(strided.shape))
    assert K.fp8_decode(codes).shape == (2, 3, 17)
    assert K.fp8_encode(np.zeros((0, 4), np.float32)).shape == (0, 4)
    assert K.fp8_encode(np.float32(1.0)).shape == ()


def test_bad_arguments():
    with pytest.raises(ValueError, match="x must have dtype float32 or float16"):
        K.fp8_encode(np.ones(3))  # float64 would round twice
    with pytest.raises(ValueError, match="x must have dtype"):
        K.fp8_encode(np.ones(3, np.int32))
    with pytest.raises(ValueError, match="codes must have dtype uint8"):
        K.fp8_decode(np.ones(3, np.int8))
    with pytest.raises(ValueError, match="dtype must be float32 or float16"):
        K.fp8_decode(np.ones(3, np.uint8), dtype=np.float64)
    with pytest.raises(ValueError, match="dtype must be float32 or float16"):
        K.fp8_decode(np.ones(3, np.uint8), dtype="nonsense")


# ---------------------------------------------------------------- float16

def f16_edge_values() -> np.ndarray:
    """Every float16 value, the midpoints between neighbours and one float32 ulp either side,
    overflow and underflow edges."""
    all_h = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    nxt = np.append(all_h[1:], 65536.0)
    mid = ((all_h + nxt) / 2).astype(np.float32)
    extra = np.array([65504, 65519.99, 65520, 1e6, np.inf, 1e-10, 2.0**-25, 3 * 2.0**-26], np.float32)
    x = np.concatenate([all_h.astype(np.float32), mid, np.nextafter(mid, np.float32(0)),
                        np.nextafter(mid, np.float32(np.inf)), extra])
    return np.concatenate([x, -x])


def test_f16_conversions_match_numpy(each_isa, rng):
    x = np.concatenate([f16_edge_values(), rng.standard_normal(4097).astype(np.float32) * 100])
    got = np.empty(x.shape, np.uint16)
    _native.f32_to_f16(x, got, x.size)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    assert np.array_equal(got, want.view(np.uint16))
    back = np.empty(x.shape, np.float32)
    _native.f16_to_f32(got, back, x.size)
    assert np.array_equal(back, got.view(np.float16).astype(np.float32))
    nan = np.array([np.nan, -np.nan], np.float32)
    h = np.empty(2, np.uint16)
    _native.f32_to_f16(nan, h, 2)
    assert np.isnan(h.view(np.float16)).all() and list(np.signbit(h.view(np.float16))) == [False, True]


def test_f16_odd_sizes(each_isa, rng):
    for n in ODD_SIZES:
        x = rng.standard_normal(n).astype(np.float32) * 1000
        got = np.empty(n, np.uint16)
        _native.f32_to_f16(x, got, n)
        assert np.array_equal(got, x.astype(np.float16).view(np.uint16)), n
