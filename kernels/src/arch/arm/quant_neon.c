/* Quant family, AArch64 Advanced SIMD (plain armv8-a, no dotprod): dequantize, and the int8 dot
 * kernels behind lmk_qmatmul.
 *
 * Dots: weights are unpacked to signed bytes (offset removed: q - 8, q - 16, q - 32) and
 * multiplied with the 8-bit activations by vmull_s8 (→ i16, |p| <= 128·127 fits), then vpadal
 * adds adjacent pairs into i32 lanes. Scales apply per 16 or 32 elements with vmla on i32. */
#include <arm_neon.h>

#include "../../quant_internal.h"

/* f16 bits → f32 in the FPU (exact, like lmk_f16_to_f32) */
static inline float f16(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* acc + Σ x·y over 16 signed bytes, as 4 i32 partial sums */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t y) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
    return vpadalq_s16(acc, vmull_high_s8(x, y));
}

static inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* Q5_0's fifth bits for 16 elements starting at bit `first` of qh: 0x10 where set. */
static inline uint8x16_t high_bits_16(const uint8_t *qh, int first) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t b = vcombine_u8(vdup_n_u8(qh[first / 8]), vdup_n_u8(qh[first / 8 + 1]));
    return vandq_u8(vtstq_u8(b, vld1q_u8(bit)), vdupq_n_u8(0x10));
}

/* ---------------------------------------------------------------- dequantize */

/* 16 signed bytes → y[0..16) = d * v */
static inline void store_scaled_s8(float *y, int8x16_t v, float d) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
    vst1q_f32(y + 0, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
    vst1q_f32(y + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
    vst1q_f32(y + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
    vst1q_f32(y + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}

/* 16 unsigned bytes → y[0..16) = (d * v) + m, the product rounded first as gguf-py does */
static inline void store_affine_u8(float *y, uint8x16_t v, float d, float m) {
    const uint16x8_t half[2] = {vmovl_u8(vget_low_u8(v)), vmovl_high_u8(v)};
    const float32x4_t vm = vdupq_n_f32(m);
    for (int h = 0; h < 2; h++) {
        float32x4_t p0 = vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(half[h]))), d);
        float32x4_t p1 = vmulq_n_f32(vcvtq_f32_u32(vmovl_high_u16(half[h])), d);
        LMK_ROUNDED(p0);
        LMK_ROUNDED(p1);
        vst1q_f32(y + 8 * h, vaddq_f32(p0, vm));
        vst1q_f32(y + 8 * h + 4, vaddq_f32(p1, vm));
    }
}

