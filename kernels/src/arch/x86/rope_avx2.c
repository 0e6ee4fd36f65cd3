/* RoPE rotations of one token, AVX2 + FMA. NORMAL pairs are adjacent lanes: swapping them with a
 * permute gives x[j^1], and the signed sine table does the rest. */
#include "elementwise.h"
#include "vmath_avx2.h"

void lmk_rope_token_avx2(float *x, const float *c, const float *s, int64_t H, int64_t D,
                         int64_t half, int64_t p0, int64_t np, lmk_rope_style style) {
    for (int64_t h = 0; h < H; h++) {
        float *v = x + h * D;  /* (D) */
        if (style == LMK_ROPE_NORMAL) {
            float *p = v + 2 * p0;  /* (2·np) */
            const int64_t m = 2 * np;
            int64_t j = 0;
            for (; j + 8 <= m; j += 8) {
                __m256 a = _mm256_loadu_ps(p + j);
                __m256 sw = _mm256_permute_ps(a, 0xB1);
                _mm256_storeu_ps(p + j, _mm256_fmadd_ps(a, _mm256_loadu_ps(c + j),
                                                        _mm256_mul_ps(sw, _mm256_loadu_ps(s + j))));
            }
            if (j < m) {
                const __m256i k = lmk_tail_mask_avx2(m - j);
                __m256 a = _mm256_maskload_ps(p + j, k);
                __m256 sw = _mm256_permute_ps(a, 0xB1);
                _mm256_maskstore_ps(p + j, k, _mm256_fmadd_ps(a, _mm256_maskload_ps(c + j, k),
                                                              _mm256_mul_ps(sw, _mm256_maskload_ps(s + j, k))));
            }
        } else {
            float *pa = v + p0, *pb = v + p0 + half;  /* (np) each */
            for (int64_t j = 0; j < np; j += 8) {
                const __m256i k = lmk_tail_mask_avx2(np - j);
                __m256 a = _mm256_maskload_ps(pa + j, k), b = _mm256_maskload_ps(pb + j, k);
                __m256 cv = _mm256_maskload_ps(c + j, k), sv = _mm256_maskload_ps(s + j, k);
                _mm256_maskstore_ps(pa + j, k, _mm256_fmsub_ps(a, cv, _mm256_mul_ps(b, sv)));
                _mm256_maskstore_ps(pb + j, k, _mm256_fmadd_ps(b, cv, _mm256_mul_ps(a, sv)));
            }
        }
    }
}
