/* RMSNorm and LayerNorm over the rows of x, each scaled by w (and shifted by b). */
#include "elementwise.h"

/* The references: plain loops with double sums; LayerNorm's variance in a second pass over
 * x - mean, which stays accurate when the mean is large against the spread. */
static void rmsnorm_row_ref(const float *x, const float *w, float *y, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const double scale = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] * scale * w[i]);
}

static void layernorm_row_ref(const float *x, const float *w, const float *b, float *y, int64_t n,
                              float eps) {
    double sum = 0, var = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    const double scale = 1.0 / sqrt(var / (double)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (float)((x[i] - mean) * scale * w[i] + (b ? b[i] : 0.0));
}

/* eps must be a non-negative number: a negative one could make the root of a negative. */
static lmk_status check(const float *x, const float *w, const float *y, int64_t rows, int64_t n,
                        float eps) {
    if (!lmk_dims_ok(rows, n) || !(eps >= 0.0f) || isinf(eps)) return LMK_ERR_ARG;
    if (rows * n > 0 && (!x || !w || !y)) return LMK_ERR_ARG;
    return LMK_OK;
}

lmk_status lmk_rmsnorm_ref(const float *x, const float *w, float *y, int64_t rows, int64_t n, float eps) {
    lmk_status s = check(x, w, y, rows, n, eps);
    if (s != LMK_OK) return s;
    for (int64_t r = 0; r < rows; r++) rmsnorm_row_ref(x + r * n, w, y + r * n, n, eps);
    return LMK_OK;
}

lmk_status lmk_layernorm_ref(const float *x, const float *w, const float *b, float *y, int64_t rows,
                             int64_t n, float eps) {
    lmk_status s = check(x, w, y, rows, n, eps);
    if (s != LMK_OK) return s;
    for (int64_t r = 0; r < rows; r++) layernorm_row_ref(x + r * n, w, b, y + r * n, n, eps);
    return LMK_OK;
}

typedef struct {
    void (*rms)(const float *, const float *, float *, int64_t, float);
    void (*ln)(const float *, const float *, const float *, float *, int64_t, float);
    const float *x;  /* (rows, n) */
    const float *w;  /* (n) */
    const float *b;  /* (n) or NULL */
    float *y;        /* (rows, n) */
    int64_t n;
    float eps;
} norm_job;

static void norm_task(void *ctx, int64_t begin, int64_t end) {
    const norm_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        if (j->rms)
            j->rms(j->x + r * j->n, j->w, j->y + r * j->n, j->n, j->eps);
        else
            j->ln(j->x + r * j->n, j->w, j->b, j->y + r * j->n, j->n, j->eps);
    }
}

lmk_status lmk_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int64_t n, float eps) {
    lmk_status s = check(x, w, y, rows, n, eps);
    if (s != LMK_OK || rows * n == 0) return s;
    norm_job j = {LMK_SELECT(rmsnorm_row_ref, lmk_rmsnorm_row_avx2, lmk_rmsnorm_row_avx512,
                             lmk_rmsnorm_row_neon),
                  NULL, x, w, NULL, y, n, eps};
    lmk_parallel_for(rows, LMK_MAX(1, LMK_EW_GRAIN / n), norm_task, &j);
    return LMK_OK;
}

lmk_status lmk_layernorm(const float *x, const float *w, const float *b, float *y, int64_t rows,
                         int64_t n, float eps) {
    lmk_status s = check(x, w, y, rows, n, eps);
    if (s != LMK_OK || rows * n == 0) return s;
    norm_job j = {NULL,
                  LMK_SELECT(layernorm_row_ref, lmk_layernorm_row_avx2, lmk_layernorm_row_avx512,
                             lmk_layernorm_row_neon),
                  x, w, b, y, n, eps};
    lmk_parallel_for(rows, LMK_MAX(1, LMK_EW_GRAIN / n), norm_task, &j);
    return LMK_OK;
}
