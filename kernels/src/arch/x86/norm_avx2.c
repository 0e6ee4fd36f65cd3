/* RMSNorm and LayerNorm rows, AVX2 + FMA: the shared body (arch/norm_body.h) over 8 lanes,
 * masked tails. */
#include "elementwise.h"
#include "vmath_avx2.h"

#define VEC __m256
#define W 8
#define V_ZERO _mm256_setzero_ps
#define V_SET1 _mm256_set1_ps
#define V_LOAD _mm256_loadu_ps
#define V_STORE _mm256_storeu_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_FMA _mm256_fmadd_ps
#define V_HSUM lmk_hsum_avx2
#define V_LOAD_PART(p, m) _mm256_maskload_ps(p, lmk_tail_mask_avx2(m))
#define V_STORE_PART(p, v, m) _mm256_maskstore_ps(p, lmk_tail_mask_avx2(m), v)
#define V_KEEP_PART(v, m) _mm256_and_ps(v, _mm256_castsi256_ps(lmk_tail_mask_avx2(m)))
#define NORM_NAME(base) base##_avx2
#include "arch/norm_body.h"
