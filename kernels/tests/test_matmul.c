/* matmul: every ISA's lmk_matmul_f32 against lmk_matmul_f32_ref (double accumulation) at sizes
 * that leave partial micro-tiles in every dimension, cross the cache blocks (K > kc, M > mc,
 * N > nc), take both thread splits (over N and over M) and both GEMV paths (M == 1, N == 1). */
#include "harness.h"
#include "matmul.h"

#include <float.h>
#include <string.h>

/* Data is uniform in [-1, 1]. A float32 dot product of length K rounds K times, each time by at
 * most half an ulp of a partial sum that is O(√K) in size; blocked/FMA orders land near
 * eps·√K·√K = eps·K. Four eps per term of K leaves a wide margin over that and still fails on
 * any dropped, doubled or misplaced product (each is O(0.3), far above 4·eps·K for K ≤ 4097). */
#define MATMUL_ATOL_PER_K (4.0 * FLT_EPSILON)
#define MATMUL_RTOL 1e-5  /* relative slack for the few large sums */

static void check_case(int64_t M, int64_t N, int64_t K) {
    float *a = malloc(sizeof(float) * (size_t)(M * K + 1));  /* (M, K) */
    float *b = malloc(sizeof(float) * (size_t)(N * K + 1));  /* (N, K) */
    float *c = malloc(sizeof(float) * (size_t)(M * N));      /* (M, N) */
    float *want = malloc(sizeof(float) * (size_t)(M * N));   /* (M, N) */
    fill_uniform(a, M * K, -1.0f, 1.0f);
    fill_uniform(b, N * K, -1.0f, 1.0f);
    lmk_matmul_f32_ref(a, b, want, M, N, K);
    char what[96];
    FOR_EACH_ISA(isa) {
        for (int64_t i = 0; i < M * N; i++) c[i] = NAN;  /* every element must be written */
        lmk_status s = lmk_matmul_f32(a, b, c, M, N, K);
        snprintf(what, sizeof what, "matmul %lldx%lldx%lld status", (long long)M, (long long)N, (long long)K);
        expect_true(what, s == LMK_OK);
        snprintf(what, sizeof what, "matmul %lldx%lldx%lld", (long long)M, (long long)N, (long long)K);
        expect_close(what, c, want, M * N, MATMUL_ATOL_PER_K * (double)K, MATMUL_RTOL);
    }
    free(a);
    free(b);
    free(c);
    free(want);
}

/* bf16 bits of x rounded to nearest even (finite x) */
static uint16_t bf16_rne(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

/* Whether the active ISA runs a BF16 GEMM of these sizes on BF16 dot products (matmul.c's
 * bf16_dot, for the aligned weights here): its activations are then rounded to BF16 first. */
static int rounds_activations(lmk_half t, int64_t M, int64_t N, int64_t K) {
#if LMK_X86
    return t == LMK_HALF_BF16 && M > 1 && N > 1 && K % 2 == 0 && lmk_isa_active() == LMK_ISA_AVX512 &&
           lmk_cpu_avx512bf16();
#else
    (void)t, (void)M, (void)N, (void)K;
    return 0;
#endif
}

/* Half-precision weights: every ISA's lmk_matmul_half against lmk_matmul_half_ref. Widening is
 * exact, so the tolerance is the float32 one; where BF16 dot products run, against the reference
 * on the activations rounded to BF16 as that path rounds them (the same tolerance: what is left
 * is float accumulation). */
static void check_half_case(lmk_half t, int64_t M, int64_t N, int64_t K) {
    float *a = malloc(sizeof(float) * (size_t)(M * K + 1));       /* (M, K) */
    float *f = malloc(sizeof(float) * (size_t)(N * K + 1));       /* (N, K) before rounding */
    uint16_t *b = malloc(sizeof(uint16_t) * (size_t)(N * K + 1)); /* (N, K) half bits */
    float *c = malloc(sizeof(float) * (size_t)(M * N)), *want = malloc(sizeof(float) * (size_t)(M * N));
    fill_uniform(a, M * K, -1.0f, 1.0f);
    fill_uniform(f, N * K, -1.0f, 1.0f);
    for (int64_t i = 0; i < N * K; i++) {
        uint32_t u;
        memcpy(&u, f + i, 4);
        b[i] = t == LMK_HALF_F16 ? lmk_f32_to_f16(f[i]) : (uint16_t)(u >> 16);
    }
    float *ar = malloc(sizeof(float) * (size_t)(M * K + 1)), *want_r = malloc(sizeof(float) * (size_t)(M * N));
    for (int64_t i = 0; i < M * K; i++) ar[i] = lmk_bf16_to_f32(bf16_rne(a[i]));
    lmk_matmul_half_ref(t, a, b, want, M, N, K);
    lmk_matmul_half_ref(t, ar, b, want_r, M, N, K);
    char what[112];
    const char *tn = t == LMK_HALF_F16 ? "f16" : "bf16";
    FOR_EACH_ISA(isa) {
        for (int64_t i = 0; i < M * N; i++) c[i] = NAN;
        const int dot = rounds_activations(t, M, N, K);
        snprintf(what, sizeof what, "matmul %s %lldx%lldx%lld%s", tn, (long long)M, (long long)N, (long long)K,
                 dot ? " (bf16 dot products)" : "");
        expect_true(what, lmk_matmul_half(t, a, b, c, M, N, K) == LMK_OK);
        expect_close(what, c, dot ? want_r : want, M * N, MATMUL_ATOL_PER_K * (double)K, MATMUL_RTOL);
    }
    free(a), free(ar), free(f), free(b), free(c), free(want), free(want_r);
}

static void test_half(void) {
    static const int64_t small[] = {1, 3, 17, 129};
    static const lmk_half types[] = {LMK_HALF_F16, LMK_HALF_BF16};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++) check_half_case(types[t], small[i], small[j], small[k]);
        check_half_case(types[t], 257, 129, 300);  /* K crosses a block; threads split over N */
        check_half_case(types[t], 300, 20, 300);   /* one column tile: b is the shared operand */
        check_half_case(types[t], 33, 70, 1046);   /* K crosses a block of pairs, a ragged pair tail */
        check_half_case(types[t], 5, 40, 301);     /* odd K: bf16 widens as f16 does */
        check_half_case(types[t], 1, 129, 4097);   /* GEMV, ragged tail */
        check_half_case(types[t], 129, 1, 4097);   /* N == 1 */
    }
    /* the conversions are exact, specials included */
    const uint16_t h[] = {0x0000, 0x8000, 0x3C00, 0x0001, 0x7C00, 0xFBFF};
    const float hf[] = {0.0f, -0.0f, 1.0f, 5.9604645e-08f, INFINITY, -65504.0f};
    const uint16_t bh[] = {0x3F80, 0xC040, 0x0001, 0x7F80};
    const float bf[] = {1.0f, -3.0f, 9.1835496e-41f, INFINITY};
    float y[6];
    int ok = lmk_half_to_f32_n(LMK_HALF_F16, h, y, 6) == LMK_OK && memcmp(y, hf, sizeof hf) == 0;
    ok &= lmk_half_to_f32_n(LMK_HALF_BF16, bh, y, 4) == LMK_OK && memcmp(y, bf, sizeof bf) == 0;
    expect_true("half to f32 exact", ok);
    float x[4] = {0};
    expect_true("matmul half rejects bad type and sizes",
                lmk_matmul_half((lmk_half)2, x, h, x, 1, 1, 1) == LMK_ERR_ARG &&
                    lmk_matmul_half(LMK_HALF_F16, x, h, x, 1, -1, 1) == LMK_ERR_ARG &&
                    lmk_matmul_half(LMK_HALF_BF16, x, NULL, x, 1, 1, 1) == LMK_ERR_ARG &&
                    lmk_matmul_half_ref((lmk_half)0, x, h, x, 1, 1, 1) == LMK_ERR_ARG &&
                    lmk_half_to_f32_n((lmk_half)8, h, y, 1) == LMK_ERR_ARG);
}

