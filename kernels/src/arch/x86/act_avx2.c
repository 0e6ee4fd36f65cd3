/* Activation spans, AVX2 + FMA: the shared body (arch/act_body.h) over 8 lanes, masked tails. */
#include "elementwise.h"
#include "vmath_avx2.h"

#define VEC __m256
#define W 8
#define V_LOAD _mm256_loadu_ps
#define V_STORE _mm256_storeu_ps
#define V_MUL _mm256_mul_ps
#define V_SILU lmk_silu_avx2
#define V_GELU lmk_gelu_avx2
#define V_LOAD_PART(p, m) _mm256_maskload_ps(p, lmk_tail_mask_avx2(m))
#define V_STORE_PART(p, v, m) _mm256_maskstore_ps(p, lmk_tail_mask_avx2(m), v)
#define ACT_NAME(base) base##_avx2
#include "arch/act_body.h"
