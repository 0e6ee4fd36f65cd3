/* RoPE rotations of one token, AVX-512; see rope_avx2.c. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1u); }

void lmk_rope_token_avx512(float *x, const float *c, const float *s, int64_t H, int64_t D,
                           int64_t half, int64_t p0, int64_t np, lmk_rope_style style) {
    for (int64_t h = 0; h < H; h++) {
        float *v = x + h * D;  /* (D) */
        if (style == LMK_ROPE_NORMAL) {
            float *p = v + 2 * p0;  /* (2·np) */
            for (int64_t j = 0; j < 2 * np; j += 16) {
                const __mmask16 k = tail_mask(2 * np - j);
                __m512 a = _mm512_maskz_loadu_ps(k, p + j);
                __m512 sw = _mm512_permute_ps(a, 0xB1);
                _mm512_mask_storeu_ps(p + j, k, _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(k, c + j),
                                                                _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(k, s + j))));
            }
        } else {
            float *pa = v + p0, *pb = v + p0 + half;  /* (np) each */
            for (int64_t j = 0; j < np; j += 16) {
                const __mmask16 k = tail_mask(np - j);
                __m512 a = _mm512_maskz_loadu_ps(k, pa + j), b = _mm512_maskz_loadu_ps(k, pb + j);
                __m512 cv = _mm512_maskz_loadu_ps(k, c + j), sv = _mm512_maskz_loadu_ps(k, s + j);
                _mm512_mask_storeu_ps(pa + j, k, _mm512_fmsub_ps(a, cv, _mm512_mul_ps(b, sv)));
                _mm512_mask_storeu_ps(pb + j, k, _mm512_fmadd_ps(b, cv, _mm512_mul_ps(a, sv)));
            }
        }
    }
}
