/* float16 and FP8 E4M3FN conversions: exhaustive over codes, rounding boundaries, saturation,
 * NaN and subnormals, and every ISA's array path byte-exact against the scalar reference. */
#include "harness.h"

#include <string.h>

/* E4M3FN decoded from its definition, independently of fp8.c: (-1)^s 2^(e-7) (1 + m/8), or
 * 2^-6 (m/8) when e == 0; S.1111.111 is NaN. */
static double e4m3_value(int c) {
    int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
    if ((c & 0x7f) == 0x7f) return NAN;
    double v = e == 0 ? pow(2.0, -6) * (m / 8.0) : pow(2.0, e - 7) * (1.0 + m / 8.0);
    return s ? -v : v;
}

static double f16_value(int h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else v = e == 0 ? pow(2.0, -14) * (m / 1024.0) : pow(2.0, e - 15) * (1.0 + m / 1024.0);
    return s ? -v : v;
}

static int same_value(double got, double want) {
    if (isnan(want)) return isnan(got);
    return got == want && signbit(got) == signbit(want);
}

/* ---------------------------------------------------------------- float16 */

static void test_f16_scalar(void) {
    int bad = 0, bad_round = 0, bad_mid = 0;
    for (int h = 0; h < 65536; h++) {
        float f = lmk_f16_to_f32((uint16_t)h);
        if (!same_value(f, f16_value(h))) bad++;
        if (isnan(f)) {
            uint16_t back = lmk_f32_to_f16(f);
            if ((back & 0x7c00) != 0x7c00 || !(back & 0x3ff) || (back & 0x8000) != (h & 0x8000)) bad_round++;
        } else if (lmk_f32_to_f16(f) != h) {
            bad_round++;
        }
    }
    /* Midpoints between neighbours (exact in float32) go to the even code; one float32 ulp either
     * side goes to the nearer one. Covers subnormals, binade steps and 65504 -> inf. */
    for (int h = 0; h < 0x7c00; h++) {
        double lo = f16_value(h), hi = h + 1 == 0x7c00 ? 65536.0 : f16_value(h + 1);
        float mid = (float)((lo + hi) / 2);
        int even = (h & 1) ? h + 1 : h;
        if (lmk_f32_to_f16(mid) != even) bad_mid++;
        if (lmk_f32_to_f16(nextafterf(mid, 0)) != h) bad_mid++;
        if (lmk_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1) bad_mid++;
        if (lmk_f32_to_f16(-mid) != (even | 0x8000)) bad_mid++;
    }
    expect_true("f16 decode all 65536 codes", bad == 0);
    expect_true("f16 encode(decode(h)) == h", bad_round == 0);
    expect_true("f16 midpoints round to even", bad_mid == 0);
    expect_true("f16 65520 -> inf, 1e6 -> inf, -inf", lmk_f32_to_f16(65520.0f) == 0x7c00 &&
                                                          lmk_f32_to_f16(1e6f) == 0x7c00 &&
                                                          lmk_f32_to_f16(-INFINITY) == 0xfc00);
    expect_true("f16 tiny -> signed zero", lmk_f32_to_f16(1e-10f) == 0 && lmk_f32_to_f16(-1e-10f) == 0x8000);
    expect_true("f16 NaN keeps sign", lmk_f32_to_f16(-NAN) == 0xfe00 && lmk_f32_to_f16(NAN) == 0x7e00);
}

/* Values that hit every branch: both signs, zeros, subnormals of both formats, binade edges,
 * overflow, inf, NaN; then random magnitudes over 2^-30 .. 2^20. */
static void fill_edge_and_random(float *x, int64_t n) {
    static const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 448.0f, 464.0f, 480.0f, 65504.0f, 65520.0f,
                                  1e6f, -1e6f, INFINITY, -INFINITY, NAN, -NAN, 5.96e-8f, 2.98e-8f,
                                  1.953125e-3f, 9.765625e-4f, 0x1p-6f, 0x1.fp-7f, 1e-30f, 1.5f, 0.3f};
    for (int64_t i = 0; i < n; i++) {
        if (i < (int64_t)(sizeof edges / sizeof edges[0]) && i * 7 % 3 != 1) {
            x[i] = edges[i];
        } else {
            float mag = ldexpf(rng_uniform(1.0f, 2.0f), (int)rng_uniform(-30.0f, 20.0f));
            x[i] = rng_uniform(-1.0f, 1.0f) < 0 ? -mag : mag;
        }
    }
}

