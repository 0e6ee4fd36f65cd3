/* matmul: every ISA's lmk_matmul_f32 against lmk_matmul_f32_ref (double accumulation) at sizes
 * that leave partial micro-tiles in every dimension, cross the cache blocks (K > kc, M > mc,
 * N > nc), take both thread splits (over N and over M) and both GEMV paths (M == 1, N == 1). */
#include "harness.h"

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
}
