/* float16 and FP8 E4M3FN conversions.
 *
 * float16 is IEEE binary16 (1 sign, 5 exponent bits with bias 15, 10 mantissa bits).
 * E4M3FN (OCP FP8, "fn" = finite + NaN): 1 sign, 4 exponent bits with bias 7, 3 mantissa bits.
 * Exponent field 0 holds subnormals m * 2^-9; there is no infinity; S.1111.111 is NaN, so the
 * largest finite value is 1.110b * 2^8 = 448. Encoding rounds to nearest even and saturates.
 *
 * The `_ref` functions work on values (frexp, ldexp, nearbyint) so that they are plainly right;
 * the scalar fast paths and the SIMD paths work on bits and are tested against them. */
#include "fp8.h"

/* ---------------------------------------------------------------- float16, one value */

static inline uint32_t f32_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static inline float bits_f32(uint32_t b) {
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

uint16_t lmk_f32_to_f16(float x) {
    uint32_t b = f32_bits(x);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    b &= 0x7fffffffu;
    if (b >= 0x7f800000u)  /* inf, or NaN made quiet with the top of its payload (as F16C does) */
        return sign | (b == 0x7f800000u ? 0x7c00u : (uint16_t)(0x7e00u | ((b >> 13) & 0x3ffu)));
    if (b >= 0x47800000u) return sign | 0x7c00u;   /* >= 65536: beyond rounding range, inf */
    if (b < 0x38800000u) {
        /* Below 2^-14 the result is subnormal, a multiple of 2^-24. Adding 0.5 (whose ulp is
         * 2^-24) makes the FPU round to that grid, nearest even; the low bits are the count. */
        float r = bits_f32(b) + 0.5f;
        return sign | (uint16_t)(f32_bits(r) - 0x3f000000u);
    }
    /* Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to
     * nearest even; a carry out of the mantissa correctly bumps the exponent (up to inf). */
    uint32_t odd = (b >> 13) & 1u;
    b += 0xc8000fffu + odd;   /* -(112 << 23) + 0xfff + odd, modulo 2^32 */
    return sign | (uint16_t)(b >> 13);
}

float lmk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)   /* inf, or NaN made quiet (as F16C does) */
        return bits_f32(sign | 0x7f800000u | (m << 13) | (m ? 0x00400000u : 0));
    if (e == 0) {    /* zero or subnormal: m * 2^-24, exact in float */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

void lmk_f32_to_f16_scalar(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = lmk_f32_to_f16(x[i]);
}

void lmk_f16_to_f32_scalar(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = lmk_f16_to_f32(x[i]);
}

/* ---------------------------------------------------------------- FP8 reference */

static uint8_t fp8_encode_ref(float x) {
    uint8_t sign = signbit(x) ? 0x80 : 0;
    if (isnan(x)) return sign | 0x7f;
    double a = fabs((double)x);
    if (a >= 448.0) return sign | 0x7e;   /* saturate, infinity included */
    /* The spacing of E4M3 values around a: 2^(e-3) in the binade [2^e, 2^(e+1)), and the
     * subnormal spacing 2^-9 below 2^-6. a / q is exact, so nearbyint rounds exactly, to even. */
    int e;
    frexp(a, &e);
    int binade = LMK_MAX(e - 1, -6);
    double q = ldexp(1.0, binade - 3);
    double r = nearbyint(a / q) * q;      /* <= 448: 448 is itself a value of the grid */
    if (r == 0) return sign;
    frexp(r, &e);                         /* rounding may have carried into the next binade */
    binade = e - 1;
    if (binade < -6) return sign | (uint8_t)ldexp(r, 9);   /* subnormal: r = m * 2^-9 */
    int mant = (int)(ldexp(r, -binade) * 8.0) - 8;
    return sign | (uint8_t)((binade + 7) << 3) | (uint8_t)mant;
}

static float fp8_decode_ref(uint8_t c) {
    int e = (c >> 3) & 0xf, m = c & 7;
    double v;
    if ((c & 0x7f) == 0x7f)
        v = NAN;
    else if (e == 0)
        v = ldexp((double)m, -9);
    else
        v = ldexp(8.0 + m, e - 10);   /* (1 + m/8) * 2^(e-7) */
    return (float)((c & 0x80) ? -v : v);
}

void lmk_fp8_from_f32_ref(const float *x, uint8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp8_encode_ref(x[i]);
}

void lmk_fp8_to_f32_ref(const uint8_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp8_decode_ref(x[i]);
}

/* ---------------------------------------------------------------- FP8 scalar path */

/* Bit-level encoder, the algorithm the SIMD paths use lane-wise. */
static inline uint8_t fp8_encode_fast(float x) {
    uint32_t b = f32_bits(x);
    uint8_t sign = (uint8_t)((b >> 24) & 0x80u);
    b &= 0x7fffffffu;
    if (b > 0x7f800000u) return sign | 0x7f;
    if (b >= 0x43e00000u) return sign | 0x7e;      /* >= 448 (inf too): saturate */
    if (b < 0x3c800000u) {
        /* Below 2^-6: subnormal grid 2^-9. 16384 has ulp 2^-9, so the add rounds to it. */
        float r = bits_f32(b) + 16384.0f;
        return sign | (uint8_t)(f32_bits(r) - 0x46800000u);
    }
    /* Normal: round the 20 dropped mantissa bits to even, rebias 127 -> 7. A carry into the
     * exponent is right; the largest input below 448 rounds to at most 448 (0x7e). */
    uint32_t odd = (b >> 20) & 1u;
    b += 0x7ffffu + odd;
    return sign | (uint8_t)((b >> 20) - (120u << 3));
}

/* Bit-level decoder: the 7 magnitude bits placed under a float's exponent and mantissa, with
 * the exponent rebiased (7 -> 127), are (1 + m/8) * 2^(e-7); subnormals are m * 2^-9. (No
 * float32 subnormal arithmetic: it is slow on x86.) */
static inline float fp8_decode_fast(uint8_t c) {
    /* branch-free (codes are data-dependent, so branches would mispredict) */
    uint32_t mag = c & 0x7fu;
    float normal = bits_f32((mag << 20) + (120u << 23));
    float sub = (float)(c & 7) * 0x1p-9f;
    float v = (c & 0x78) ? normal : sub;
    v = mag == 0x7f ? NAN : v;
    return bits_f32(f32_bits(v) | ((uint32_t)(c & 0x80) << 24));
}

static void fp8_from_f32_scalar(const float *x, uint8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp8_encode_fast(x[i]);
}

static void fp8_to_f32_scalar(const uint8_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp8_decode_fast(x[i]);
}

/* float16 -> float32 is exact, so encoding through float32 rounds once. */
static void fp8_from_f16_scalar(const uint16_t *x, uint8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fp8_encode_fast(lmk_f16_to_f32(x[i]));
}

/* Every E4M3 value is a float16 value (2^-9 .. 448), so this is exact too. */
static void fp8_to_f16_scalar(const uint8_t *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = lmk_f32_to_f16(fp8_decode_fast(x[i]));
}

static const lmk_fp8_paths paths_scalar = {
    lmk_f32_to_f16_scalar, lmk_f16_to_f32_scalar, fp8_from_f32_scalar,
    fp8_to_f32_scalar,     fp8_from_f16_scalar,   fp8_to_f16_scalar,
};

const lmk_fp8_paths *lmk_fp8_active(void) {
    return LMK_SELECT(&paths_scalar, &lmk_fp8_paths_avx2, &lmk_fp8_paths_avx512, &lmk_fp8_paths_neon);
}

/* ---------------------------------------------------------------- public entry points */

void lmk_f32_to_f16_n(const float *x, uint16_t *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->f32_to_f16(x, y, n);
}

void lmk_f16_to_f32_n(const uint16_t *x, float *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->f16_to_f32(x, y, n);
}

void lmk_fp8_from_f32(const float *x, uint8_t *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->fp8_from_f32(x, y, n);
}

void lmk_fp8_to_f32(const uint8_t *x, float *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->fp8_to_f32(x, y, n);
}

void lmk_fp8_from_f16(const uint16_t *x, uint8_t *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->fp8_from_f16(x, y, n);
}

void lmk_fp8_to_f16(const uint8_t *x, uint16_t *y, int64_t n) {
    if (n > 0) lmk_fp8_active()->fp8_to_f16(x, y, n);
}