static void test_f16_arrays(void) {
    rng_seed(16);
    for (int s = 0; s < LMK_N_ODD_SIZES; s++) {
        int64_t n = LMK_ODD_SIZES[s];
        float *x = malloc(n * sizeof *x), *back = malloc(n * sizeof *back), *want_back = malloc(n * sizeof *back);
        uint16_t *h = malloc(n * sizeof *h), *want = malloc(n * sizeof *want);
        fill_edge_and_random(x, n);
        for (int64_t i = 0; i < n; i++) want[i] = lmk_f32_to_f16(x[i]);
        for (int64_t i = 0; i < n; i++) want_back[i] = lmk_f16_to_f32(want[i]);
        FOR_EACH_ISA(isa) {
            char what[64];
            memset(h, 0xAA, n * sizeof *h);
            lmk_f32_to_f16_n(x, h, n);
            snprintf(what, sizeof what, "f32_to_f16_n n=%lld", (long long)n);
            expect_equal_bytes(what, h, want, n * sizeof *h);
            lmk_f16_to_f32_n(want, back, n);
            snprintf(what, sizeof what, "f16_to_f32_n n=%lld", (long long)n);
            expect_equal_bytes(what, back, want_back, n * sizeof *back);
        }
        free(x), free(back), free(want_back), free(h), free(want);
    }
}

/* ---------------------------------------------------------------- FP8 */

static void test_fp8_codes(void) {
    float got[256];
    uint8_t codes[256], back[256];
    for (int c = 0; c < 256; c++) codes[c] = (uint8_t)c;
    lmk_fp8_to_f32_ref(codes, got, 256);
    int bad = 0;
    for (int c = 0; c < 256; c++) bad += !same_value(got[c], e4m3_value(c));
    expect_true("fp8 ref decodes all 256 codes", bad == 0);
    expect_true("fp8 largest is 448, smallest subnormal 2^-9", got[0x7e] == 448.0f && got[1] == 0x1p-9f);

    FOR_EACH_ISA(isa) {
        float dec[256];
        lmk_fp8_to_f32(codes, dec, 256);
        bad = 0;
        for (int c = 0; c < 256; c++) bad += !same_value(dec[c], e4m3_value(c));
        expect_true("fp8 decode all 256 codes", bad == 0);
        lmk_fp8_from_f32(dec, back, 256);
        bad = 0;
        for (int c = 0; c < 256; c++) bad += back[c] != c;   /* NaN codes keep their sign too */
        expect_true("fp8 encode(decode(c)) == c, NaN codes included", bad == 0);

        uint16_t h[256];
        lmk_fp8_to_f16(codes, h, 256);
        bad = 0;
        for (int c = 0; c < 256; c++) bad += !same_value(lmk_f16_to_f32(h[c]), e4m3_value(c));
        expect_true("fp8 to f16 all codes exact", bad == 0);
        lmk_fp8_from_f16(h, back, 256);
        expect_equal_bytes("fp8 from f16 round trip", back, codes, 256);
    }
}

/* Encodes one value with the reference and with the active ISA's path (in an array of 19 so
 * that the SIMD body, not only a tail, sees it). Returns the reference code, or -1 on mismatch. */
static int encode_both(float x) {
    float xs[19];
    uint8_t ref, got[19];
    for (int i = 0; i < 19; i++) xs[i] = x;
    lmk_fp8_from_f32_ref(&x, &ref, 1);
    lmk_fp8_from_f32(xs, got, 19);
    for (int i = 0; i < 19; i++)
        if (got[i] != ref) return -1;
    return ref;
}

