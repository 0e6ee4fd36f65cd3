/* Quant family, AArch64 Advanced SIMD (plain armv8-a, no dotprod): dequantize, and the int8 tile
 * kernels behind lmk_qmatmul.
 *
 * Dots: weights are unpacked to signed bytes (offset removed: q - 8, q - 16, q - 32) and
 * multiplied with the 8-bit activations by vmull_s8 (→ i16, |p| <= 128·127 fits), then vpadal
 * adds adjacent pairs into i32 lanes. Scales apply per 16 or 32 elements with vmla on i32.
 * Tiles run 4 weight rows per activation row (decode) or, for the 32-blocks, 4 rows × 2
 * activations (prefill), sharing the loads and unpacking between them. Every GGUF format has one:
 * Q5_1 and IQ4_NL (levels by vqtbl1q) on the 32-block path, Q5_K on Q4_K's, Q2_K / Q3_K / IQ4_XS
 * on one low-bit kernel. */
#include <arm_neon.h>
#include <stddef.h>

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

/* ---------------------------------------------------------------- tiles (R weight rows × C activation rows) */

/* The 32-block tiles unpack each weight block once for the C activation rows and load each
 * activation block once for the R weight rows; every (row, activation) pair keeps its own
 * accumulator and runs the same operations in the same order whatever R and C are, so the tile
 * shape never changes a result. */
#define QN_INLINE static inline __attribute__((always_inline))

/* One weight block as signed values (offset removed, except Q4_1's and Q5_1's), with its scales. */
typedef struct {
    int8x16_t lo, hi;  /* values 0..15 and 16..31 */
    float d, m;        /* m: Q4_1's and Q5_1's min */
} wblk;

/* 16 nibble indices → IQ4_NL's (and IQ4_XS's) levels, ggml's kvalues_iq4nl */
static inline int8x16_t iq4_levels(uint8x16_t idx) {
    static const int8_t levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    return vqtbl1q_s8(vld1q_s8(levels), idx);
}

QN_INLINE wblk wblk_load(const lmk_qfmt fmt, const uint8_t *p) {
    const uint8x16_t lo4 = vdupq_n_u8(0x0F);
    wblk W = {vdupq_n_s8(0), vdupq_n_s8(0), 0.0f, 0.0f};
    switch ((int)fmt) {
    case LMK_Q8_0: {
        const blk_q8_0 *x = (const blk_q8_0 *)p;
        W.lo = vld1q_s8(x->qs), W.hi = vld1q_s8(x->qs + 16), W.d = f16(x->d);
    } break;
    case LMK_Q4_0: {
        const blk_q4_0 *x = (const blk_q4_0 *)p;
        const uint8x16_t v = vld1q_u8(x->qs);
        W.lo = vsubq_s8(s8(vandq_u8(v, lo4)), vdupq_n_s8(8)), W.hi = vsubq_s8(s8(vshrq_n_u8(v, 4)), vdupq_n_s8(8));
        W.d = f16(x->d);
    } break;
    case LMK_Q4_1: {
        const blk_q4_1 *x = (const blk_q4_1 *)p;
        const uint8x16_t v = vld1q_u8(x->qs);
        W.lo = s8(vandq_u8(v, lo4)), W.hi = s8(vshrq_n_u8(v, 4)), W.d = f16(x->d), W.m = f16(x->m);
    } break;
    case LMK_Q5_0: {
        const blk_q5_0 *x = (const blk_q5_0 *)p;
        const uint8x16_t v = vld1q_u8(x->qs);
        W.lo = vsubq_s8(s8(vorrq_u8(vandq_u8(v, lo4), high_bits_16(x->qh, 0))), vdupq_n_s8(16));
        W.hi = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(v, 4), high_bits_16(x->qh, 16))), vdupq_n_s8(16));
        W.d = f16(x->d);
    } break;
    case LMK_Q5_1: {
        const blk_q5_1 *x = (const blk_q5_1 *)p;
        const uint8x16_t v = vld1q_u8(x->qs);
        W.lo = s8(vorrq_u8(vandq_u8(v, lo4), high_bits_16(x->qh, 0)));
        W.hi = s8(vorrq_u8(vshrq_n_u8(v, 4), high_bits_16(x->qh, 16)));
        W.d = f16(x->d), W.m = f16(x->m);
    } break;
    case LMK_IQ4_NL: {
        const blk_iq4_nl *x = (const blk_iq4_nl *)p;
        const uint8x16_t v = vld1q_u8(x->qs);
        W.lo = iq4_levels(vandq_u8(v, lo4)), W.hi = iq4_levels(vshrq_n_u8(v, 4)), W.d = f16(x->d);
    } break;
    }
    return W;
}

