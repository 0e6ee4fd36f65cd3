/* Q5_1, IQ4_NL (blocks of 32) and Q2_K, Q3_K, Q5_K, IQ4_XS (super-blocks of 256): each block is
 * unpacked to signed 8-bit values and small integer scales, and one integer dot per ISA serves all
 * six formats. Included by quant_unpacked.c (the generic kernels, dequantize; the SIMD ISAs have
 * tiles of their own for these formats), which defines the two integer dots first:
 *
 *   static inline int32_t qu_dot32(const int8_t *q, const int8_t *a);              // Σ q·a over 32
 *   static inline int32_t qu_dotk(const int8_t *q, const int16_t *sc, const int8_t *a);
 *                                                  // Σ_g sc[g] · Σ q·a over group g of 16, 256 in all
 *
 * The unpackers are plain C over fixed sizes, the readable statement of each layout
 * (ggml-common.h) that the SIMD tiles (arch/x86/quant_avx2.c, quant_avx512.h,
 * arch/arm/quant_neon.c) unpack in registers. */
#ifndef LMK_QUANT_UNPACK_H
#define LMK_QUANT_UNPACK_H

#include "quant_internal.h"

#define QU_INLINE static inline __attribute__((always_inline))

/* ggml's kvalues_iq4nl: the 16 levels of IQ4_NL and IQ4_XS. */
static const int8_t lmk_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* A 32-block: w[j] = d · q[j] + m. */
typedef struct {
    int8_t q[QK];
    float d, m;
} unp_32;

/* A 256-block: w[j] = d · sc[g] · q[j] - dmin · mn[g] for j in group g = j / 16 (formats with
 * groups of 32 repeat a scale for both halves; formats without mins leave mn and dmin zero). */
typedef struct {
    int8_t q[QK_K];
    int16_t sc[QK_K / 16], mn[QK_K / 16];
    float d, dmin;
} unp_k;

/* ---------------------------------------------------------------- unpack, per format */

QU_INLINE void unpack_q5_1(const blk_q5_1 *x, unp_32 *u) {
    uint32_t qh;
    memcpy(&qh, x->qh, 4);  /* little-endian targets only (x86-64, AArch64) */
    for (int j = 0; j < QK / 2; j++) {
        u->q[j] = (int8_t)((x->qs[j] & 0xF) | ((qh >> j) & 1) << 4);
        u->q[j + 16] = (int8_t)((x->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
    u->d = lmk_f16_to_f32(x->d), u->m = lmk_f16_to_f32(x->m);
}

QU_INLINE void unpack_iq4_nl(const blk_iq4_nl *x, unp_32 *u) {
    for (int j = 0; j < QK / 2; j++) {
        u->q[j] = lmk_kvalues_iq4nl[x->qs[j] & 0xF];
        u->q[j + 16] = lmk_kvalues_iq4nl[x->qs[j] >> 4];
    }
    u->d = lmk_f16_to_f32(x->d), u->m = 0.0f;
}

/* Q2_K: value 128n + 32j + l is bits 2j..2j+1 of qs[32n + l]; scales[g]: scale low, min high. */
QU_INLINE void unpack_q2_k(const blk_q2_k *x, unp_k *u) {
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) u->q[128 * n + 32 * j + l] = (int8_t)((x->qs[32 * n + l] >> (2 * j)) & 3);
    for (int g = 0; g < 16; g++) u->sc[g] = x->scales[g] & 0xF, u->mn[g] = x->scales[g] >> 4;
    u->d = lmk_f16_to_f32(x->d), u->dmin = lmk_f16_to_f32(x->dmin);
}

/* Q3_K: as Q2_K's two bits, minus 4 where bit 4n + j of hmask[l] is clear; 16 six-bit scales
 * offset by 32 (lmk_q3k_scales). */
QU_INLINE void unpack_q3_k(const blk_q3_k *x, unp_k *u) {
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                const int lo = (x->qs[32 * n + l] >> (2 * j)) & 3, hi = (x->hmask[l] >> (4 * n + j)) & 1;
                u->q[128 * n + 32 * j + l] = (int8_t)(lo - 4 + 4 * hi);
            }
    int8_t sc[16];
    lmk_q3k_scales(x->scales, sc);
    for (int g = 0; g < 16; g++) u->sc[g] = sc[g], u->mn[g] = 0;
    u->d = lmk_f16_to_f32(x->d), u->dmin = 0.0f;
}

/* Q5_K: Q4_K's nibbles and scales, with a fifth bit for sub-block s in bit s of qh[l]. */
QU_INLINE void unpack_q5_k(const blk_q5_k *x, unp_k *u) {
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++) {
            const int lo = (x->qs[32 * (s / 2) + l] >> (4 * (s & 1))) & 0xF, hi = (x->qh[l] >> s) & 1;
            u->q[32 * s + l] = (int8_t)(lo | hi << 4);
        }
    uint8_t sc[8], mn[8];
    lmk_q4k_scales(x->scales, sc, mn);
    for (int g = 0; g < 16; g++) u->sc[g] = sc[g / 2], u->mn[g] = mn[g / 2];
    u->d = lmk_f16_to_f32(x->d), u->dmin = lmk_f16_to_f32(x->dmin);
}

/* IQ4_XS: eight IQ4_NL-like sub-blocks of 32 under one f16 scale, each with a six-bit scale
 * (low nibble in scales_l, high two bits in scales_h) offset by 32. */