static void test_fp8_rounding(void) {
    FOR_EACH_ISA(isa) {
        int bad = 0;
        /* every pair of neighbours, subnormals included, both signs */
        for (int c = 0; c < 0x7e; c++) {
            double lo = e4m3_value(c), hi = e4m3_value(c + 1);
            float mid = (float)((lo + hi) / 2);
            int even = (c & 1) ? c + 1 : c;
            bad += encode_both(mid) != even;
            bad += encode_both(nextafterf(mid, 0)) != c;
            bad += encode_both(nextafterf(mid, INFINITY)) != c + 1;
            bad += encode_both(-mid) != (even | 0x80);
            bad += encode_both(-nextafterf(mid, INFINITY)) != ((c + 1) | 0x80);
        }
        expect_true("fp8 midpoints to even, just above/below to nearest", bad == 0);

        static const float sat[] = {448.0f, 448.1f, 463.9f, 464.0f, 480.0f, 1e6f, 3.4e38f, INFINITY};
        bad = 0;
        for (size_t i = 0; i < sizeof sat / sizeof sat[0]; i++) {
            bad += encode_both(sat[i]) != 0x7e;
            bad += encode_both(-sat[i]) != 0xfe;
        }
        expect_true("fp8 saturates to +-448 (inf too)", bad == 0);
        expect_true("fp8 NaN -> 0x7f / 0xff", encode_both(NAN) == 0x7f && encode_both(-NAN) == 0xff);
        expect_true("fp8 subnormals", encode_both(0x1p-9f) == 1 && encode_both(0x1p-10f) == 0 &&
                                          encode_both(0x1.8p-9f) == 2 && encode_both(0x1.8p-10f) == 1 &&
                                          encode_both(0x1p-11f) == 0 && encode_both(-1e-30f) == 0x80 &&
                                          encode_both(7 * 0x1p-9f) == 7 && encode_both(0x1.ep-7f) == 8 &&
                                          encode_both(-0.0f) == 0x80);
    }
}

static void test_fp8_arrays(void) {
    rng_seed(8);
    for (int s = 0; s < LMK_N_ODD_SIZES; s++) {
        int64_t n = LMK_ODD_SIZES[s];
        float *x = malloc(n * sizeof *x), *dec = malloc(n * sizeof *dec), *want_dec = malloc(n * sizeof *dec);
        uint8_t *want = malloc(n), *got = malloc(n);
        uint16_t *h = malloc(n * sizeof *h), *h_got = malloc(n * sizeof *h), *h_want = malloc(n * sizeof *h);
        fill_edge_and_random(x, n);
        for (int64_t i = 0; i < n; i++) x[i] = ldexpf(x[i], -10);   /* centre on E4M3's range */
        lmk_fp8_from_f32_ref(x, want, n);
        lmk_fp8_to_f32_ref(want, want_dec, n);
        for (int64_t i = 0; i < n; i++) h[i] = lmk_f32_to_f16(x[i]);
        for (int64_t i = 0; i < n; i++) h_want[i] = lmk_f32_to_f16(want_dec[i]);
        uint8_t *want_h8 = malloc(n);
        for (int64_t i = 0; i < n; i++) {
            float f = lmk_f16_to_f32(h[i]);
            lmk_fp8_from_f32_ref(&f, want_h8 + i, 1);
        }
        FOR_EACH_ISA(isa) {
            char what[64];
            snprintf(what, sizeof what, "fp8_from_f32 n=%lld", (long long)n);
            lmk_fp8_from_f32(x, got, n);
            expect_equal_bytes(what, got, want, n);
            snprintf(what, sizeof what, "fp8_to_f32 n=%lld", (long long)n);
            lmk_fp8_to_f32(want, dec, n);
            expect_equal_bytes(what, dec, want_dec, n * sizeof *dec);
            snprintf(what, sizeof what, "fp8_from_f16 n=%lld", (long long)n);
            lmk_fp8_from_f16(h, got, n);
            expect_equal_bytes(what, got, want_h8, n);
            snprintf(what, sizeof what, "fp8_to_f16 n=%lld", (long long)n);
            lmk_fp8_to_f16(want, h_got, n);
            expect_equal_bytes(what, h_got, h_want, n * sizeof *h_got);
        }
        free(x), free(dec), free(want_dec), free(want), free(got), free(h), free(h_got), free(h_want), free(want_h8);
    }
}

void test_fp8(void) {
    test_f16_scalar();
    test_f16_arrays();
    test_fp8_codes();
    test_fp8_rounding();
    test_fp8_arrays();
}
