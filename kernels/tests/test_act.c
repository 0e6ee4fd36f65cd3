/* Activations: every path against the double references, on ordinary and extreme gates. */
#include "harness.h"

#include <string.h>

/* The vector exp is ~2 ulp, but e^{-2u} also carries the float rounding of u, which grows with
 * |u| (gelu at x = -9 has 2u ≈ -66): 1e-5 relative. Outputs below 1e-12 in size are zero for any
 * purpose an activation serves. */
#define ACT_RTOL 1e-5
#define ACT_ATOL 1e-12

typedef enum { SWIGLU, GEGLU, GELU } act_kind;
static const char *const act_names[] = {"swiglu", "geglu", "gelu"};

static lmk_status run(act_kind k, int ref, const float *g, const float *u, float *y, int64_t n) {
    switch (k) {
    case SWIGLU: return (ref ? lmk_swiglu_ref : lmk_swiglu)(g, u, y, n);
    case GEGLU: return (ref ? lmk_geglu_ref : lmk_geglu)(g, u, y, n);
    default: return (ref ? lmk_gelu_ref : lmk_gelu)(g, y, n);
    }
}

static void check(act_kind k, const char *label, const float *g, const float *u, int64_t n) {
    float *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);  /* (n) */
    char what[128];
    run(k, 1, g, u, want, n);
    expect_true("act status ok", run(k, 0, g, u, got, n) == LMK_OK);
    snprintf(what, sizeof what, "%s %s n=%lld", act_names[k], label, (long long)n);
    expect_close(what, got, want, n, ACT_ATOL, ACT_RTOL);
    /* y aliasing the gate */
    memcpy(got, g, (size_t)n * sizeof *got);
    run(k, 0, got, u, got, n);
    snprintf(what, sizeof what, "%s %s in place n=%lld", act_names[k], label, (long long)n);
    expect_close(what, got, want, n, ACT_ATOL, ACT_RTOL);
    free(want);
    free(got);
}

/* The references against values worked out by hand (silu(1) = 1/(1+e^-1); gelu_tanh(1) from
 * 0.5·(1 + tanh(0.7978845608·1.044715))). */
static void test_reference(void) {
    const float g[3] = {1.0f, 0.0f, -1.0f}, u[3] = {2.0f, 5.0f, 1.0f};
    const float want_swiglu[3] = {2 * 0.7310585786f, 0.0f, -0.2689414214f};
    const float want_gelu[3] = {0.8411919906f, 0.0f, -0.1588080094f};
    float y[3];
    lmk_swiglu_ref(g, u, y, 3);
    expect_close("swiglu_ref by hand", y, want_swiglu, 3, 0, 1e-6);
    lmk_gelu_ref(g, y, 3);
    expect_close("gelu_ref by hand", y, want_gelu, 3, 0, 1e-6);
}

/* Soft-capping, every path against the double reference: ordinary scores, the extremes, every
 * odd size (tails), a cap that bites and Gemma-2's. The float formula's error is absolute near
 * zero (1 - 2/(1+e^u) cancels): cap · 1e-6 there. */
static void test_softcap(void) {
    static const float caps[] = {0.5f, 30.0f, 50.0f};
    static const float extremes[] = {-INFINITY, -1e20f, -3e3f, -200.0f, -30.0f, -1e-3f, -1e-30f, 0.0f,
                                     1e-30f, 1e-3f, 30.0f, 200.0f, 3e3f, 1e20f, INFINITY};
    const int64_t n_ext = (int64_t)(sizeof extremes / sizeof extremes[0]);
    FOR_EACH_ISA(isa) {
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            char what[96];
            for (int64_t s = 0; s < LMK_N_ODD_SIZES; s++) {
                const int64_t n = LMK_ODD_SIZES[s];
                float *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)n * sizeof *want);
                float *got = malloc((size_t)n * sizeof *got);
                fill_normal(x, n, 2.0f * caps[c]);
                lmk_softcap_ref(x, want, n, caps[c]);
                expect_true("softcap status", lmk_softcap(x, got, n, caps[c]) == LMK_OK);
                snprintf(what, sizeof what, "softcap cap=%g n=%lld", (double)caps[c], (long long)n);
                expect_close(what, got, want, n, 1e-6 * caps[c], ACT_RTOL);
                lmk_softcap(x, x, n, caps[c]);   /* in place */
                expect_close(what, x, want, n, 1e-6 * caps[c], ACT_RTOL);
                free(x), free(want), free(got);
            }
            float want[sizeof extremes / sizeof extremes[0]], got[sizeof extremes / sizeof extremes[0]];
            lmk_softcap_ref(extremes, want, n_ext, caps[c]);
            lmk_softcap(extremes, got, n_ext, caps[c]);
            snprintf(what, sizeof what, "softcap extremes cap=%g", (double)caps[c]);
            expect_close(what, got, want, n_ext, 1e-6 * caps[c], ACT_RTOL);
        }
    }
    float v[2] = {1, 2};
    expect_true("softcap rejects cap 0", lmk_softcap(v, v, 2, 0.0f) == LMK_ERR_ARG);
    expect_true("softcap rejects an infinite cap", lmk_softcap(v, v, 2, INFINITY) == LMK_ERR_ARG);
    expect_true("softcap rejects a NaN cap", lmk_softcap_ref(v, v, 2, NAN) == LMK_ERR_ARG);
}

void test_act(void) {
    static const float extremes[] = {-1e20f, -1e4f, -200.0f, -88.5f, -87.0f, -30.0f, -9.0f, -5.0f,
                                     -1e-3f, -1e-30f, 0.0f, 1e-30f, 1e-3f, 5.0f, 9.0f, 30.0f,
                                     87.0f, 88.5f, 200.0f, 1e4f, 1e20f};
    const int64_t n_ext = (int64_t)(sizeof extremes / sizeof extremes[0]);
    test_reference();
    test_softcap();
    FOR_EACH_ISA(isa) {
        for (int64_t s = 0; s < LMK_N_ODD_SIZES; s++) {
            const int64_t n = LMK_ODD_SIZES[s];
            float *g = malloc((size_t)n * sizeof *g), *u = malloc((size_t)n * sizeof *u);  /* (n) */
            fill_normal(g, n, 3.0f);
            fill_normal(u, n, 1.0f);
            for (act_kind k = SWIGLU; k <= GELU; k++) check(k, "normal", g, u, n);
            free(g);
            free(u);
        }
        float u[sizeof extremes / sizeof extremes[0]];
        for (int64_t i = 0; i < n_ext; i++) u[i] = 1.5f;
        for (act_kind k = SWIGLU; k <= GELU; k++) check(k, "extreme gates", extremes, u, n_ext);
        /* enough elements for the pool to split them, on at least two threads */
        const int threads = lmk_threads_get();
        lmk_threads_set(threads < 2 ? 2 : threads);
        const int64_t n = (1 << 19) + 17;
        float *g = malloc((size_t)n * sizeof *g), *up = malloc((size_t)n * sizeof *up);
        fill_normal(g, n, 3.0f);
        fill_normal(up, n, 1.0f);
        for (act_kind k = SWIGLU; k <= GELU; k++) check(k, "threaded", g, up, n);
        free(g);
        free(up);
        lmk_threads_set(threads);
    }
    float v[2] = {1, 2};
    expect_true("swiglu rejects negative n", lmk_swiglu(v, v, v, -1) == LMK_ERR_ARG);
    expect_true("gelu rejects NULL", lmk_gelu(NULL, v, 2) == LMK_ERR_ARG);
    expect_true("geglu accepts empty", lmk_geglu(NULL, NULL, NULL, 0) == LMK_OK);
}