QN_INLINE void tile32(const lmk_qfmt fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                      int64_t ldc, const int R, const int C, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    const int affine = fmt == LMK_Q4_1 || fmt == LMK_Q5_1;
    float32x4_t acc[4][4];  /* [act][row]: a dispatch may name C up to 4 */
    float off[4][4];  /* Q4_1, Q5_1: Σ m · d_a · Σqs */
    for (int i = 0; i < C; i++)
        for (int r = 0; r < R; r++) acc[i][r] = vdupq_n_f32(0.0f), off[i][r] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        wblk W[4];
        for (int r = 0; r < R; r++) W[r] = wblk_load(fmt, w + r * ws + b * bb);
        for (int i = 0; i < C; i++) {
            const act_q8 *A = (const act_q8 *)(a + i * as) + b;
            const int8x16_t a0 = vld1q_s8(A->qs), a1 = vld1q_s8(A->qs + 16);
            for (int r = 0; r < R; r++) {
                const int32x4_t p = dot16(dot16(vdupq_n_s32(0), W[r].lo, a0), W[r].hi, a1);
                acc[i][r] = vmlaq_n_f32(acc[i][r], vcvtq_f32_s32(p), W[r].d * A->d);
                if (affine) off[i][r] += W[r].m * A->d * (float)A->sum;
            }
        }
    }
    for (int i = 0; i < C; i++)
        for (int r = 0; r < R; r++) c[i * ldc + r] = vaddvq_f32(acc[i][r]) + off[i][r];
}

