/* The attention tile kernels (see attention.h), written once over the vector width. An ISA's
 * file includes its vec header (arch/x86/vec_avx2.h, vec_avx512.h, arch/arm/vec_neon.h: VEC, W,
 * V_LOAD, V_FMA, ...), defines the three below and includes this body; the three kernels it
 * defines go into that ISA's lmk_attn_kernels table.
 *
 *   HSUM4(a, b, c, d)        the four vectors' sums as four adjacent floats, stored by STORE4(p, h)
 *   SR, PV                   register blocking of the scores and pv loops, sized to the ISA's registers
 *
 * The file including it is compiled for its ISA; nothing here is reached without the CPU check. */
#ifndef LMK_ATTENTION_BODY_H
#define LMK_ATTENTION_BODY_H

#include "attention.h"

#ifndef ALWAYS_INLINE
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

/* s[r][j..j+4) for nr <= SR rows: 4 keys share each q load, nr rows share each k load. */
ALWAYS_INLINE void scores_block(const float *q, int nr, int64_t Dp, const float *k, int64_t ldk, float *s) {
    VEC acc[SR][4];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = V_ZERO();
    for (int64_t d = 0; d < Dp; d += W) {
        VEC kv[4];
        for (int c = 0; c < 4; c++) kv[c] = V_LOAD(k + c * ldk + d);
        for (int r = 0; r < nr; r++) {
            VEC qv = V_LOAD(q + r * Dp + d);
            for (int c = 0; c < 4; c++) acc[r][c] = V_FMA(qv, kv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++)
        STORE4(s + r * LMK_ATTN_TILE, HSUM4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

/* One score, summed exactly as scores_block sums each of its four: a key's score must not depend
 * on whether it falls in a block of four or in the tail, which moves with the tile's length (a
 * query row's scores would differ between a prefill step and a decode step, and the prefix cache
 * could not reuse a prefill's K/V bit for bit). */
ALWAYS_INLINE float dot1(const float *q, const float *k, int64_t Dp) {
    VEC a = V_ZERO();
    for (int64_t d = 0; d < Dp; d += W) a = V_FMA(V_LOAD(q + d), V_LOAD(k + d), a);
    float out[4];
    STORE4(out, HSUM4(a, a, a, a));
    return out[0];
}

static void scores(const float *q, int64_t R, int64_t Dp, const float *k, int64_t ldk, int64_t n, float *s) {
    /* Keys in blocks of 16 (16 KiB at D = 256) stay in L1 while every row passes over them. */
    for (int64_t jb = 0; jb < n; jb += 16) {
        const int64_t je = LMK_MIN(n, jb + 16), j4 = jb + (je - jb) / 4 * 4;
        for (int64_t r = 0; r < R; r += SR) {
            const int64_t nr = LMK_MIN(SR, R - r);
            const float *qr = q + r * Dp;
            float *sr = s + r * LMK_ATTN_TILE;
            for (int64_t j = jb; j < j4; j += 4) {
                if (nr == SR) scores_block(qr, SR, Dp, k + j * ldk, ldk, sr + j);
                else
                    for (int64_t rr = 0; rr < nr; rr++)
                        scores_block(qr + rr * Dp, 1, Dp, k + j * ldk, ldk, sr + rr * LMK_ATTN_TILE + j);
            }
            for (int64_t j = j4; j < je; j++)
                for (int64_t rr = 0; rr < nr; rr++) sr[rr * LMK_ATTN_TILE + j] = dot1(qr + rr * Dp, k + j * ldk, Dp);
        }
    }
}

static void online(float *s, int64_t R, int64_t npad, float *m, float *l, float *corr) {
    for (int64_t r = 0; r < R; r++) {
        float *row = s + r * LMK_ATTN_TILE;
        VEC mx = V_SET1(-INFINITY);
        for (int64_t j = 0; j < npad; j += W) mx = V_MAX(mx, V_LOAD(row + j));
        float mt = V_HMAX(mx);
        if (mt == -INFINITY) {   /* nothing visible in this tile */
            corr[r] = 1;
            for (int64_t j = 0; j < npad; j += W) V_STORE(row + j, V_ZERO());
            continue;
        }
        float mn = LMK_MAX(m[r], mt);
        corr[r] = expf(m[r] - mn);
        VEC mv = V_SET1(mn), sum = V_ZERO();
        for (int64_t j = 0; j < npad; j += W) {
            VEC e = V_EXP(V_SUB(V_LOAD(row + j), mv));
            V_STORE(row + j, e);
            sum = V_ADD(sum, e);
        }
        l[r] = l[r] * corr[r] + V_HSUM(sum);
        m[r] = mn;
    }
}

/* acc rows [0, nr) columns [0, nv*W): rescale, then add p_rj * v_j over the tile. */
ALWAYS_INLINE void pv_block(const float *s, int nr, const float *v, int64_t ldv, int64_t n, int nv, int64_t Dp,
                            const float *corr, float *acc) {
    VEC a[4][PV];
    for (int r = 0; r < nr; r++) {
        VEC c = V_SET1(corr[r]);
        for (int x = 0; x < nv; x++) a[r][x] = V_MUL(V_LOAD(acc + r * Dp + x * W), c);
    }
    for (int64_t j = 0; j < n; j++) {
        VEC vv[PV];
        for (int x = 0; x < nv; x++) vv[x] = V_LOAD(v + j * ldv + x * W);
        for (int r = 0; r < nr; r++) {
            VEC p = V_SET1(s[r * LMK_ATTN_TILE + j]);
            for (int x = 0; x < nv; x++) a[r][x] = V_FMA(p, vv[x], a[r][x]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int x = 0; x < nv; x++) V_STORE(acc + r * Dp + x * W, a[r][x]);
}

static void pv(const float *s, int64_t R, const float *v, int64_t ldv, int64_t n, int64_t Dp, const float *corr,
               float *acc) {
    /* 4 rows x PV vectors of accumulators; the constant arguments let each call unroll fully
     * into registers. Dp is a multiple of 16, so the columns end in whole vectors. */
    for (int64_t r = 0; r < R; r += 4) {
        const int64_t nr = LMK_MIN(4, R - r);
        const float *sr = s + r * LMK_ATTN_TILE;
        float *ar = acc + r * Dp;
        int64_t d = 0;
        for (; d + PV * W <= Dp; d += PV * W) {
            if (nr == 4) pv_block(sr, 4, v + d, ldv, n, PV, Dp, corr + r, ar + d);
            else
                for (int64_t rr = 0; rr < nr; rr++)
                    pv_block(sr + rr * LMK_ATTN_TILE, 1, v + d, ldv, n, PV, Dp, corr + r + rr, ar + rr * Dp + d);
        }
        for (; d < Dp; d += W) {
            if (nr == 4) pv_block(sr, 4, v + d, ldv, n, 1, Dp, corr + r, ar + d);
            else
                for (int64_t rr = 0; rr < nr; rr++)
                    pv_block(sr + rr * LMK_ATTN_TILE, 1, v + d, ldv, n, 1, Dp, corr + r + rr, ar + rr * Dp + d);
        }
    }
}

#endif