void lmk_dequantize_neon(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    const uint8x16_t lo4 = vdupq_n_u8(0x0F);
    for (int64_t b = 0; b < nb; b++) {
        switch ((int)fmt) {
        case LMK_Q8_0: {
            const blk_q8_0 *x = (const blk_q8_0 *)q + b;
            const float d = f16(x->d);
            store_scaled_s8(y, vld1q_s8(x->qs), d);
            store_scaled_s8(y + 16, vld1q_s8(x->qs + 16), d);
            y += QK;
        } break;
        case LMK_Q4_0: {
            const blk_q4_0 *x = (const blk_q4_0 *)q + b;
            const float d = f16(x->d);
            const uint8x16_t v = vld1q_u8(x->qs);
            store_scaled_s8(y, vsubq_s8(s8(vandq_u8(v, lo4)), vdupq_n_s8(8)), d);
            store_scaled_s8(y + 16, vsubq_s8(s8(vshrq_n_u8(v, 4)), vdupq_n_s8(8)), d);
            y += QK;
        } break;
        case LMK_Q4_1: {
            const blk_q4_1 *x = (const blk_q4_1 *)q + b;
            const float d = f16(x->d), m = f16(x->m);
            const uint8x16_t v = vld1q_u8(x->qs);
            store_affine_u8(y, vandq_u8(v, lo4), d, m);
            store_affine_u8(y + 16, vshrq_n_u8(v, 4), d, m);
            y += QK;
        } break;
        case LMK_Q5_0: {
            const blk_q5_0 *x = (const blk_q5_0 *)q + b;
            const float d = f16(x->d);
            const uint8x16_t v = vld1q_u8(x->qs);
            const uint8x16_t v0 = vorrq_u8(vandq_u8(v, lo4), high_bits_16(x->qh, 0));
            const uint8x16_t v1 = vorrq_u8(vshrq_n_u8(v, 4), high_bits_16(x->qh, 16));
            store_scaled_s8(y, vsubq_s8(s8(v0), vdupq_n_s8(16)), d);
            store_scaled_s8(y + 16, vsubq_s8(s8(v1), vdupq_n_s8(16)), d);
            y += QK;
        } break;
        case LMK_Q4_K: {
            const blk_q4_k *x = (const blk_q4_k *)q + b;
            const float d = f16(x->d), dmin = f16(x->dmin);
            uint8_t sc[8], mn[8];
            lmk_q4k_scales(x->scales, sc, mn);
            for (int c = 0; c < 4; c++) {
                const float d0 = d * (float)sc[2 * c], m0 = dmin * (float)mn[2 * c];
                const float d1 = d * (float)sc[2 * c + 1], m1 = dmin * (float)mn[2 * c + 1];
                for (int k = 0; k < 2; k++) {
                    const uint8x16_t v = vld1q_u8(x->qs + 32 * c + 16 * k);
                    /* y = d·q - m, written as d·q + (-m): negation is exact */
                    store_affine_u8(y + 16 * k, vandq_u8(v, lo4), d0, -m0);
                    store_affine_u8(y + 32 + 16 * k, vshrq_n_u8(v, 4), d1, -m1);
                }
                y += 64;
            }
        } break;
        case LMK_Q6_K: {
            const blk_q6_k *x = (const blk_q6_k *)q + b;
            const float d = f16(x->d);
            const uint8x16_t three = vdupq_n_u8(3);
            for (int h = 0; h < 2; h++) {
                const int8_t *sc = x->scales + 8 * h;
                for (int k = 0; k < 2; k++) {  /* l in [16k, 16k + 16) */
                    const uint8x16_t ql0 = vld1q_u8(x->ql + 64 * h + 16 * k), ql1 = vld1q_u8(x->ql + 64 * h + 32 + 16 * k);
                    const uint8x16_t qh = vld1q_u8(x->qh + 32 * h + 16 * k);
                    const uint8x16_t v[4] = {
                        vorrq_u8(vandq_u8(ql0, lo4), vshlq_n_u8(vandq_u8(qh, three), 4)),
                        vorrq_u8(vandq_u8(ql1, lo4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), three), 4)),
                        vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), three), 4)),
                        vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
                    };
                    for (int j = 0; j < 4; j++)
                        store_scaled_s8(y + 32 * j + 16 * k, vsubq_s8(s8(v[j]), vdupq_n_s8(32)), d * (float)sc[2 * j + k]);
                }
                y += 128;
            }
        } break;
        }
    }
}

/* ---------------------------------------------------------------- dots (weights · act) */

static float dot_q8_0(const void *vw, const void *va, int64_t nb) {
    const blk_q8_0 *w = vw;
    const act_q8 *a = va;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int32x4_t p = dot16(vdupq_n_s32(0), vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        p = dot16(p, vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), f16(w[b].d) * a[b].d);
    }
    return vaddvq_f32(acc);
}

/* Q4_0, Q4_1, Q5_0 share the nibble unpacking; `off` is subtracted from each value. */
static inline int32x4_t dot_nibbles(const uint8_t *qs, const uint8_t *qh, const int8_t *q8, int8_t off) {
    const uint8x16_t v = vld1q_u8(qs);
    uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(v, 4);
    if (qh) lo = vorrq_u8(lo, high_bits_16(qh, 0)), hi = vorrq_u8(hi, high_bits_16(qh, 16));
    const int32x4_t p = dot16(vdupq_n_s32(0), vsubq_s8(s8(lo), vdupq_n_s8(off)), vld1q_s8(q8));
    return dot16(p, vsubq_s8(s8(hi), vdupq_n_s8(off)), vld1q_s8(q8 + 16));
}

static float dot_q4_0(const void *vw, const void *va, int64_t nb) {
    const blk_q4_0 *w = vw;
    const act_q8 *a = va;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++)
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot_nibbles(w[b].qs, NULL, a[b].qs, 8)), f16(w[b].d) * a[b].d);
    return vaddvq_f32(acc);
}

