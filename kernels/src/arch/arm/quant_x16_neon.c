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

/* the nibble bytes 4k..4k+3: low nibbles are values 4k.., high ones 16 + 4k.. */
#define XN_Q4_STEP(k)                                                                              \
    for (int q = 0; q < 4; q++) {                                                                  \
        const uint8x16_t v_ = vld1q_u8(qs + 64 * (k) + 16 * q);                                    \
        uint8x16_t lo_ = vandq_u8(v_, vdupq_n_u8(0x0F)), hi_ = vshrq_n_u8(v_, 4);                  \
        if (fmt == LMK_Q5_0) lo_ = vorrq_u8(lo_, fifth_bits(qh[k], q)), hi_ = vorrq_u8(hi_, fifth_bits(qh[4 + (k)], q)); \
        XN_DOT(vreinterpretq_s8_u8(lo_), alo, k);                                                  \
        XN_DOT(vreinterpretq_s8_u8(hi_), ahi, k);                                                  \
    }

/* 16 rows (the group at w) × C <= 2 activation rows (prepared act_x16, as bytes apart) */
XN_INLINE void x16_kern(const lmk_qfmt fmt, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int C, int64_t nb) {
    const int64_t bb = 16 * lmk_qblock_bytes(fmt);
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
            /* Q8_0's weights go in signed here (sdot): no -128·Σa to take back out */
            for (int q = 0; q < 4; q++) p[i][q] = vdupq_n_s32(fmt == LMK_Q8_0 ? 0 : A[i]->off);
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

lmk_qkernels lmk_qkernels_x16_neondot(lmk_qfmt fmt) {
    lmk_qkernels k = {NULL, NULL, lmk_qx16_prep(fmt), lmk_qx16_prep_bytes(fmt)};
    k.tile = lmk_qtile_pick(fmt, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, NULL, NULL);
    return k;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
