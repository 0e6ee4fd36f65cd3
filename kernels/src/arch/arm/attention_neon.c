/* Attention tile kernels, NEON (see attention.h for the buffers). */
#include "attention.h"

#include <arm_neon.h>

#include "vec_neon.h"

#define SR 4   /* query rows per scores block: 16 accumulators of 32 registers */
#define PV 4   /* vectors of D per pv block: 4 rows x 4 = 16 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 4-lane sums -> one vector (a, b, c, d). */
ALWAYS_INLINE float32x4_t hsum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* The shared body, over this ISA's vectors (vec_neon.h) and the two helpers above. */
#define HSUM4 hsum4
#define STORE4 vst1q_f32
#include "arch/attention_body.h"

const lmk_attn_kernels lmk_attn_kernels_neon = {scores, online, pv};