static float dot_q4_1(const void *vw, const void *va, int64_t nb) {
    const blk_q4_1 *w = vw;
    const act_q8 *a = va;
    float32x4_t acc = vdupq_n_f32(0.0f);
    float off = 0.0f;  /* Σ m · d_a · Σqs */
    for (int64_t b = 0; b < nb; b++) {
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot_nibbles(w[b].qs, NULL, a[b].qs, 0)), f16(w[b].d) * a[b].d);
        off += f16(w[b].m) * a[b].d * (float)a[b].sum;
    }
    return vaddvq_f32(acc) + off;
}

static float dot_q5_0(const void *vw, const void *va, int64_t nb) {
    const blk_q5_0 *w = vw;
    const act_q8 *a = va;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++)
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot_nibbles(w[b].qs, w[b].qh, a[b].qs, 16)), f16(w[b].d) * a[b].d);
    return vaddvq_f32(acc);
}

static float dot_q4_k(const void *vw, const void *va, int64_t nb) {
    const blk_q4_k *w = vw;
    const act_q8k *a = va;
    const uint8x16_t lo4 = vdupq_n_u8(0x0F);
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[8], mn[8];
        lmk_q4k_scales(w[b].scales, sc, mn);
        int32x4_t isum = vdupq_n_s32(0);
        for (int c = 0; c < 4; c++) {
            const uint8x16_t v0 = vld1q_u8(w[b].qs + 32 * c), v1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const int8_t *q8 = a[b].qs + 64 * c;
            int32x4_t t0 = dot16(vdupq_n_s32(0), s8(vandq_u8(v0, lo4)), vld1q_s8(q8));
            t0 = dot16(t0, s8(vandq_u8(v1, lo4)), vld1q_s8(q8 + 16));
            int32x4_t t1 = dot16(vdupq_n_s32(0), s8(vshrq_n_u8(v0, 4)), vld1q_s8(q8 + 32));
            t1 = dot16(t1, s8(vshrq_n_u8(v1, 4)), vld1q_s8(q8 + 48));
            isum = vmlaq_n_s32(isum, t0, sc[2 * c]);
            isum = vmlaq_n_s32(isum, t1, sc[2 * c + 1]);
        }
        int32_t imin = 0;
        for (int j = 0; j < 8; j++) imin += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        s += a[b].d * (f16(w[b].d) * (float)vaddvq_s32(isum) - f16(w[b].dmin) * (float)imin);
    }
    return s;
}

static float dot_q6_k(const void *vw, const void *va, int64_t nb) {
    const blk_q6_k *w = vw;
    const act_q8k *a = va;
    const uint8x16_t lo4 = vdupq_n_u8(0x0F), three = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32x4_t isum = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            const int8_t *sc = w[b].scales + 8 * h, *q8 = a[b].qs + 128 * h;
            for (int k = 0; k < 2; k++) {  /* l in [16k, 16k + 16): groups 8h + 2j + k */
                const uint8x16_t ql0 = vld1q_u8(w[b].ql + 64 * h + 16 * k), ql1 = vld1q_u8(w[b].ql + 64 * h + 32 + 16 * k);
                const uint8x16_t qh = vld1q_u8(w[b].qh + 32 * h + 16 * k);
                const uint8x16_t v[4] = {
                    vorrq_u8(vandq_u8(ql0, lo4), vshlq_n_u8(vandq_u8(qh, three), 4)),
                    vorrq_u8(vandq_u8(ql1, lo4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), three), 4)),
                    vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), three), 4)),
                    vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
                };
                for (int j = 0; j < 4; j++) {
                    const int32x4_t t = dot16(vdupq_n_s32(0), vsubq_s8(s8(v[j]), off), vld1q_s8(q8 + 32 * j + 16 * k));
                    isum = vmlaq_n_s32(isum, t, sc[2 * j + k]);
                }
            }
        }
        s += f16(w[b].d) * a[b].d * (float)vaddvq_s32(isum);
    }
    return s;
}

lmk_qdot_fn lmk_qdot_neon(lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q8_0: return dot_q8_0;
    case LMK_Q4_0: return dot_q4_0;
    case LMK_Q4_1: return dot_q4_1;
    case LMK_Q5_0: return dot_q5_0;
    case LMK_Q4_K: return dot_q4_k;
    case LMK_Q6_K: return dot_q6_k;
    default: return NULL;
    }
}
