/* float16 / FP8 E4M3FN conversions, NEON: the bit algorithms of fp8.c, eight values a step. */
#include "fp8.h"

#include <arm_neon.h>

static void f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    lmk_f32_to_f16_scalar(x + i, y + i, n - i);
}

static void f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
    lmk_f16_to_f32_scalar(x + i, y + i, n - i);
}

/* Four floats -> four E4M3 codes in the low byte of each 32-bit lane. */
static inline uint32x4_t encode4(float32x4_t x) {
    uint32x4_t b = vreinterpretq_u32_f32(x);
    uint32x4_t sign = vandq_u32(vshrq_n_u32(b, 24), vdupq_n_u32(0x80));
    uint32x4_t a = vandq_u32(b, vdupq_n_u32(0x7fffffff));
    uint32x4_t nan = vcgtq_u32(a, vdupq_n_u32(0x7f800000));
    a = vminq_u32(a, vdupq_n_u32(0x43e00000));   /* saturate to 448 (inf too) */
    uint32x4_t odd = vandq_u32(vshrq_n_u32(a, 20), vdupq_n_u32(1));
    uint32x4_t nrm = vaddq_u32(a, vaddq_u32(vdupq_n_u32(0x7ffff), odd));
    nrm = vsubq_u32(vshrq_n_u32(nrm, 20), vdupq_n_u32(120 << 3));
    float32x4_t sub_f = vaddq_f32(vreinterpretq_f32_u32(a), vdupq_n_f32(16384.0f));
    uint32x4_t sub = vsubq_u32(vreinterpretq_u32_f32(sub_f), vdupq_n_u32(0x46800000));
    uint32x4_t code = vbslq_u32(vcltq_u32(a, vdupq_n_u32(0x3c800000)), sub, nrm);
    code = vbslq_u32(nan, vdupq_n_u32(0x7f), code);
    return vorrq_u32(code, sign);
}

/* Four codes (low bytes of 32-bit lanes) -> four floats. */
static inline float32x4_t decode4(uint32x4_t c) {
    uint32x4_t mag = vandq_u32(c, vdupq_n_u32(0x7f));
    float32x4_t v = vmulq_f32(vreinterpretq_f32_u32(vshlq_n_u32(mag, 20)), vdupq_n_f32(0x1p120f));
    v = vbslq_f32(vceqq_u32(mag, vdupq_n_u32(0x7f)), vdupq_n_f32(NAN), v);
    uint32x4_t sign = vshlq_n_u32(vandq_u32(c, vdupq_n_u32(0x80)), 24);
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(v), sign));
}

static inline void store8(uint8_t *y, uint32x4_t lo, uint32x4_t hi) {
    vst1_u8(y, vmovn_u16(vcombine_u16(vmovn_u32(lo), vmovn_u32(hi))));
}

static inline void load8(const uint8_t *x, uint32x4_t *lo, uint32x4_t *hi) {
    uint16x8_t h = vmovl_u8(vld1_u8(x));
    *lo = vmovl_u16(vget_low_u16(h));
    *hi = vmovl_u16(vget_high_u16(h));
}

static void fp8_from_f32(const float *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store8(y + i, encode4(vld1q_f32(x + i)), encode4(vld1q_f32(x + i + 4)));
    lmk_fp8_from_f32_ref(x + i, y + i, n - i);
}

static void fp8_to_f32(const uint8_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32x4_t lo, hi;
        load8(x + i, &lo, &hi);
        vst1q_f32(y + i, decode4(lo));
        vst1q_f32(y + i + 4, decode4(hi));
    }
    lmk_fp8_to_f32_ref(x + i, y + i, n - i);
}

static void fp8_from_f16(const uint16_t *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
        store8(y + i, encode4(vcvt_f32_f16(vget_low_f16(h))), encode4(vcvt_high_f32_f16(h)));
    }
    for (; i < n; i++) {
        float f = lmk_f16_to_f32(x[i]);
        lmk_fp8_from_f32_ref(&f, y + i, 1);
    }
}

static void fp8_to_f16(const uint8_t *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32x4_t lo, hi;
        load8(x + i, &lo, &hi);
        vst1q_u16(y + i, vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(decode4(lo)), decode4(hi))));
    }
    for (; i < n; i++) {
        float f;
        lmk_fp8_to_f32_ref(x + i, &f, 1);
        y[i] = lmk_f32_to_f16(f);
    }
}

const lmk_fp8_paths lmk_fp8_paths_neon = {f32_to_f16, f16_to_f32, fp8_from_f32, fp8_to_f32, fp8_from_f16, fp8_to_f16};
