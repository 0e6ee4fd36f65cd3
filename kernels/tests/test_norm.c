/* RMSNorm and LayerNorm: every path against the references at awkward widths, with and without
 * bias, in place, and on rows with a large common offset. */
#include "harness.h"

#include <string.h>

/* Float sums of up to 4097 squares (the references sum in double): 1e-5 relative. */
#define NORM_RTOL 1e-5
/* LayerNorm outputs cross zero, where relative error means nothing: absolute slack of about
 * 1e-5 of the output's unit scale. */
#define NORM_ATOL 1e-5

typedef enum { RMS, LN, LN_NOBIAS } norm_kind;

static lmk_status run(norm_kind k, int ref, const float *x, const float *w, const float *b, float *y,
                      int64_t rows, int64_t n, float eps) {
    if (k == RMS) return (ref ? lmk_rmsnorm_ref : lmk_rmsnorm)(x, w, y, rows, n, eps);
    return (ref ? lmk_layernorm_ref : lmk_layernorm)(x, w, k == LN ? b : NULL, y, rows, n, eps);
}

static void check(norm_kind k, const char *label, const float *x, const float *w, const float *b,
                  int64_t rows, int64_t n, float eps) {
    static const char *const names[] = {"rmsnorm", "layernorm", "layernorm no bias"};
    float *want = malloc((size_t)(rows * n) * sizeof *want);  /* (rows, n) */
    float *got = malloc((size_t)(rows * n) * sizeof *got);    /* (rows, n) */
    char what[128];
    run(k, 1, x, w, b, want, rows, n, eps);
    snprintf(what, sizeof what, "%s %s rows=%lld n=%lld", names[k], label, (long long)rows, (long long)n);
    expect_true("norm status ok", run(k, 0, x, w, b, got, rows, n, eps) == LMK_OK);
    expect_close(what, got, want, rows * n, NORM_ATOL, NORM_RTOL);
    memcpy(got, x, (size_t)(rows * n) * sizeof *got);
    run(k, 0, got, w, b, got, rows, n, eps);
    snprintf(what, sizeof what, "%s %s in place n=%lld", names[k], label, (long long)n);
    expect_close(what, got, want, rows * n, NORM_ATOL, NORM_RTOL);
    free(want);
    free(got);
}

/* The references against values worked out by hand. */
static void test_reference(void) {
    const float x[4] = {1, -2, 3, -4}, w[4] = {1, 1, 2, 0.5f}, b[4] = {0, 1, 0, 0};
    float y[4];
    const float rms = sqrtf((1 + 4 + 9 + 16) / 4.0f);   /* eps 0 */
    const float want_rms[4] = {1 / rms, -2 / rms, 6 / rms, -2 / rms};
    lmk_rmsnorm_ref(x, w, y, 1, 4, 0.0f);
    expect_close("rmsnorm_ref by hand", y, want_rms, 4, 0, 1e-6);
    const float mean = -0.5f, sd = sqrtf((2.25f + 2.25f + 12.25f + 12.25f) / 4);
    const float want_ln[4] = {1.5f / sd, -1.5f / sd + 1, 2 * 3.5f / sd, 0.5f * -3.5f / sd};
    (void)mean;
    lmk_layernorm_ref(x, w, b, y, 1, 4, 0.0f);
    expect_close("layernorm_ref by hand", y, want_ln, 4, 0, 1e-6);
}

void test_norm(void) {
    test_reference();
    FOR_EACH_ISA(isa) {
        for (int64_t s = 0; s < LMK_N_ODD_SIZES; s++) {
            const int64_t n = LMK_ODD_SIZES[s], rows = 3;
            float *x = malloc((size_t)(rows * n) * sizeof *x);  /* (rows, n) */
            float *w = malloc((size_t)n * sizeof *w), *b = malloc((size_t)n * sizeof *b);
            fill_normal(x, rows * n, 2.0f);
            fill_uniform(w, n, 0.5f, 1.5f);
            fill_normal(b, n, 1.0f);
            for (norm_kind k = RMS; k <= LN_NOBIAS; k++) check(k, "normal", x, w, b, rows, n, 1e-5f);
            /* a large common offset: LayerNorm's mean must not lose the spread */
            for (int64_t i = 0; i < rows * n; i++) x[i] += 1000.0f;
            for (norm_kind k = RMS; k <= LN_NOBIAS; k++) check(k, "offset 1000", x, w, b, rows, n, 1e-5f);
            free(x);
            free(w);
            free(b);
        }
        /* enough rows for the pool to split them, on at least two threads */
        const int threads = lmk_threads_get();
        lmk_threads_set(threads < 2 ? 2 : threads);
        const int64_t rows = 129, n = 4096;
        float *x = malloc((size_t)(rows * n) * sizeof *x), *w = malloc((size_t)n * sizeof *w);
        fill_normal(x, rows * n, 1.0f);
        fill_uniform(w, n, -2.0f, 2.0f);
        check(RMS, "threaded", x, w, w, rows, n, 1e-6f);
        check(LN, "threaded", x, w, w, rows, n, 1e-6f);
        free(x);
        free(w);
        lmk_threads_set(threads);
    }
    float v[2] = {1, 2};
    expect_true("rmsnorm rejects negative eps", lmk_rmsnorm(v, v, v, 1, 2, -1e-6f) == LMK_ERR_ARG);
    expect_true("rmsnorm rejects NaN eps", lmk_rmsnorm(v, v, v, 1, 2, NAN) == LMK_ERR_ARG);
    expect_true("layernorm rejects negative n", lmk_layernorm(v, v, NULL, v, 1, -2, 1e-5f) == LMK_ERR_ARG);
    expect_true("layernorm rejects NULL w", lmk_layernorm(v, NULL, NULL, v, 1, 2, 1e-5f) == LMK_ERR_ARG);
    expect_true("rmsnorm accepts empty", lmk_rmsnorm(NULL, NULL, NULL, 0, 8, 1e-6f) == LMK_OK);
}
