/* The vector vocabulary the width-generic bodies are written in (arch/act_body.h, norm_body.h,
 * softmax_body.h, attention_body.h), for AVX2 + FMA:
 * 8 float lanes; partial vectors through maskload / maskstore. */
#ifndef LMK_VEC_AVX2_H
#define LMK_VEC_AVX2_H
#include "vmath_avx2.h"

static inline __m256 lmk_load_fill_avx2(const float *p, int64_t m, float fill) {
    const __m256i k = lmk_tail_mask_avx2(m);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}

#define VEC __m256
#define W 8
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1 _mm256_set1_ps
#define V_LOAD _mm256_loadu_ps
#define V_STORE _mm256_storeu_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_MAX _mm256_max_ps
#define V_FMA _mm256_fmadd_ps                                   /* a·b + c */
#define V_EXP lmk_exp_avx2
#define V_SILU lmk_silu_avx2
#define V_GELU lmk_gelu_avx2
#define V_HSUM lmk_hsum_avx2
#define V_HMAX lmk_hmax_avx2
#define V_LOAD_PART(p, m) _mm256_maskload_ps(p, lmk_tail_mask_avx2(m))                 /* rest 0 */
#define V_LOAD_FILL lmk_load_fill_avx2
#define V_STORE_PART(p, v, m) _mm256_maskstore_ps(p, lmk_tail_mask_avx2(m), v)
#define V_KEEP_PART(v, m) _mm256_and_ps(v, _mm256_castsi256_ps(lmk_tail_mask_avx2(m)))  /* rest 0 */
/* which lanes met a NaN (max_ps would drop it) */
#define NANS __m256
#define NANS_NONE _mm256_setzero_ps()
#define V_NANS(acc, a, b) _mm256_or_ps(acc, _mm256_cmp_ps(a, b, _CMP_UNORD_Q))
#define NANS_ANY(acc) (_mm256_movemask_ps(acc) != 0)

#endif
