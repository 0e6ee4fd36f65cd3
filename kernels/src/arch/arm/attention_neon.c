/* Attention tile kernels, NEON (see attention.h for the buffers). */
#include "attention.h"

#include <arm_neon.h>

#include "vmath_neon.h"

#define W 4
#define SR 4   /* query rows per scores block: 16 accumulators of 32 registers */
#define PV 4   /* vectors of D per pv block: 4 rows x 4 = 16 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 4-lane sums -> one vector (a, b, c, d). */
ALWAYS_INLINE float32x4_t hsum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* The shared body, over this ISA's vectors. */
#define VEC float32x4_t
#define V_ZERO() vdupq_n_f32(0)
#define V_LOAD vld1q_f32
#define V_STORE vst1q_f32
#define V_SET1 vdupq_n_f32
#define V_FMA(a, b, acc) vfmaq_f32((acc), (a), (b))
#define V_MUL vmulq_f32
#define V_ADD vaddq_f32
#define V_SUB vsubq_f32
#define V_MAX vmaxq_f32
#define V_EXP lmk_exp_neon
#define V_HSUM lmk_hsum_neon
#define V_HMAX lmk_hmax_neon
#define HSUM4 hsum4
#define STORE4 vst1q_f32
#include "arch/attention_body.h"

const lmk_attn_kernels lmk_attn_kernels_neon = {scores, online, pv};
