/* RoPE: every path against lmk_rope_ref for both styles, odd shapes, large positions and a head
 * wider than one table chunk. */
#include "harness.h"

#include <string.h>

/* The fast paths round cos/sin to float and rotate in float; the reference works in double:
 * a few float ulps of the O(1) inputs. */
#define ROPE_ATOL 2e-6
#define ROPE_RTOL 2e-6

static void check(const char *label, int64_t T, int64_t H, int64_t D, float theta, int32_t max_pos,
                  lmk_rope_style style) {
    const int64_t n = T * H * D;
    float *x = malloc((size_t)n * sizeof *x);      /* (T, H, D) */
    float *want = malloc((size_t)n * sizeof *x);   /* (T, H, D) */
    int32_t *pos = malloc((size_t)T * sizeof *pos);  /* (T) */
    fill_normal(x, n, 1.0f);
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)rng_uniform(0.0f, (float)max_pos);
    pos[T - 1] = max_pos;
    memcpy(want, x, (size_t)n * sizeof *x);
    lmk_rope_ref(want, pos, T, H, D, theta, style);
    expect_true("rope status ok", lmk_rope(x, pos, T, H, D, theta, style) == LMK_OK);
    char what[128];
    snprintf(what, sizeof what, "rope %s %s T=%lld H=%lld D=%lld theta=%g pos<=%d", style ? "neox" : "normal",
             label, (long long)T, (long long)H, (long long)D, theta, max_pos);
    expect_close(what, x, want, n, ROPE_ATOL, ROPE_RTOL);
    free(x);
    free(want);
    free(pos);
}

/* The reference against rotations worked out by hand: D = 4, theta = 100, position 1 turns pair 0
 * by 1 rad and pair 1 by 100^(-1/2) = 0.1 rad. */
static void test_reference(void) {
    const int32_t pos = 1;
    float x[4] = {1, 0, 1, 0};
    const float want_normal[4] = {cosf(1), sinf(1), cosf(0.1f), sinf(0.1f)};
    lmk_rope_ref(x, &pos, 1, 1, 4, 100.0f, LMK_ROPE_NORMAL);
    expect_close("rope_ref normal by hand", x, want_normal, 4, 1e-7, 0);
    float z[4] = {1, 1, 0, 0};
    const float want_neox[4] = {cosf(1), cosf(0.1f), sinf(1), sinf(0.1f)};
    lmk_rope_ref(z, &pos, 1, 1, 4, 100.0f, LMK_ROPE_NEOX);
    expect_close("rope_ref neox by hand", z, want_neox, 4, 1e-7, 0);
}

/* Scaling: freq_scale 0.25 and a factor of 2 on pair 1 turn pair 0 by 0.25 rad and pair 1 by
 * 0.25 * 0.1 / 2 rad at position 1; and the fast path agrees with the reference on a wide head
 * with Llama-3.1-like factors (1 for high frequencies, up to 8 for low ones). */
