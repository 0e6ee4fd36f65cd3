/* Row softmax: y = exp(x - max) / Σ exp(x - max), the max subtracted so that exp never overflows.
 * -inf entries (masked) get probability 0; a row that is all -inf has nothing to distribute and
 * gives zeros rather than 0/0. A NaN or +inf anywhere in a row makes the whole row NaN, as in
 * numpy, on every path (the vector exp alone would quietly turn NaN into 0). */
#include "elementwise.h"

/* The reference: plain loops, double accumulation and libm exp. */
static void softmax_row_ref(const float *x, float *y, int64_t n) {
    float max = -INFINITY;
    int has_nan = 0;
    for (int64_t i = 0; i < n; i++) {
        has_nan |= isnan(x[i]);
        max = x[i] > max ? x[i] : max;
    }
    if (has_nan || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, has_nan ? NAN : max);
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - max);
    for (int64_t i = 0; i < n; i++) y[i] = (float)(exp((double)x[i] - max) / sum);
}

/* The scalar path of the dispatching entry point: float exp, each exp computed once. */
static void softmax_row_generic(const float *x, float *y, int64_t n) {
    float max = -INFINITY;
    int has_nan = 0;
    for (int64_t i = 0; i < n; i++) {
        has_nan |= isnan(x[i]);
        max = x[i] > max ? x[i] : max;
    }
    if (has_nan || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, has_nan ? NAN : max);
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += y[i] = expf(x[i] - max);
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

static lmk_status check(const float *x, const float *y, int64_t rows, int64_t n) {
    if (!lmk_dims_ok(rows, n)) return LMK_ERR_ARG;
    if (rows * n > 0 && (!x || !y)) return LMK_ERR_ARG;
    return LMK_OK;
}

lmk_status lmk_softmax_ref(const float *x, float *y, int64_t rows, int64_t n) {
    lmk_status s = check(x, y, rows, n);
    if (s != LMK_OK) return s;
    for (int64_t r = 0; r < rows; r++) softmax_row_ref(x + r * n, y + r * n, n);
    return LMK_OK;
}

typedef struct {
    void (*row)(const float *, float *, int64_t);
    const float *x;  /* (rows, n) */
    float *y;        /* (rows, n) */
    int64_t n;
} softmax_job;

static void softmax_task(void *ctx, int64_t begin, int64_t end) {
    const softmax_job *j = ctx;
    for (int64_t r = begin; r < end; r++) j->row(j->x + r * j->n, j->y + r * j->n, j->n);
}

lmk_status lmk_softmax(const float *x, float *y, int64_t rows, int64_t n) {
    lmk_status s = check(x, y, rows, n);
    if (s != LMK_OK || rows * n == 0) return s;
    softmax_job j = {LMK_SELECT(softmax_row_generic, lmk_softmax_row_avx2, lmk_softmax_row_avx512,
                                lmk_softmax_row_neon),
                     x, y, n};
    lmk_parallel_for(rows, LMK_MAX(1, LMK_EW_GRAIN / n), softmax_task, &j);
    return LMK_OK;
}
