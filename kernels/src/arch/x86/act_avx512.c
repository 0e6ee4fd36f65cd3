/* Activation spans, AVX-512: the shared body (arch/act_body.h) over 16 lanes, masked tails. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t m) { return (__mmask16)((1u << m) - 1u); }

#define VEC __m512
#define W 16
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_MUL _mm512_mul_ps
#define V_SILU lmk_silu_avx512
#define V_GELU lmk_gelu_avx512
#define V_LOAD_PART(p, m) _mm512_maskz_loadu_ps(tail_mask(m), p)
#define V_STORE_PART(p, v, m) _mm512_mask_storeu_ps(p, tail_mask(m), v)
#define ACT_NAME(base) base##_avx512
#include "arch/act_body.h"