static void test_scaling(void) {
    const int32_t pos = 1;
    float x[4] = {1, 0, 1, 0};
    const float factors[2] = {1.0f, 2.0f};
    const float want[4] = {cosf(0.25f), sinf(0.25f), cosf(0.0125f), sinf(0.0125f)};
    lmk_rope_ext_ref(x, &pos, 1, 1, 4, 4, 100.0f, LMK_ROPE_NORMAL, 0.25f, factors, 1.0f);
    expect_close("rope_ext_ref scaled by hand", x, want, 4, 1e-7, 0);
    float y[4] = {1, 0, 1, 0}, want2[4];
    for (int i = 0; i < 4; i++) want2[i] = 1.5f * want[i];
    lmk_rope_ext_ref(y, &pos, 1, 1, 4, 4, 100.0f, LMK_ROPE_NORMAL, 0.25f, factors, 1.5f);
    expect_close("rope_ext_ref with mscale by hand", y, want2, 4, 1e-7, 0);
    enum { T = 17, H = 3, D = 128 };
    float a[T * H * D], b[T * H * D], f[D / 2];
    int32_t p[T];
    fill_normal(a, T * H * D, 1.0f);
    memcpy(b, a, sizeof a);
    for (int i = 0; i < D / 2; i++) f[i] = 1.0f + 7.0f * (float)i / (float)(D / 2 - 1);
    for (int t = 0; t < T; t++) p[t] = 977 * t;
    lmk_rope_ext_ref(b, p, T, H, D, D, 5e5f, LMK_ROPE_NEOX, 0.125f, f, 1.0f);
    FOR_EACH_ISA(isa) {
        float c[T * H * D];
        memcpy(c, a, sizeof a);
        expect_true("rope_ext status ok", lmk_rope_ext(c, p, T, H, D, D, 5e5f, LMK_ROPE_NEOX, 0.125f, f, 1.0f) == LMK_OK);
        expect_close("rope_ext neox scaled with factors", c, b, T * H * D, ROPE_ATOL, ROPE_RTOL);
    }
    float v[4] = {0}, bad[2] = {1.0f, 0.0f};
    expect_true("rope_ext rejects freq_scale 0",
                lmk_rope_ext(v, &pos, 1, 1, 4, 4, 1e4f, LMK_ROPE_NORMAL, 0.0f, NULL, 1.0f) == LMK_ERR_ARG);
    expect_true("rope_ext rejects a zero factor",
                lmk_rope_ext(v, &pos, 1, 1, 4, 4, 1e4f, LMK_ROPE_NORMAL, 1.0f, bad, 1.0f) == LMK_ERR_ARG);
}

/* Partial RoPE (Phi-4-mini turns 96 of 128): the reference's first R elements of a head are the
 * full rotation of a head R wide, the rest pass through untouched (unscaled by mscale); every path
 * agrees with it at awkward widths, with factors and mscale, a width past one table chunk included. */
static void test_partial(void) {
    enum { T = 5, H = 3 };
    static const int64_t shapes[][2] = {{6, 2}, {34, 24}, {128, 96}, {130, 128}, {520, 258}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t D = shapes[i][0], R = shapes[i][1];
        float *x = malloc(sizeof(float) * T * H * D), *want = malloc(sizeof(float) * T * H * D);  /* (T, H, D) */
        float *head = malloc(sizeof(float) * T * H * R), *f = malloc(sizeof(float) * (size_t)(R / 2));  /* (T, H, R) */
        int32_t p[T], ph[T * H];   /* the positions of the tokens, and of their heads one by one */
        for (int t = 0; t < T; t++) p[t] = 3001 * t + 7;
        for (int r = 0; r < T * H; r++) ph[r] = p[r / H];
        for (int64_t k = 0; k < R / 2; k++) f[k] = 1.0f + (float)k / (float)(R / 2);
        for (int style = LMK_ROPE_NORMAL; style <= LMK_ROPE_NEOX; style++) {
            fill_normal(x, T * H * D, 1.0f);
            memcpy(want, x, sizeof(float) * T * H * D);
            for (int64_t r = 0; r < T * H; r++) memcpy(head + r * R, x + r * D, sizeof(float) * (size_t)R);
            lmk_rope_ext_ref(want, p, T, H, D, R, 1e4f, (lmk_rope_style)style, 0.5f, f, 1.19f);
            lmk_rope_ext_ref(head, ph, T * H, 1, R, R, 1e4f, (lmk_rope_style)style, 0.5f, f, 1.19f);
            int same = 1;
            for (int64_t r = 0; r < T * H; r++)
                same &= !memcmp(want + r * D, head + r * R, sizeof(float) * (size_t)R) &&
                        !memcmp(want + r * D + R, x + r * D + R, sizeof(float) * (size_t)(D - R));
            char what[96];
            snprintf(what, sizeof what, "rope_ext_ref %s D=%lld R=%lld: a head R wide, the rest kept",
                     style ? "neox" : "normal", (long long)D, (long long)R);
            expect_true(what, same);
            FOR_EACH_ISA(isa) {
                float *y = malloc(sizeof(float) * T * H * D);
                memcpy(y, x, sizeof(float) * T * H * D);
                expect_true("rope_ext partial status ok",
                            lmk_rope_ext(y, p, T, H, D, R, 1e4f, (lmk_rope_style)style, 0.5f, f, 1.19f) == LMK_OK);
                snprintf(what, sizeof what, "rope_ext %s partial D=%lld R=%lld", style ? "neox" : "normal",
                         (long long)D, (long long)R);
                expect_close(what, y, want, T * H * D, ROPE_ATOL, ROPE_RTOL);
                free(y);
            }
        }
        free(x);
        free(want);
        free(head);
        free(f);
    }
    float v[8] = {0};
    const int32_t pos = 1;
    expect_true("rope_ext rejects odd R", lmk_rope_ext(v, &pos, 1, 1, 8, 5, 1e4f, LMK_ROPE_NEOX, 1.0f, NULL, 1.0f) == LMK_ERR_ARG);
    expect_true("rope_ext rejects R > D", lmk_rope_ext(v, &pos, 1, 1, 8, 10, 1e4f, LMK_ROPE_NEOX, 1.0f, NULL, 1.0f) == LMK_ERR_ARG);
    expect_true("rope_ext rejects mscale 0", lmk_rope_ext(v, &pos, 1, 1, 8, 8, 1e4f, LMK_ROPE_NEOX, 1.0f, NULL, 0.0f) == LMK_ERR_ARG);
    expect_true("rope_ext rejects R 0", lmk_rope_ext(v, &pos, 1, 1, 8, 0, 1e4f, LMK_ROPE_NEOX, 1.0f, NULL, 1.0f) == LMK_ERR_ARG);
}

