/* Quant family, x16 layouts (lmk.h, quant_x16.c) on AArch64 with the dot-product extension
 * (FEAT_DotProd, armv8.2-a and later: Graviton 2+, Axion, Apple M, Cortex-A76+). A 128-bit vector
 * holds the same four values of four weight rows, so one sdot by lane adds the 16 products of
 * those rows with an activation's four bytes (a lane of the activation vector) into four row
 * sums; a block of 16 rows is four such vectors per four values. Scales of four rows are one
 * f32 vector. Tiles run 16 rows × up to 2 activation rows (32 registers: 8 integer sums, 8 float
 * sums, 4 activation vectors, the weights); QT_ACTS = 4 runs it twice.
 *
 * The build gives *_neon.c files plain armv8-a; dotprod is switched on for this file alone, and
 * quant_x16.c calls in only where lmk_cpu_dotprod() finds it (HWCAP_ASIMDDP). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

#include <arm_neon.h>

#include "../../quant_internal.h"

#if defined(__linux__)
#include <sys/auxv.h>
#endif

#define XN_INLINE static inline __attribute__((always_inline))

int lmk_cpu_dotprod(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) >> 20) & 1;   /* HWCAP_ASIMDDP */
#elif defined(__APPLE__)
    return 1;                                  /* every Apple arm64 core has it */
#else
    return 0;
#endif
}

/* Q5_0's fifth bits for bytes 16q..16q+15 of a nibble vector: 0x10 where bit (16q + j) of m is set */
XN_INLINE uint8x16_t fifth_bits(uint64_t m, int q) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint16_t h = (uint16_t)(m >> (16 * q));
    const uint8x16_t b = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
    return vandq_u8(vtstq_u8(b, vld1q_u8(bit)), vdupq_n_u8(0x10));
}

/* p[i][q] += rows 4q..4q+3 of weight vector w (values 4k'..4k'+3) · lane L of activation vector av[i] */
#define XN_DOT(w, av, L)                                                                           \
    do {                                                                                           \
        for (int i_ = 0; i_ < C; i_++) p[i_][q] = vdotq_laneq_s32(p[i_][q], (w), (av)[i_], L);     \
    } while (0)

/* values 4k..4k+3 (Q8_0: k < 8; lane k % 4 of the low or high activation half) */
#define XN_Q8_STEP(k)                                                                              \
    for (int q = 0; q < 4; q++) {                                                                  \
        const int8x16_t w_ = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(qs + 64 * (k) + 16 * q), vdupq_n_u8(0x80))); \
        XN_DOT(w_, (k) < 4 ? alo : ahi, (k) % 4);                                                  \
    }

/* the nibble bytes 4k..4k+3: low nibbles are values 4k.., high ones 16 + 4k.. (IQ4_NL's looked
 * up as their signed levels, sdot's operand as they are) */
#define XN_Q4_STEP(k)                                                                              \
    for (int q = 0; q < 4; q++) {                                                                  \
        const uint8x16_t v_ = vld1q_u8(qs + 64 * (k) + 16 * q);                                    \
        uint8x16_t lo_ = vandq_u8(v_, vdupq_n_u8(0x0F)), hi_ = vshrq_n_u8(v_, 4);                  \
        if (fmt == LMK_Q5_0) lo_ = vorrq_u8(lo_, fifth_bits(qh[k], q)), hi_ = vorrq_u8(hi_, fifth_bits(qh[4 + (k)], q)); \
        if (fmt == LMK_IQ4_NL) lo_ = vqtbl1q_u8(levels, lo_), hi_ = vqtbl1q_u8(levels, hi_);       \
        XN_DOT(vreinterpretq_s8_u8(lo_), alo, k);                                                  \
        XN_DOT(vreinterpretq_s8_u8(hi_), ahi, k);                                                  \
    }

