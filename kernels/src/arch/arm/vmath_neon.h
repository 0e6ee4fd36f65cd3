/* Vector math for the NEON kernels; the same algorithms as the x86 vmath headers, four lanes. */
#ifndef LMK_VMATH_NEON_H
#define LMK_VMATH_NEON_H
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

static inline float32x4_t lmk_exp_neon(float32x4_t x) {
    const float32x4_t hi = vdupq_n_f32(88.3762626647949f), lo = vdupq_n_f32(-87.3365478515625f);
    const uint32x4_t keep = vcgeq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), hi);
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), keep));
}

static inline float32x4_t lmk_silu_neon(float32x4_t x) {
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), lmk_exp_neon(vnegq_f32(x))));
}

/* gelu_tanh as x / (1 + e^{-2u}); see vmath_avx512.h */
static inline float32x4_t lmk_gelu_neon(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t u = vmulq_f32(vmulq_n_f32(x, -1.5957691216057308f), vfmaq_n_f32(one, vmulq_f32(x, x), 0.044715f));
    return vdivq_f32(x, vaddq_f32(one, lmk_exp_neon(u)));
}

static inline float lmk_hsum_neon(float32x4_t v) { return vaddvq_f32(v); }
static inline float lmk_hmax_neon(float32x4_t v) { return vmaxvq_f32(v); }

#endif