#define QN_TILE32(name, fmt)                                                                           \
    QN_INLINE void name##_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                               const int R, const int C, int64_t nb) {                                 \
        tile32(fmt, w, ws, a, as, c, ldc, R, C, nb);                                                   \
    }                                                                                                  \
    LMK_QTILE_DISPATCH(name, name##_kern, 0, 4)
QN_TILE32(tile_q8_0, LMK_Q8_0)
QN_TILE32(tile_q4_0, LMK_Q4_0)
QN_TILE32(tile_q4_1, LMK_Q4_1)
QN_TILE32(tile_q5_0, LMK_Q5_0)
QN_TILE32(tile_q5_1, LMK_Q5_1)
QN_TILE32(tile_iq4_nl, LMK_IQ4_NL)
/* K-quants: R weight rows against one activation row at a time; each activation chunk is loaded
 * once for the R rows, every row keeps its own integer and float sums. */
/* Q4_K and Q5_K (the fifth bit of sub-block s in bit s of qh[l]): d, dmin and scales[12] lead
 * both layouts; 32 bytes of qs hold sub-blocks 2k (low nibbles) and 2k + 1 (high). */
QN_INLINE void q45k_kern(const int q5, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                         int64_t ldc, const int R, const int C, int64_t nb) {
    const uint8x16_t lo4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
    const int64_t bb = q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k);
    for (int i = 0; i < C; i++) {
        const act_q8k *A = (const act_q8k *)(a + i * as);
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *x[4], *qs[4], *qh[4];
            uint8_t sc[4][8], mn[4][8];
            int32x4_t isum[4];
            for (int r = 0; r < R; r++) {
                x[r] = w + r * ws + b * bb;
                qs[r] = q5 ? ((const blk_q5_k *)x[r])->qs : ((const blk_q4_k *)x[r])->qs;
                qh[r] = q5 ? ((const blk_q5_k *)x[r])->qh : NULL;
                lmk_q4k_scales(x[r] + 4, sc[r], mn[r]);
                isum[r] = vdupq_n_s32(0);
            }
            for (int k = 0; k < 4; k++) {
                const int8_t *q8 = A[b].qs + 64 * k;
                const int8x16_t a0 = vld1q_s8(q8), a1 = vld1q_s8(q8 + 16), a2 = vld1q_s8(q8 + 32), a3 = vld1q_s8(q8 + 48);
                for (int r = 0; r < R; r++) {
                    const uint8x16_t v0 = vld1q_u8(qs[r] + 32 * k), v1 = vld1q_u8(qs[r] + 32 * k + 16);
                    uint8x16_t u0 = vandq_u8(v0, lo4), u1 = vandq_u8(v1, lo4), u2 = vshrq_n_u8(v0, 4), u3 = vshrq_n_u8(v1, 4);
                    if (q5) {  /* bit 2k (low nibbles) and 2k + 1 (high) of qh[l], moved to bit 4 */
                        const uint8x16_t h0 = vld1q_u8(qh[r]), h1 = vld1q_u8(qh[r] + 16);
                        const int8x16_t lo = vdupq_n_s8((int8_t)(-2 * k)), hi = vdupq_n_s8((int8_t)(-2 * k - 1));
                        u0 = vorrq_u8(u0, vshlq_n_u8(vandq_u8(vshlq_u8(h0, lo), one), 4));
                        u1 = vorrq_u8(u1, vshlq_n_u8(vandq_u8(vshlq_u8(h1, lo), one), 4));
                        u2 = vorrq_u8(u2, vshlq_n_u8(vandq_u8(vshlq_u8(h0, hi), one), 4));
                        u3 = vorrq_u8(u3, vshlq_n_u8(vandq_u8(vshlq_u8(h1, hi), one), 4));
                    }
                    int32x4_t t0 = dot16(vdupq_n_s32(0), s8(u0), a0);
                    t0 = dot16(t0, s8(u1), a1);
                    int32x4_t t1 = dot16(vdupq_n_s32(0), s8(u2), a2);
                    t1 = dot16(t1, s8(u3), a3);
                    isum[r] = vmlaq_n_s32(isum[r], t0, sc[r][2 * k]);
                    isum[r] = vmlaq_n_s32(isum[r], t1, sc[r][2 * k + 1]);
                }
            }
            for (int r = 0; r < R; r++) {
                int32_t imin = 0;
                for (int j = 0; j < 8; j++) imin += mn[r][j] * (A[b].bsums[2 * j] + A[b].bsums[2 * j + 1]);
                uint16_t d, dmin;
                memcpy(&d, x[r], 2), memcpy(&dmin, x[r] + 2, 2);
                s[r] += A[b].d * (f16(d) * (float)vaddvq_s32(isum[r]) - f16(dmin) * (float)imin);
            }
        }
        for (int r = 0; r < R; r++) c[i * ldc + r] = s[r];
    }
}
QN_INLINE void q4k_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int R, const int C, int64_t nb) {
    q45k_kern(0, w, ws, a, as, c, ldc, R, C, nb);
}
QN_INLINE void q5k_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int R, const int C, int64_t nb) {
    q45k_kern(1, w, ws, a, as, c, ldc, R, C, nb);
}

/* One super-block of Q2_K, Q3_K or IQ4_XS against one activation block: Σ_g sc_g · Σ q·a over the
 * groups (integer, exact) and, for Q2_K, the mins' Σ_g mn_g · Σa_g. Q2_K / Q3_K: value
 * 128n + 32j + l is bits 2j, 2j + 1 of qs[32n + l] (Q3_K: minus 4 where bit 4n + j of hmask[l]
 * is clear); IQ4_XS: sub-block s is an IQ4_NL block under the scale ls_s - 32. */