/* 16 rows (the group at w) × C <= 2 activation rows (prepared act_x16, as bytes apart) */
XN_INLINE void x16_kern(const lmk_qfmt fmt, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int C, int64_t nb) {
    const int64_t bb = 16 * lmk_qblock_bytes(fmt);
    static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const uint8x16_t levels = vreinterpretq_u8_s8(vld1q_s8(kvalues));  /* ggml's kvalues_iq4nl */
    float32x4_t acc[2][4];
    for (int i = 0; i < C; i++)
        for (int q = 0; q < 4; q++) acc[i][q] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        const act_x16 *A[2];
        int8x16_t alo[2], ahi[2];
        int32x4_t p[2][4];
        for (int i = 0; i < C; i++) {
            A[i] = (const act_x16 *)(a + i * as) + b;
            alo[i] = vld1q_s8(A[i]->qs), ahi[i] = vld1q_s8(A[i]->qs + 16);
            /* Q8_0's weights and IQ4_NL's levels go in signed here (sdot): no -128·Σa to take back out */
            for (int q = 0; q < 4; q++) p[i][q] = vdupq_n_s32(fmt == LMK_Q8_0 || fmt == LMK_IQ4_NL ? 0 : A[i]->off);
        }
        const uint8_t *qs = X + (fmt == LMK_Q4_1 ? 64 : 32);
        if (fmt == LMK_Q8_0) {
            XN_Q8_STEP(0) XN_Q8_STEP(1) XN_Q8_STEP(2) XN_Q8_STEP(3)
            XN_Q8_STEP(4) XN_Q8_STEP(5) XN_Q8_STEP(6) XN_Q8_STEP(7)
        } else {
            uint64_t qh[8] = {0};
            if (fmt == LMK_Q5_0) memcpy(qh, qs + 256, sizeof qh);
            XN_Q4_STEP(0) XN_Q4_STEP(1) XN_Q4_STEP(2) XN_Q4_STEP(3)
        }
        for (int q = 0; q < 4; q++) {
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)X + 4 * q)));
            const float32x4_t m = fmt == LMK_Q4_1 ? vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)X + 16 + 4 * q)))
                                                  : vdupq_n_f32(0.0f);
            for (int i = 0; i < C; i++) {
                acc[i][q] = vfmaq_f32(acc[i][q], vcvtq_f32_s32(p[i][q]), vmulq_n_f32(d, A[i]->d));
                if (fmt == LMK_Q4_1) acc[i][q] = vfmaq_n_f32(acc[i][q], m, A[i]->sd);
            }
        }
    }
    for (int i = 0; i < C; i++)
        for (int q = 0; q < 4; q++) vst1q_f32(c + i * ldc + 4 * q, acc[i][q]);
}

/* nr is always 16 here (quant_x16.c asks N % 16 == 0 and the driver's panels are 16 rows) */
#define X16_TILE(name, fmt)                                                                        \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                 \
        (void)ws, (void)nr;                                                                        \
        for (; na >= 2; na -= 2, a += 2 * as, c += 2 * ldc) x16_kern(fmt, w, a, as, c, ldc, 2, nb); \
        if (na == 1) x16_kern(fmt, w, a, as, c, ldc, 1, nb);                                       \
    }
X16_TILE(tile_q8_0, LMK_Q8_0)
X16_TILE(tile_q4_0, LMK_Q4_0)
X16_TILE(tile_q4_1, LMK_Q4_1)
X16_TILE(tile_q5_0, LMK_Q5_0)
X16_TILE(tile_iq4_nl, LMK_IQ4_NL)

/* ---------------------------------------------------------------- K-quants and IQ4_XS */

/* The K-quant tiles take one activation row at a time (their sums of four row quads per scale
 * group fill the registers); the driver's prefill tiles call them once per row. A vector of the
 * x16 block holds four bytes of four rows (quad q: rows 4q..4q+3), as above; the scales of a quad
 * are widened to 32-bit lanes and multiply its group sums (vmlaq), exact in integers. */

/* bytes p[0..3] (one per row of a quad) in 32-bit lanes */
XN_INLINE int32x4_t widen4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(v)))));
}

