/* Private to the attention family: the inner kernels that attention.c's flash driver calls for
 * each tile of keys, one table per ISA. Not part of the public API.
 *
 * Buffers, for a block of R query rows and a tile of n <= LMK_ATTN_TILE keys:
 *   q    (R, Dp)              scaled queries, zero beyond D; Dp = D rounded up to 16
 *   k, v (n, ld)              float32 rows; columns D..Dp zero when Dp > D
 *   s    (R, LMK_ATTN_TILE)   scores, then probabilities; columns n..npad are -inf on entry
 *   acc  (R, Dp)              unnormalised output rows */
#ifndef LMK_ATTENTION_H
#define LMK_ATTENTION_H

#include "internal.h"

#define LMK_ATTN_TILE 64   /* keys per tile: 64 K and V rows of D = 256 floats stay in L2 */
#define LMK_ATTN_PAD 16    /* Dp and npad are multiples of this: every ISA's width divides it */

typedef struct {
    /* s[r][j] = q_r · k_j for r < R, j < n */
    void (*scores)(const float *q, int64_t R, int64_t Dp, const float *k, int64_t ldk, int64_t n, float *s);
    /* Online softmax over each row's npad scores: m (R) running max, l (R) running sum. Turns
     * s into exp(s - m_new), sets corr[r] = exp(m_old - m_new) (1 for a fully masked row,
     * whose probabilities become 0). */
    void (*online)(float *s, int64_t R, int64_t npad, float *m, float *l, float *corr);
    /* acc_r = acc_r * corr[r] + sum_j s[r][j] v_j over j < n */
    void (*pv)(const float *s, int64_t R, const float *v, int64_t ldv, int64_t n, int64_t Dp, const float *corr,
               float *acc);
} lmk_attn_kernels;

#if LMK_X86
extern const lmk_attn_kernels lmk_attn_kernels_avx2, lmk_attn_kernels_avx512;
#endif
#if LMK_ARM
extern const lmk_attn_kernels lmk_attn_kernels_neon;
#endif

#endif
