/* RMSNorm and LayerNorm rows, AVX-512: the shared body (arch/norm_body.h) over 16 lanes, masked
 * tails. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t m) { return (__mmask16)((1u << m) - 1u); }

#define VEC __m512
#define W 16
#define V_ZERO _mm512_setzero_ps
#define V_SET1 _mm512_set1_ps
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_FMA _mm512_fmadd_ps
#define V_HSUM lmk_hsum_avx512
#define V_LOAD_PART(p, m) _mm512_maskz_loadu_ps(tail_mask(m), p)
#define V_STORE_PART(p, v, m) _mm512_mask_storeu_ps(p, tail_mask(m), v)
#define V_KEEP_PART(v, m) _mm512_maskz_mov_ps(tail_mask(m), v)
#define NORM_NAME(base) base##_avx512
#include "arch/norm_body.h"