/* Q4_K / Q5_K: quad q's six-bit scale and min of sub-block j (x16_q4_k's sl, ml, sh) */
XN_INLINE void xk4_scale(const x16_q4_k *X, int j, int q, int32x4_t *sc, int32x4_t *mn) {
    const int jj = j % 4;
    const int32x4_t L = widen4(&X->sl[jj][4 * q]), M = widen4(&X->ml[jj][4 * q]), m30 = vdupq_n_s32(0x30);
    const int32x4_t B = vreinterpretq_s32_u32(vshlq_u32(vld1q_u32(X->sh + 4 * q), vdupq_n_s32(-8 * jj)));
    if (j < 4) {
        *sc = vorrq_s32(vandq_s32(L, vdupq_n_s32(0x0F)), vandq_s32(B, m30));
        *mn = vorrq_s32(vandq_s32(M, vdupq_n_s32(0x0F)), vandq_s32(vshrq_n_s32(B, 2), m30));
    } else {
        *sc = vorrq_s32(vshrq_n_s32(L, 4), vandq_s32(vshlq_n_s32(B, 4), m30));
        *mn = vorrq_s32(vshrq_n_s32(M, 4), vandq_s32(vshlq_n_s32(B, 2), m30));
    }
}

/* step g of chunk c: the nibble vectors of group g (values 64c + 4g.. low, 64c + 32 + 4g..
 * high; Q5_K's fifth bits from qh) dotted with lane g % 4 of the activation's vectors */
#define XK4_STEP(g)                                                                                \
    for (int q = 0; q < 4; q++) {                                                                  \
        const uint8x16_t v_ = vld1q_u8(qs[ch][g][4 * q]);                                          \
        uint8x16_t lo_ = vandq_u8(v_, vdupq_n_u8(0x0F)), hi_ = vshrq_n_u8(v_, 4);                  \
        if (q5) {                                                                                  \
            const uint8x16_t qh_ = vld1q_u8(X5->qh[g][4 * q]);                                     \
            lo_ = vorrq_u8(lo_, vandq_u8(vtstq_u8(qh_, vdupq_n_u8((uint8_t)(1 << (2 * ch)))), vdupq_n_u8(0x10))); \
            hi_ = vorrq_u8(hi_, vandq_u8(vtstq_u8(qh_, vdupq_n_u8((uint8_t)(2 << (2 * ch)))), vdupq_n_u8(0x10))); \
        }                                                                                          \
        pe[q] = vdotq_laneq_s32(pe[q], vreinterpretq_s8_u8(lo_), (g) < 4 ? a0 : a1, (g) % 4);      \
        po[q] = vdotq_laneq_s32(po[q], vreinterpretq_s8_u8(hi_), (g) < 4 ? a2 : a3, (g) % 4);      \
    }

/* 16 Q4_K or Q5_K rows × one activation row over nb super-blocks: per chunk c of 64 values,
 * sub-blocks 2c (low nibbles) and 2c + 1 (high) summed per quad, then scaled; the mins against
 * the activation's sub-block sums (act_x16k.bs, i16 pairs). */
