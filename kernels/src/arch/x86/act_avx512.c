/* Activation spans, AVX-512: the vmath silu and gelu, two vectors per step, masked tail. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1u); }

void lmk_swiglu_span_avx512(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_mul_ps(lmk_silu_avx512(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i));
        __m512 y1 = _mm512_mul_ps(lmk_silu_avx512(_mm512_loadu_ps(gate + i + 16)), _mm512_loadu_ps(up + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(lmk_silu_avx512(_mm512_maskz_loadu_ps(k, gate + i)),
                                                      _mm512_maskz_loadu_ps(k, up + i)));
    }
}

void lmk_geglu_span_avx512(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_mul_ps(lmk_gelu_avx512(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i));
        __m512 y1 = _mm512_mul_ps(lmk_gelu_avx512(_mm512_loadu_ps(gate + i + 16)), _mm512_loadu_ps(up + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(lmk_gelu_avx512(_mm512_maskz_loadu_ps(k, gate + i)),
                                                      _mm512_maskz_loadu_ps(k, up + i)));
    }
}

void lmk_gelu_span_avx512(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = lmk_gelu_avx512(_mm512_loadu_ps(x + i));
        __m512 y1 = lmk_gelu_avx512(_mm512_loadu_ps(x + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, lmk_gelu_avx512(_mm512_maskz_loadu_ps(k, x + i)));
    }
}