QU_INLINE void unpack_iq4_xs(const blk_iq4_xs *x, unp_k *u) {
    for (int s = 0; s < 8; s++)
        for (int j = 0; j < 16; j++) {
            u->q[32 * s + j] = lmk_kvalues_iq4nl[x->qs[16 * s + j] & 0xF];
            u->q[32 * s + 16 + j] = lmk_kvalues_iq4nl[x->qs[16 * s + j] >> 4];
        }
    for (int s = 0; s < 8; s++) {
        const int ls = ((x->scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | ((x->scales_h >> (2 * s)) & 3) << 4;
        u->sc[2 * s] = u->sc[2 * s + 1] = (int16_t)(ls - 32);
        u->mn[2 * s] = u->mn[2 * s + 1] = 0;
    }
    u->d = lmk_f16_to_f32(x->d), u->dmin = 0.0f;
}

QU_INLINE void unpack_32(const lmk_qfmt fmt, const uint8_t *p, unp_32 *u) {
    if (fmt == LMK_Q5_1) unpack_q5_1((const blk_q5_1 *)p, u);
    else unpack_iq4_nl((const blk_iq4_nl *)p, u);
}

QU_INLINE void unpack_k(const lmk_qfmt fmt, const uint8_t *p, unp_k *u) {
    switch ((int)fmt) {
    case LMK_Q2_K: unpack_q2_k((const blk_q2_k *)p, u); break;
    case LMK_Q3_K: unpack_q3_k((const blk_q3_k *)p, u); break;
    case LMK_Q5_K: unpack_q5_k((const blk_q5_k *)p, u); break;
    default: unpack_iq4_xs((const blk_iq4_xs *)p, u);
    }
}

QU_INLINE int64_t qu_block_bytes(const lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q5_1: return sizeof(blk_q5_1);
    case LMK_IQ4_NL: return sizeof(blk_iq4_nl);
    case LMK_Q2_K: return sizeof(blk_q2_k);
    case LMK_Q3_K: return sizeof(blk_q3_k);
    case LMK_Q5_K: return sizeof(blk_q5_k);
    default: return sizeof(blk_iq4_xs);
    }
}

#ifndef QU_NO_TILES
/* ---------------------------------------------------------------- tiles */

/* nr weight rows × na activation rows: each weight block is unpacked once for the na rows; every
 * output sums its blocks' float terms in block order alone, whatever nr and na are (the tile
 * contract). Offsets ride on the activation sums: Q5_1's m on Σa, the K-quants' mins on the
 * group sums. */
QU_INLINE void qu_tile(const lmk_qfmt fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                       int64_t ldc, int nr, int na, int64_t nb) {
    const int64_t bb = qu_block_bytes(fmt);
    const int k256 = fmt != LMK_Q5_1 && fmt != LMK_IQ4_NL, mins = fmt == LMK_Q2_K || fmt == LMK_Q5_K;
    for (int r = 0; r < nr; r++) {
        float s[QT_ACTS] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *p = w + r * ws + b * bb;
            if (k256) {
                unp_k u;
                unpack_k(fmt, p, &u);
                for (int i = 0; i < na; i++) {
                    const act_q8k *A = (const act_q8k *)(a + i * as) + b;
                    const int32_t isum = qu_dotk(u.q, u.sc, A->qs);
                    int32_t imin = 0;
                    if (mins)
                        for (int g = 0; g < QK_K / 16; g++) imin += u.mn[g] * A->bsums[g];
                    s[i] += A->d * (u.d * (float)isum - u.dmin * (float)imin);
                }
            } else {
                unp_32 u;
                unpack_32(fmt, p, &u);
                for (int i = 0; i < na; i++) {
                    const act_q8 *A = (const act_q8 *)(a + i * as) + b;
                    s[i] += A->d * (u.d * (float)qu_dot32(u.q, A->qs) + u.m * (float)A->sum);
                }
            }
        }
        for (int i = 0; i < na; i++) c[i * ldc + r] = s[i];
    }
}

#define QU_TILE(name, fmt)                                                                               \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, int nr, \
                     int na, int64_t nb) {                                                               \
        qu_tile(fmt, w, ws, a, as, c, ldc, nr, na, nb);                                                  \
    }

/* The kernel table function `name` over an ISA's qu_dot32 / qu_dotk. */
#define LMK_QU_TABLE(name)                                                                              \
    QU_TILE(tile_q5_1, LMK_Q5_1)                                                                        \
    QU_TILE(tile_iq4_nl, LMK_IQ4_NL)                                                                    \
    QU_TILE(tile_q2_k, LMK_Q2_K)                                                                        \
    QU_TILE(tile_q3_k, LMK_Q3_K)                                                                        \
    QU_TILE(tile_q5_k, LMK_Q5_K)                                                                        \
    QU_TILE(tile_iq4_xs, LMK_IQ4_XS)                                                                    \
    lmk_qkernels name(lmk_qfmt fmt) {                                                                   \
        lmk_qkernels k = {.tile = NULL};                                                         \
        switch ((int)fmt) {                                                                             \
        case LMK_Q5_1: k.tile = tile_q5_1; break;                                                       \
        case LMK_IQ4_NL: k.tile = tile_iq4_nl; break;                                                   \
        case LMK_Q2_K: k.tile = tile_q2_k; break;                                                       \
        case LMK_Q3_K: k.tile = tile_q3_k; break;                                                       \
        case LMK_Q5_K: k.tile = tile_q5_k; break;                                                       \
        case LMK_IQ4_XS: k.tile = tile_iq4_xs; break;                                                   \
        }                                                                                               \
        return k;                                                                                       \
    }
#endif

#endif