XN_INLINE void xk4_kern(const int q5, const uint8_t *w, const uint8_t *a, float *c, int64_t nb) {
    const int64_t bb = q5 ? (int64_t)sizeof(x16_q5_k) : (int64_t)sizeof(x16_q4_k);
    float32x4_t acc[4];
    for (int q = 0; q < 4; q++) acc[q] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const x16_q4_k *X4 = (const x16_q4_k *)(w + b * bb);
        const x16_q5_k *X5 = (const x16_q5_k *)X4;
        const act_x16k *A = (const act_x16k *)a + b;
        const uint8_t(*qs)[8][16][4] = q5 ? X5->qs : X4->qs;
        int32x4_t isum[4], imin[4];
        for (int q = 0; q < 4; q++) isum[q] = imin[q] = vdupq_n_s32(0);
        for (int ch = 0; ch < 4; ch++) {
            const int8x16_t a0 = vld1q_s8(A->qs + 64 * ch), a1 = vld1q_s8(A->qs + 64 * ch + 16);
            const int8x16_t a2 = vld1q_s8(A->qs + 64 * ch + 32), a3 = vld1q_s8(A->qs + 64 * ch + 48);
            int32x4_t pe[4], po[4];
            for (int q = 0; q < 4; q++) pe[q] = po[q] = vdupq_n_s32(0);
            XK4_STEP(0) XK4_STEP(1) XK4_STEP(2) XK4_STEP(3) XK4_STEP(4) XK4_STEP(5) XK4_STEP(6) XK4_STEP(7)
            for (int q = 0; q < 4; q++) {
                int32x4_t sc, mn;
                xk4_scale(X4, 2 * ch, q, &sc, &mn);
                isum[q] = vmlaq_s32(isum[q], pe[q], sc);
                imin[q] = vmlaq_n_s32(imin[q], mn, (int16_t)(A->bs[ch] & 0xFFFF));
                xk4_scale(X4, 2 * ch + 1, q, &sc, &mn);
                isum[q] = vmlaq_s32(isum[q], po[q], sc);
                imin[q] = vmlaq_n_s32(imin[q], mn, (int16_t)((uint32_t)A->bs[ch] >> 16));
            }
        }
        for (int q = 0; q < 4; q++) {
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X4->d + 4 * q)));
            const float32x4_t dmin = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X4->dmin + 4 * q)));
            acc[q] = vfmaq_f32(acc[q], vcvtq_f32_s32(isum[q]), vmulq_n_f32(d, A->d));
            acc[q] = vfmsq_f32(acc[q], vcvtq_f32_s32(imin[q]), vmulq_n_f32(dmin, A->d));
        }
    }
    for (int q = 0; q < 4; q++) vst1q_f32(c + 4 * q, acc[q]);
}
#undef XK4_STEP

/* step g of quarter (n, e) of a Q6_K super-block: values 128n + 32h + 4g.. (h < 4) of each quad,
 * six bits from ql (low nibble for h < 2, high for h >= 2) and qh (bits 2h, 2h + 1), into the
 * chain of group 8n + 2h + e; the activation's bytes are lane g % 4 of vector h */
#define XK6_STEP(g)                                                                                \
    for (int q = 0; q < 4; q++) {                                                                  \
        const uint8x16_t H_ = vld1q_u8(X->qh[n][g][4 * q]);                                        \
        const uint8x16_t L0_ = vld1q_u8(X->ql[n][0][g][4 * q]), L1_ = vld1q_u8(X->ql[n][1][g][4 * q]); \
        const uint8x16_t m0F = vdupq_n_u8(0x0F), m30 = vdupq_n_u8(0x30);                           \
        const uint8x16_t v0_ = vorrq_u8(vandq_u8(L0_, m0F), vandq_u8(vshlq_n_u8(H_, 4), m30));      \
        const uint8x16_t v1_ = vorrq_u8(vandq_u8(L1_, m0F), vandq_u8(vshlq_n_u8(H_, 2), m30));      \
        const uint8x16_t v2_ = vorrq_u8(vshrq_n_u8(L0_, 4), vandq_u8(H_, m30));                     \
        const uint8x16_t v3_ = vorrq_u8(vshrq_n_u8(L1_, 4), vandq_u8(vshrq_n_u8(H_, 2), m30));      \
        p[0][q] = vdotq_laneq_s32(p[0][q], vreinterpretq_s8_u8(v0_), av[0], (g) % 4);              \
        p[1][q] = vdotq_laneq_s32(p[1][q], vreinterpretq_s8_u8(v1_), av[1], (g) % 4);              \
        p[2][q] = vdotq_laneq_s32(p[2][q], vreinterpretq_s8_u8(v2_), av[2], (g) % 4);              \
        p[3][q] = vdotq_laneq_s32(p[3][q], vreinterpretq_s8_u8(v3_), av[3], (g) % 4);              \
    }

/* 16 Q6_K rows × one activation row over nb super-blocks: each quarter's four group chains per
 * quad start at the group's -32 · Σa (act_x16k.bs) and are scaled by the rows' signed scales */