void test_rope(void) {
    static const int64_t dims[] = {2, 6, 34, 64, 128, 258, 514};
    test_reference();
    test_scaling();
    test_partial();
    FOR_EACH_ISA(isa) {
        for (int style = LMK_ROPE_NORMAL; style <= LMK_ROPE_NEOX; style++) {
            for (int64_t s = 0; s < 3; s++) {   /* T = 1, 3, 17 */
                const int64_t T = LMK_ODD_SIZES[s];
                for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
                    check("odd", T, 3, dims[d], 10000.0f, 4096, (lmk_rope_style)style);
                    check("far", T, 1, dims[d], 1e6f, 32767, (lmk_rope_style)style);
                }
            }
            /* enough tokens for the pool to split them, on at least two threads */
            const int threads = lmk_threads_get();
            lmk_threads_set(threads < 2 ? 2 : threads);
            check("threaded", 601, 8, 64, 10000.0f, 32767, (lmk_rope_style)style);
            lmk_threads_set(threads);
        }
        /* position 0 is the identity */
        float x[6] = {1, 2, 3, 4, 5, 6}, want[6] = {1, 2, 3, 4, 5, 6};
        const int32_t zero = 0;
        lmk_rope(x, &zero, 1, 1, 6, 10000.0f, LMK_ROPE_NEOX);
        expect_close("rope position 0 is identity", x, want, 6, 0, 0);
    }
    float v[4] = {0};
    const int32_t p = 1;
    expect_true("rope rejects odd D", lmk_rope(v, &p, 1, 1, 3, 10000.0f, LMK_ROPE_NORMAL) == LMK_ERR_ARG);
    expect_true("rope rejects theta 0", lmk_rope(v, &p, 1, 1, 4, 0.0f, LMK_ROPE_NORMAL) == LMK_ERR_ARG);
    expect_true("rope rejects unknown style", lmk_rope(v, &p, 1, 1, 4, 1e4f, (lmk_rope_style)7) == LMK_ERR_ARG);
    expect_true("rope rejects NULL positions", lmk_rope(v, NULL, 1, 1, 4, 1e4f, LMK_ROPE_NEOX) == LMK_ERR_ARG);
}
