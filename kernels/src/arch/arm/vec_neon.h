/* The vector vocabulary the width-generic bodies are written in (arch/act_body.h, norm_body.h,
 * softmax_body.h, attention_body.h), for NEON:
 * 4 float lanes; partial vectors through a small padded buffer. */
#ifndef LMK_VEC_NEON_H
#define LMK_VEC_NEON_H
#include "vmath_neon.h"

static inline float32x4_t lmk_load_fill_neon(const float *p, int64_t m, float fill) {
    float t[4] = {fill, fill, fill, fill};
    memcpy(t, p, (size_t)m * sizeof *t);
    return vld1q_f32(t);
}

static inline void lmk_store_part_neon(float *p, float32x4_t v, int64_t m) {
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, (size_t)m * sizeof *t);
}

static inline float32x4_t lmk_keep_part_neon(float32x4_t v, int64_t m) {
    static const int32_t lane[4] = {0, 1, 2, 3};
    const uint32x4_t keep = vcltq_s32(vld1q_s32(lane), vdupq_n_s32((int32_t)m));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), keep));
}

/* acc plus the lanes where a or b is NaN (x == x fails only for NaN) */
static inline uint32x4_t lmk_nans_neon(uint32x4_t acc, float32x4_t a, float32x4_t b) {
    return vorrq_u32(acc, vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b))));
}

#define VEC float32x4_t
#define W 4
#define V_ZERO() vdupq_n_f32(0.0f)
#define V_SET1 vdupq_n_f32
#define V_LOAD vld1q_f32
#define V_STORE vst1q_f32
#define V_ADD vaddq_f32
#define V_SUB vsubq_f32
#define V_MUL vmulq_f32
#define V_DIV vdivq_f32
#define V_MAX vmaxq_f32
#define V_FMA(a, b, c) vfmaq_f32((c), (a), (b))                  /* a·b + c */
#define V_EXP lmk_exp_neon
#define V_SILU lmk_silu_neon
#define V_GELU lmk_gelu_neon
#define V_HSUM lmk_hsum_neon
#define V_HMAX lmk_hmax_neon
#define V_LOAD_PART(p, m) lmk_load_fill_neon(p, m, 0.0f)                                /* rest 0 */
#define V_LOAD_FILL lmk_load_fill_neon
#define V_STORE_PART lmk_store_part_neon
#define V_KEEP_PART lmk_keep_part_neon                                                   /* rest 0 */
#define NANS uint32x4_t
#define NANS_NONE vdupq_n_u32(0)
#define V_NANS lmk_nans_neon
#define NANS_ANY(acc) (vmaxvq_u32(acc) != 0)

#endif