XN_INLINE void xk6_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) {
    float32x4_t acc[4];
    for (int q = 0; q < 4; q++) acc[q] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const x16_q6_k *X = (const x16_q6_k *)w + b;
        const act_x16k *A = (const act_x16k *)a + b;
        int32x4_t isum[4];
        for (int q = 0; q < 4; q++) isum[q] = vdupq_n_s32(0);
        for (int n = 0; n < 2; n++)
            for (int e = 0; e < 2; e++) {
                int8x16_t av[4];
                int32x4_t p[4][4];  /* [h][quad]: group 8n + 2h + e */
                for (int h = 0; h < 4; h++) {
                    av[h] = vld1q_s8(A->qs + 128 * n + 32 * h + 16 * e);
                    for (int q = 0; q < 4; q++) p[h][q] = vdupq_n_s32(A->bs[8 * n + 2 * h + e]);
                }
                if (e == 0) {
                    XK6_STEP(0) XK6_STEP(1) XK6_STEP(2) XK6_STEP(3)
                } else {
                    XK6_STEP(4) XK6_STEP(5) XK6_STEP(6) XK6_STEP(7)
                }
                for (int h = 0; h < 4; h++)
                    for (int q = 0; q < 4; q++) {
                        const int8_t *sc = X->sc[8 * n + 2 * h + e] + 4 * q;
                        const int32x4_t s = vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8((uint64_t)(uint32_t)(
                            (uint8_t)sc[0] | (uint32_t)(uint8_t)sc[1] << 8 | (uint32_t)(uint8_t)sc[2] << 16 |
                            (uint32_t)(uint8_t)sc[3] << 24)))));
                        isum[q] = vmlaq_s32(isum[q], p[h][q], s);
                    }
            }
        for (int q = 0; q < 4; q++) {
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X->d + 4 * q)));
            acc[q] = vfmaq_f32(acc[q], vcvtq_f32_s32(isum[q]), vmulq_n_f32(d, A->d));
        }
    }
    for (int q = 0; q < 4; q++) vst1q_f32(c + 4 * q, acc[q]);
}
#undef XK6_STEP

/* IQ4_XS: sub-block s's nibbles (values 32s + 4g.. low, 32s + 16 + 4g.. high) looked up as their
 * signed levels, which sdot takes as they are (the prep's -128 · Σa is for the unsigned form of
 * the AVX-512 tile: not read here); scaled by the rows' six-bit scale - 32 */
#define XIQ_STEP(g)                                                                                \
    for (int q = 0; q < 4; q++) {                                                                  \
        const uint8x16_t v_ = vld1q_u8(X->qs[sb][g][4 * q]);                                       \
        const int8x16_t lo_ = vreinterpretq_s8_u8(vqtbl1q_u8(levels, vandq_u8(v_, vdupq_n_u8(0x0F)))); \
        const int8x16_t hi_ = vreinterpretq_s8_u8(vqtbl1q_u8(levels, vshrq_n_u8(v_, 4)));          \
        p[q] = vdotq_laneq_s32(p[q], lo_, alo, g);                                                 \
        p2[q] = vdotq_laneq_s32(p2[q], hi_, ahi, g);                                               \
    }