QN_INLINE int32_t lowbit_isum(const lmk_qfmt fmt, const uint8_t *p, const act_q8k *A, int32_t *imin) {
    const uint8x16_t three = vdupq_n_u8(3), lo4 = vdupq_n_u8(0x0F);
    int32x4_t isum = vdupq_n_s32(0);
    *imin = 0;
    if (fmt == LMK_IQ4_XS) {
        const blk_iq4_xs *x = (const blk_iq4_xs *)p;
        for (int s = 0; s < 8; s++) {
            const int ls = ((x->scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | ((x->scales_h >> (2 * s)) & 3) << 4;
            const uint8x16_t v = vld1q_u8(x->qs + 16 * s);
            int32x4_t t = dot16(vdupq_n_s32(0), iq4_levels(vandq_u8(v, lo4)), vld1q_s8(A->qs + 32 * s));
            t = dot16(t, iq4_levels(vshrq_n_u8(v, 4)), vld1q_s8(A->qs + 32 * s + 16));
            isum = vmlaq_n_s32(isum, t, ls - 32);
        }
        return vaddvq_s32(isum);
    }
    const int q3 = fmt == LMK_Q3_K;
    const uint8_t *qs = q3 ? ((const blk_q3_k *)p)->qs : ((const blk_q2_k *)p)->qs;
    int8_t sc[16];
    if (q3) {
        lmk_q3k_scales(((const blk_q3_k *)p)->scales, sc);
    } else {
        const uint8_t *s2 = ((const blk_q2_k *)p)->scales;
        for (int g = 0; g < 16; g++) sc[g] = (int8_t)(s2[g] & 0xF), *imin += (s2[g] >> 4) * A->bsums[g];
    }
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++) {  /* l in [16k, 16k + 16) */
            const uint8x16_t q = vld1q_u8(qs + 32 * n + 16 * k);
            const uint8x16_t hm = q3 ? vld1q_u8(((const blk_q3_k *)p)->hmask + 16 * k) : vdupq_n_u8(0);
            for (int j = 0; j < 4; j++) {
                uint8x16_t u = vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), three);
                int8x16_t v = s8(u);
                if (q3)  /* 4 where the bit is set, then -4 */
                    v = vsubq_s8(s8(vorrq_u8(u, vandq_u8(vtstq_u8(hm, vdupq_n_u8((uint8_t)(1 << (4 * n + j)))), vdupq_n_u8(4)))),
                                 vdupq_n_s8(4));
                const int32x4_t t = dot16(vdupq_n_s32(0), v, vld1q_s8(A->qs + 128 * n + 32 * j + 16 * k));
                isum = vmlaq_n_s32(isum, t, sc[8 * n + 2 * j + k]);
            }
        }
    return vaddvq_s32(isum);
}

/* Q2_K, Q3_K, IQ4_XS tiles: R weight rows against one activation row at a time. */
QN_INLINE void lowbit_kern(const lmk_qfmt fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                           int64_t ldc, const int R, const int C, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    for (int i = 0; i < C; i++) {
        const act_q8k *A = (const act_q8k *)(a + i * as);
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t b = 0; b < nb; b++)
            for (int r = 0; r < R; r++) {
                const uint8_t *p = w + r * ws + b * bb;
                int32_t imin;
                const int32_t isum = lowbit_isum(fmt, p, A + b, &imin);
                uint16_t d, dmin = 0;
                memcpy(&d, p + (fmt == LMK_Q2_K ? offsetof(blk_q2_k, d) : fmt == LMK_Q3_K ? offsetof(blk_q3_k, d) : 0), 2);
                if (fmt == LMK_Q2_K) memcpy(&dmin, p + offsetof(blk_q2_k, dmin), 2);
                s[r] += A[b].d * (f16(d) * (float)isum - f16(dmin) * (float)imin);
            }
        for (int r = 0; r < R; r++) c[i * ldc + r] = s[r];
    }
}
#define QN_TILE_LOWBIT(name, fmt)                                                                          QN_INLINE void name##_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc,                                const int R, const int C, int64_t nb) {                                         lowbit_kern(fmt, w, ws, a, as, c, ldc, R, C, nb);                                                  }                                                                                                      LMK_QTILE_DISPATCH(name, name##_kern, 0, 4)
QN_TILE_LOWBIT(tile_q2_k, LMK_Q2_K)
QN_TILE_LOWBIT(tile_q3_k, LMK_Q3_K)
QN_TILE_LOWBIT(tile_iq4_xs, LMK_IQ4_XS)

