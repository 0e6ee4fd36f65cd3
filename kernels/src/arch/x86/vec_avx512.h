/* The vector vocabulary the width-generic bodies are written in (arch/act_body.h, norm_body.h,
 * softmax_body.h, attention_body.h), for AVX-512:
 * 16 float lanes; partial vectors through lane masks. */
#ifndef LMK_VEC_AVX512_H
#define LMK_VEC_AVX512_H
#include "vmath_avx512.h"

static inline __mmask16 lmk_part_avx512(int64_t m) { return (__mmask16)((1u << m) - 1u); }  /* m < 16 lanes */

#define VEC __m512
#define W 16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1 _mm512_set1_ps
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#define V_MAX _mm512_max_ps
#define V_FMA _mm512_fmadd_ps                                   /* a·b + c */
#define V_EXP lmk_exp_avx512
#define V_SILU lmk_silu_avx512
#define V_GELU lmk_gelu_avx512
#define V_HSUM lmk_hsum_avx512
#define V_HMAX lmk_hmax_avx512
#define V_LOAD_PART(p, m) _mm512_maskz_loadu_ps(lmk_part_avx512(m), p)                 /* rest 0 */
#define V_LOAD_FILL(p, m, f) _mm512_mask_loadu_ps(_mm512_set1_ps(f), lmk_part_avx512(m), p)
#define V_STORE_PART(p, v, m) _mm512_mask_storeu_ps(p, lmk_part_avx512(m), v)
#define V_KEEP_PART(v, m) _mm512_maskz_mov_ps(lmk_part_avx512(m), v)                    /* rest 0 */
/* which lanes met a NaN (max_ps would drop it) */
#define NANS __mmask16
#define NANS_NONE 0
#define V_NANS(acc, a, b) ((acc) | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q))
#define NANS_ANY(acc) ((acc) != 0)

#endif