XN_INLINE void xiq4xs_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) {
    static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const uint8x16_t levels = vreinterpretq_u8_s8(vld1q_s8(kvalues));  /* ggml's kvalues_iq4nl */
    float32x4_t acc[4];
    for (int q = 0; q < 4; q++) acc[q] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const x16_iq4_xs *X = (const x16_iq4_xs *)w + b;
        const act_x16k *A = (const act_x16k *)a + b;
        int32x4_t isum[4];
        for (int q = 0; q < 4; q++) isum[q] = vdupq_n_s32(0);
        for (int sb = 0; sb < 8; sb++) {
            const int8x16_t alo = vld1q_s8(A->qs + 32 * sb), ahi = vld1q_s8(A->qs + 32 * sb + 16);
            int32x4_t p[4], p2[4];
            for (int q = 0; q < 4; q++) p[q] = p2[q] = vdupq_n_s32(0);
            XIQ_STEP(0) XIQ_STEP(1) XIQ_STEP(2) XIQ_STEP(3)
            for (int q = 0; q < 4; q++) {
                /* sub-block sb's scale: a nibble of scales_l[sb / 2] | bits 2sb, 2sb + 1 of scales_h at 4, 5 */
                const int32x4_t L = widen4(&X->sl[sb / 2][4 * q]);
                const int32x4_t H = vreinterpretq_s32_u32(vmovl_u16(vld1_u16(X->sh + 4 * q)));
                const int32x4_t lo = sb % 2 ? vshrq_n_s32(L, 4) : vandq_s32(L, vdupq_n_s32(0x0F));
                const int32x4_t top = vandq_s32(vshlq_s32(H, vdupq_n_s32(4 - 2 * sb)), vdupq_n_s32(0x30));
                const int32x4_t sc = vsubq_s32(vorrq_s32(lo, top), vdupq_n_s32(32));
                isum[q] = vmlaq_s32(isum[q], vaddq_s32(p[q], p2[q]), sc);
            }
        }
        for (int q = 0; q < 4; q++) {
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X->d + 4 * q)));
            acc[q] = vfmaq_f32(acc[q], vcvtq_f32_s32(isum[q]), vmulq_n_f32(d, A->d));
        }
    }
    for (int q = 0; q < 4; q++) vst1q_f32(c + 4 * q, acc[q]);
}
#undef XIQ_STEP

/* Q2_K / Q3_K: in quarter (n, e), vector k = 4e + l of the half's two-bit values gives groups
 * 8n + 2j + e by its bit pairs j, against lane l of the activation's vector j (bytes
 * 128n + 32j + 16e..); Q3_K's third bit from hm, its -4 from the chain's start at -4 · Σa */
#define XK23_STEP(l)                                                                               \
    for (int q = 0; q < 4; q++) {                                                                  \
        const int k_ = 4 * e + (l);                                                                \
        const uint8x16_t v_ = vld1q_u8(qs[n][k_][4 * q]);                                          \
        const uint8x16_t H_ = q3 ? vld1q_u8(X3->hm[k_][4 * q]) : vdupq_n_u8(0);                    \
        for (int j = 0; j < 4; j++) {                                                              \
            uint8x16_t u_ = vandq_u8(vshlq_u8(v_, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3));   \
            if (q3) u_ = vorrq_u8(u_, vandq_u8(vshlq_u8(H_, vdupq_n_s8((int8_t)(2 - 4 * n - j))), vdupq_n_u8(4))); \
            p[j][q] = vdotq_laneq_s32(p[j][q], vreinterpretq_s8_u8(u_), av[j], l);                 \
        }                                                                                          \
    }