QN_INLINE void q6k_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int R, const int C, int64_t nb) {
    const uint8x16_t lo4 = vdupq_n_u8(0x0F), three = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    for (int i = 0; i < C; i++) {
        const act_q8k *A = (const act_q8k *)(a + i * as);
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t b = 0; b < nb; b++) {
            int32x4_t isum[4];
            for (int r = 0; r < R; r++) isum[r] = vdupq_n_s32(0);
            for (int h = 0; h < 2; h++)
                for (int k = 0; k < 2; k++) {  /* l in [16k, 16k + 16): groups 8h + 2j + k */
                    const int8_t *q8 = A[b].qs + 128 * h + 16 * k;
                    const int8x16_t q[4] = {vld1q_s8(q8), vld1q_s8(q8 + 32), vld1q_s8(q8 + 64), vld1q_s8(q8 + 96)};
                    for (int r = 0; r < R; r++) {
                        const blk_q6_k *x = (const blk_q6_k *)(w + r * ws) + b;
                        const int8_t *sc = x->scales + 8 * h;
                        const uint8x16_t ql0 = vld1q_u8(x->ql + 64 * h + 16 * k), ql1 = vld1q_u8(x->ql + 64 * h + 32 + 16 * k);
                        const uint8x16_t qh = vld1q_u8(x->qh + 32 * h + 16 * k);
                        const uint8x16_t v[4] = {
                            vorrq_u8(vandq_u8(ql0, lo4), vshlq_n_u8(vandq_u8(qh, three), 4)),
                            vorrq_u8(vandq_u8(ql1, lo4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), three), 4)),
                            vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), three), 4)),
                            vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
                        };
                        for (int j = 0; j < 4; j++) {
                            const int32x4_t t = dot16(vdupq_n_s32(0), vsubq_s8(s8(v[j]), off), q[j]);
                            isum[r] = vmlaq_n_s32(isum[r], t, sc[2 * j + k]);
                        }
                    }
                }
            for (int r = 0; r < R; r++) {
                const blk_q6_k *x = (const blk_q6_k *)(w + r * ws) + b;
                s[r] += f16(x->d) * A[b].d * (float)vaddvq_s32(isum[r]);
            }
        }
        for (int r = 0; r < R; r++) c[i * ldc + r] = s[r];
    }
}
LMK_QTILE_DISPATCH(tile_q4_k, q4k_kern, 0, 4)
LMK_QTILE_DISPATCH(tile_q5_k, q5k_kern, 0, 4)
LMK_QTILE_DISPATCH(tile_q6_k, q6k_kern, 0, 4)

lmk_qkernels lmk_qkernels_neon(lmk_qfmt fmt) {
    static const lmk_qtiles tiles = {tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, tile_q5_1, tile_iq4_nl,
                                     tile_q2_k, tile_q3_k, tile_q4_k, tile_q5_k, tile_q6_k, tile_iq4_xs};
    lmk_qkernels k = {.tile = NULL};
    k.tile = lmk_qtile_of(fmt, &tiles);
    return k;
}
