/* Softmax: every path against lmk_softmax_ref at awkward widths, on plain, shifted, masked and
 * degenerate rows. */
#include "harness.h"

#include <string.h>

/* exp is ~2 ulp and the row sum is a float sum of up to 4097 terms: 1e-5 relative. Entries
 * below float's normal range may flush to 0 in the vector exp, hence the tiny absolute slack. */
#define SOFTMAX_RTOL 1e-5
#define SOFTMAX_ATOL 1e-30

static void check_rows(const char *what, const float *x, int64_t rows, int64_t n) {
    float *want = malloc((size_t)(rows * n) * sizeof *want);  /* (rows, n) */
    float *got = malloc((size_t)(rows * n) * sizeof *got);    /* (rows, n) */
    lmk_softmax_ref(x, want, rows, n);
    expect_true("softmax status", lmk_softmax(x, got, rows, n) == LMK_OK);
    expect_close(what, got, want, rows * n, SOFTMAX_ATOL, SOFTMAX_RTOL);
    /* in place */
    memcpy(got, x, (size_t)(rows * n) * sizeof *got);
    lmk_softmax(got, got, rows, n);
    char name[96];
    snprintf(name, sizeof name, "%s in place", what);
    expect_close(name, got, want, rows * n, SOFTMAX_ATOL, SOFTMAX_RTOL);
    free(want);
    free(got);
}

/* The reference itself against values worked out by hand. */
static void test_reference(void) {
    const float x[4] = {0.0f, logf(3.0f), -INFINITY, 0.0f}, want[4] = {0.2f, 0.6f, 0.0f, 0.2f};
    float y[4];
    lmk_softmax_ref(x, y, 1, 4);
    expect_close("softmax_ref by hand", y, want, 4, 0, 1e-6);
}

void test_softmax(void) {
    test_reference();
    char what[96];
    FOR_EACH_ISA(isa) {
        for (int64_t s = 0; s < LMK_N_ODD_SIZES; s++) {
            const int64_t n = LMK_ODD_SIZES[s], rows = 3;
            float *x = malloc((size_t)(rows * n) * sizeof *x);  /* (rows, n) */

            fill_normal(x, rows * n, 3.0f);
            snprintf(what, sizeof what, "softmax normal n=%lld", (long long)n);
            check_rows(what, x, rows, n);

            /* big common offsets either way: only the max subtraction keeps exp finite */
            for (int64_t i = 0; i < rows * n; i++) x[i] = (i / n == 1 ? -1e4f : 1e4f) + rng_uniform(-60, 60);
            snprintf(what, sizeof what, "softmax offset ±1e4 n=%lld", (long long)n);
            check_rows(what, x, rows, n);

            /* masked entries (-inf) in every row, one entry always kept */
            fill_normal(x, rows * n, 2.0f);
            for (int64_t i = 0; i < rows * n; i++)
                if (i % n != 0 && rng_uniform(0, 1) < 0.5f) x[i] = -INFINITY;
            snprintf(what, sizeof what, "softmax masked n=%lld", (long long)n);
            check_rows(what, x, rows, n);

            /* all equal, and all masked: 1/n each, and zeros */
            float *y = malloc((size_t)n * sizeof *y), *want = malloc((size_t)n * sizeof *want);
            for (int64_t i = 0; i < n; i++) x[i] = 7.5f, want[i] = 1.0f / (float)n;
            lmk_softmax(x, y, 1, n);
            snprintf(what, sizeof what, "softmax all equal n=%lld", (long long)n);
            expect_close(what, y, want, n, 0, SOFTMAX_RTOL);
            for (int64_t i = 0; i < n; i++) x[i] = -INFINITY, want[i] = 0.0f;
            lmk_softmax(x, y, 1, n);
            snprintf(what, sizeof what, "softmax all masked gives zeros n=%lld", (long long)n);
            expect_close(what, y, want, n, 0, 0);
            /* a NaN or +inf anywhere poisons the row, as in numpy; checked on the reference too */
            for (int64_t bad = 0; bad < 2; bad++) {
                fill_normal(x, n, 1.0f);
                for (int64_t i = 0; i < n; i++) x[i] = i % 2 ? -INFINITY : x[i];
                x[n / 2] = bad ? INFINITY : NAN;
                for (int64_t i = 0; i < n; i++) want[i] = NAN;
                lmk_softmax(x, y, 1, n);
                snprintf(what, sizeof what, "softmax row with %s gives NaN n=%lld", bad ? "+inf" : "NaN", (long long)n);
                expect_close(what, y, want, n, 0, 0);
                lmk_softmax_ref(x, y, 1, n);
                snprintf(what, sizeof what, "softmax_ref row with %s gives NaN n=%lld", bad ? "+inf" : "NaN", (long long)n);
                expect_close(what, y, want, n, 0, 0);
            }
            free(y);
            free(want);
            free(x);
        }
        /* enough rows for the pool to split them, on at least two threads */
        const int threads = lmk_threads_get();
        lmk_threads_set(threads < 2 ? 2 : threads);
        const int64_t rows = 129, n = 4096;
        float *x = malloc((size_t)(rows * n) * sizeof *x);
        fill_normal(x, rows * n, 4.0f);
        check_rows("softmax threaded 129x4096", x, rows, n);
        free(x);
        lmk_threads_set(threads);
    }
    float x[2] = {0, 0};
    expect_true("softmax rejects negative rows", lmk_softmax(x, x, -1, 2) == LMK_ERR_ARG);
    expect_true("softmax rejects NULL", lmk_softmax(NULL, x, 1, 2) == LMK_ERR_ARG);
    expect_true("softmax rejects overflowing sizes", lmk_softmax(x, x, INT64_MAX / 2, 4) == LMK_ERR_ARG);
    expect_true("softmax accepts empty", lmk_softmax(NULL, NULL, 0, 5) == LMK_OK);
}