XN_INLINE void xk23_kern(const int q3, const uint8_t *w, const uint8_t *a, float *c, int64_t nb) {
    const int64_t bb = q3 ? (int64_t)sizeof(x16_q3_k) : (int64_t)sizeof(x16_q2_k);
    float32x4_t acc[4];
    for (int q = 0; q < 4; q++) acc[q] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const x16_q2_k *X2 = (const x16_q2_k *)(w + b * bb);
        const x16_q3_k *X3 = (const x16_q3_k *)X2;
        const act_x16k *A = (const act_x16k *)a + b;
        const uint8_t(*qs)[8][16][4] = q3 ? X3->qs : X2->qs;
        int32x4_t isum[4], imin[4];
        for (int q = 0; q < 4; q++) isum[q] = imin[q] = vdupq_n_s32(0);
        for (int n = 0; n < 2; n++)
            for (int e = 0; e < 2; e++) {
                int8x16_t av[4];
                int32x4_t p[4][4];  /* [j][quad]: group 8n + 2j + e */
                for (int j = 0; j < 4; j++) {
                    av[j] = vld1q_s8(A->qs + 128 * n + 32 * j + 16 * e);
                    for (int q = 0; q < 4; q++) p[j][q] = vdupq_n_s32(q3 ? A->bs[8 * n + 2 * j + e] : 0);
                }
                XK23_STEP(0) XK23_STEP(1) XK23_STEP(2) XK23_STEP(3)
                for (int j = 0; j < 4; j++) {
                    const int g = 8 * n + 2 * j + e;
                    for (int q = 0; q < 4; q++) {
                        int32x4_t sc;
                        if (q3) {  /* lmk_q3k_scales: a nibble of scales[g % 8], bits 2 (g / 4) of scales[8 + g % 4] */
                            const int32x4_t lo = widen4(&X3->sc[g % 8][4 * q]), hi = widen4(&X3->sc[8 + g % 4][4 * q]);
                            const int32x4_t low = g < 8 ? vandq_s32(lo, vdupq_n_s32(0x0F)) : vshrq_n_s32(lo, 4);
                            const int32x4_t top = vandq_s32(vshlq_s32(hi, vdupq_n_s32(-2 * (g / 4))), vdupq_n_s32(3));
                            sc = vsubq_s32(vorrq_s32(low, vshlq_n_s32(top, 4)), vdupq_n_s32(32));
                        } else {
                            const int32x4_t s2 = widen4(&X2->sc[g][4 * q]);
                            sc = vandq_s32(s2, vdupq_n_s32(0x0F));
                            const int32_t pair = A->bs[g / 2];
                            imin[q] = vmlaq_n_s32(imin[q], vshrq_n_s32(s2, 4),
                                                  (int16_t)(g % 2 ? (uint32_t)pair >> 16 : (uint32_t)pair & 0xFFFF));
                        }
                        isum[q] = vmlaq_s32(isum[q], p[j][q], sc);
                    }
                }
            }
        for (int q = 0; q < 4; q++) {
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X2->d + 4 * q)));
            acc[q] = vfmaq_f32(acc[q], vcvtq_f32_s32(isum[q]), vmulq_n_f32(d, A->d));
            if (!q3) {
                const float32x4_t dmin = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(X2->dmin + 4 * q)));
                acc[q] = vfmsq_f32(acc[q], vcvtq_f32_s32(imin[q]), vmulq_n_f32(dmin, A->d));
            }
        }
    }
    for (int q = 0; q < 4; q++) vst1q_f32(c + 4 * q, acc[q]);
}
#undef XK23_STEP

XN_INLINE void q2k_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) { xk23_kern(0, w, a, c, nb); }
XN_INLINE void q3k_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) { xk23_kern(1, w, a, c, nb); }
XN_INLINE void q4k_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) { xk4_kern(0, w, a, c, nb); }
XN_INLINE void q5k_kern(const uint8_t *w, const uint8_t *a, float *c, int64_t nb) { xk4_kern(1, w, a, c, nb); }

/* one activation row at a time */
#define X16K_TILE(name, kern)                                                                      \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                 \
        (void)ws, (void)nr;                                                                        \
        for (int i = 0; i < na; i++) kern(w, a + i * as, c + i * ldc, nb);                         \
    }
X16K_TILE(tile_q4_k, q4k_kern)
X16K_TILE(tile_q5_k, q5k_kern)
X16K_TILE(tile_q6_k, xk6_kern)
X16K_TILE(tile_iq4_xs, xiq4xs_kern)
X16K_TILE(tile_q2_k, q2k_kern)
X16K_TILE(tile_q3_k, q3k_kern)

lmk_qkernels lmk_qkernels_x16_neondot(lmk_qfmt fmt) {
    lmk_qkernels k = {.prep = lmk_qx16_prep(fmt), .prep_bytes = lmk_qx16_prep_bytes(fmt)};  /* act: the ISA's (quant.c) */
    static const lmk_qtiles tiles = {.q8_0 = tile_q8_0, .q4_0 = tile_q4_0, .q4_1 = tile_q4_1, .q5_0 = tile_q5_0,
                                        .iq4_nl = tile_iq4_nl, .q2_k = tile_q2_k, .q3_k = tile_q3_k, .q4_k = tile_q4_k,
                                        .q5_k = tile_q5_k, .q6_k = tile_q6_k, .iq4_xs = tile_iq4_xs};
    k.tile = lmk_qtile_of(fmt, &tiles);
    return k;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
