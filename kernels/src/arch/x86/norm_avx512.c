/* RMSNorm and LayerNorm rows, AVX-512: the AVX2 kernels' passes, sixteen lanes, masked tails. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t left) { return (__mmask16)((1u << left) - 1u); }

/* Σ x² over the row. */
static float sum_squares(const float *x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
        a2 = _mm512_fmadd_ps(v2, v2, a2);
        a3 = _mm512_fmadd_ps(v3, v3, a3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        a0 = _mm512_fmadd_ps(v, v, a0);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        a1 = _mm512_fmadd_ps(v, v, a1);
    }
    return lmk_hsum_avx512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void lmk_rmsnorm_row_avx512(const float *x, const float *w, float *y, int64_t n, float eps) {
    const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(sum_squares(x, n) / (float)n + eps));
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), scale), _mm512_loadu_ps(w + i));
        __m512 y1 = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16), scale), _mm512_loadu_ps(w + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), scale), _mm512_loadu_ps(w + i)));
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), scale),
                                                      _mm512_maskz_loadu_ps(k, w + i)));
    }
}

/* (x - x0) - mean: see lmk_layernorm_row_avx512 */
static inline __m512 centred(__m512 v, __m512 x0, __m512 mean) {
    return _mm512_sub_ps(_mm512_sub_ps(v, x0), mean);
}

void lmk_layernorm_row_avx512(const float *x, const float *w, const float *b, float *y, int64_t n, float eps) {
    /* Work on x - x[0]: exact in float for values near x[0], it keeps a large common offset out of
     * the sums and out of the rounding of the mean. `mean` is the mean of x - x[0]. In the tails,
     * masked adds keep the lanes past the row's end out of the sums. */
    const __m512 x0 = _mm512_set1_ps(x[0]), zero = _mm512_setzero_ps();
    __m512 a0 = zero, a1 = zero;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_ps(a0, centred(_mm512_loadu_ps(x + i), x0, zero));
        a1 = _mm512_add_ps(a1, centred(_mm512_loadu_ps(x + i + 16), x0, zero));
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_add_ps(a0, centred(_mm512_loadu_ps(x + i), x0, zero));
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        a1 = _mm512_mask_add_ps(a1, k, a1, centred(_mm512_maskz_loadu_ps(k, x + i), x0, zero));
    }
    const __m512 mean = _mm512_set1_ps(lmk_hsum_avx512(_mm512_add_ps(a0, a1)) / (float)n);

    /* the variance from x - mean (a second pass), not E[x²] - mean², which cancels */
    a0 = zero, a1 = zero;
    for (i = 0; i + 32 <= n; i += 32) {
        __m512 d0 = centred(_mm512_loadu_ps(x + i), x0, mean), d1 = centred(_mm512_loadu_ps(x + i + 16), x0, mean);
        a0 = _mm512_fmadd_ps(d0, d0, a0);
        a1 = _mm512_fmadd_ps(d1, d1, a1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = centred(_mm512_loadu_ps(x + i), x0, mean);
        a0 = _mm512_fmadd_ps(d, d, a0);
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        __m512 d = centred(_mm512_maskz_loadu_ps(k, x + i), x0, mean);
        a1 = _mm512_mask3_fmadd_ps(d, d, a1, k);
    }
    const float var = lmk_hsum_avx512(_mm512_add_ps(a0, a1)) / (float)n;
    const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(var + eps));

    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(centred(_mm512_loadu_ps(x + i), x0, mean), scale),
                                 _mm512_loadu_ps(w + i));
        _mm512_storeu_ps(y + i, b ? _mm512_add_ps(v, _mm512_loadu_ps(b + i)) : v);
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(centred(_mm512_maskz_loadu_ps(k, x + i), x0, mean), scale),
                                 _mm512_maskz_loadu_ps(k, w + i));
        _mm512_mask_storeu_ps(y + i, k, b ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i)) : v);
    }
}
