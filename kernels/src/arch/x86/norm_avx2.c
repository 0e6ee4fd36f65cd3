/* RMSNorm and LayerNorm rows, AVX2 + FMA: float sums in four accumulators, masked tails. */
#include "elementwise.h"
#include "vmath_avx2.h"

/* Σ x² over the row. */
static float sum_squares(const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
        a2 = _mm256_fmadd_ps(v2, v2, a2);
        a3 = _mm256_fmadd_ps(v3, v3, a3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(v, v, a0);
    }
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, lmk_tail_mask_avx2(n - i));
        a1 = _mm256_fmadd_ps(v, v, a1);
    }
    return lmk_hsum_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

void lmk_rmsnorm_row_avx2(const float *x, const float *w, float *y, int64_t n, float eps) {
    const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(sum_squares(x, n) / (float)n + eps));
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), scale), _mm256_loadu_ps(w + i));
        __m256 y1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), scale), _mm256_loadu_ps(w + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), scale), _mm256_loadu_ps(w + i)));
    if (i < n) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, k), scale),
                                                    _mm256_maskload_ps(w + i, k)));
    }
}

/* (x - x0) - mean: see lmk_layernorm_row_avx2 */
static inline __m256 centred(__m256 v, __m256 x0, __m256 mean) {
    return _mm256_sub_ps(_mm256_sub_ps(v, x0), mean);
}

void lmk_layernorm_row_avx2(const float *x, const float *w, const float *b, float *y, int64_t n, float eps) {
    /* Work on x - x[0]: exact in float for values near x[0], it keeps a large common offset out of
     * the sums and out of the rounding of the mean. `mean` is the mean of x - x[0]. */
    const __m256 x0 = _mm256_set1_ps(x[0]), zero = _mm256_setzero_ps();
    __m256 a0 = zero, a1 = zero;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_ps(a0, centred(_mm256_loadu_ps(x + i), x0, zero));
        a1 = _mm256_add_ps(a1, centred(_mm256_loadu_ps(x + i + 8), x0, zero));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, centred(_mm256_loadu_ps(x + i), x0, zero));
    if (i < n) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        a1 = _mm256_add_ps(a1, _mm256_and_ps(centred(_mm256_maskload_ps(x + i, k), x0, zero), _mm256_castsi256_ps(k)));
    }
    const __m256 mean = _mm256_set1_ps(lmk_hsum_avx2(_mm256_add_ps(a0, a1)) / (float)n);

    /* the variance from x - mean (a second pass), not E[x²] - mean², which cancels */
    a0 = zero, a1 = zero;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256 d0 = centred(_mm256_loadu_ps(x + i), x0, mean), d1 = centred(_mm256_loadu_ps(x + i + 8), x0, mean);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
        a1 = _mm256_fmadd_ps(d1, d1, a1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = centred(_mm256_loadu_ps(x + i), x0, mean);
        a0 = _mm256_fmadd_ps(d, d, a0);
    }
    if (i < n) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        __m256 d = _mm256_and_ps(centred(_mm256_maskload_ps(x + i, k), x0, mean), _mm256_castsi256_ps(k));
        a1 = _mm256_fmadd_ps(d, d, a1);
    }
    const float var = lmk_hsum_avx2(_mm256_add_ps(a0, a1)) / (float)n;
    const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(var + eps));

    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(centred(_mm256_loadu_ps(x + i), x0, mean), scale),
                                 _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(y + i, b ? _mm256_add_ps(v, _mm256_loadu_ps(b + i)) : v);
    }
    if (i < n) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(centred(_mm256_maskload_ps(x + i, k), x0, mean), scale),
                                 _mm256_maskload_ps(w + i, k));
        _mm256_maskstore_ps(y + i, k, b ? _mm256_add_ps(v, _mm256_maskload_ps(b + i, k)) : v);
    }
}
