/* Activation spans, AVX2 + FMA: the vmath silu and gelu, two vectors per step, masked tail. */
#include "elementwise.h"
#include "vmath_avx2.h"

void lmk_swiglu_span_avx2(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_mul_ps(lmk_silu_avx2(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i));
        __m256 y1 = _mm256_mul_ps(lmk_silu_avx2(_mm256_loadu_ps(gate + i + 8)), _mm256_loadu_ps(up + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i < n; i += 8) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(lmk_silu_avx2(_mm256_maskload_ps(gate + i, k)),
                                                    _mm256_maskload_ps(up + i, k)));
    }
}

void lmk_geglu_span_avx2(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_mul_ps(lmk_gelu_avx2(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i));
        __m256 y1 = _mm256_mul_ps(lmk_gelu_avx2(_mm256_loadu_ps(gate + i + 8)), _mm256_loadu_ps(up + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i < n; i += 8) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(lmk_gelu_avx2(_mm256_maskload_ps(gate + i, k)),
                                                    _mm256_maskload_ps(up + i, k)));
    }
}

void lmk_gelu_span_avx2(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = lmk_gelu_avx2(_mm256_loadu_ps(x + i));
        __m256 y1 = lmk_gelu_avx2(_mm256_loadu_ps(x + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i < n; i += 8) {
        const __m256i k = lmk_tail_mask_avx2(n - i);
        _mm256_maskstore_ps(y + i, k, lmk_gelu_avx2(_mm256_maskload_ps(x + i, k)));
    }
}