static void check_k_zero(void) {
    float c[6] = {1, 2, 3, 4, 5, 6}, zero[6] = {0};
    float one = 1.0f;
    FOR_EACH_ISA(isa) {
        for (int i = 0; i < 6; i++) c[i] = 7.0f;
        expect_true("matmul K=0 status", lmk_matmul_f32(&one, &one, c, 2, 3, 0) == LMK_OK);
        expect_close("matmul K=0 gives zeros", c, zero, 6, 0.0, 0.0);
    }
}

static void check_bad_args(void) {
    float x[4] = {0};
    FOR_EACH_ISA(isa) {
        expect_true("matmul M<0 rejected", lmk_matmul_f32(x, x, x, -1, 2, 2) == LMK_ERR_ARG);
        expect_true("matmul N<0 rejected", lmk_matmul_f32(x, x, x, 2, -1, 2) == LMK_ERR_ARG);
        expect_true("matmul K<0 rejected", lmk_matmul_f32(x, x, x, 2, 2, -1) == LMK_ERR_ARG);
        expect_true("matmul M*K overflow rejected",
                    lmk_matmul_f32(x, x, x, INT64_MAX / 2, 2, 4) == LMK_ERR_ARG);
        expect_true("matmul NULL c rejected", lmk_matmul_f32(x, x, NULL, 1, 1, 1) == LMK_ERR_ARG);
        expect_true("matmul NULL a rejected", lmk_matmul_f32(NULL, x, x, 1, 1, 1) == LMK_ERR_ARG);
        expect_true("matmul empty output is fine", lmk_matmul_f32(NULL, NULL, NULL, 0, 5, 5) == LMK_OK);
    }
    expect_true("matmul_ref K<0 rejected", lmk_matmul_f32_ref(x, x, x, 2, 2, -1) == LMK_ERR_ARG);
}

void test_matmul(void) {
    static const int64_t small[] = {1, 3, 17, 129};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++) check_case(small[i], small[j], small[k]);
    check_case(257, 129, 300);   /* K crosses a block boundary; threads split over N */
    check_case(300, 20, 300);    /* one column tile: threads split over M */
    check_case(400, 70, 600);    /* M crosses mc, K crosses kc twice */
    check_case(3, 4097, 17);     /* N crosses nc */
    check_case(1, 129, 4097);    /* GEMV, long K with a ragged tail */
    check_case(1, 4097, 33);     /* GEMV, many rows */
    check_case(1, 1, 4097);
    check_case(129, 1, 4097);    /* N == 1: GEMV over the rows of a */
    check_case(64, 64, 64);      /* whole tiles everywhere */
    check_k_zero();
    check_bad_args();
    test_half();
}
