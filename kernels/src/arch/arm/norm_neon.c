/* RMSNorm and LayerNorm rows, NEON: the shared body (arch/norm_body.h) over 4 lanes; tails through
 * a zero-padded buffer. */
#include "elementwise.h"
#include "vmath_neon.h"

static inline float32x4_t keep_part(float32x4_t v, int64_t m) {
    static const int32_t lane[4] = {0, 1, 2, 3};
    const uint32x4_t keep = vcltq_s32(vld1q_s32(lane), vdupq_n_s32((int32_t)m));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), keep));
}

static inline float32x4_t fma4(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }

#define VEC float32x4_t
#define W 4
#define V_ZERO() vdupq_n_f32(0.0f)
#define V_SET1 vdupq_n_f32
#define V_LOAD vld1q_f32
#define V_STORE vst1q_f32
#define V_ADD vaddq_f32
#define V_SUB vsubq_f32
#define V_MUL vmulq_f32
#define V_FMA fma4
#define V_HSUM lmk_hsum_neon
#define V_LOAD_PART lmk_load_part_neon
#define V_STORE_PART lmk_store_part_neon
#define V_KEEP_PART keep_part
#define NORM_NAME(base) base##_neon
#include "arch/norm_body.h"
