/* Attention tile kernels, NEON (see attention.h for the buffers). */
#include "attention.h"

#include <arm_neon.h>

#include "vmath_neon.h"

#define W 4
#define SR 4   /* query rows per scores block: 16 accumulators of 32 registers */
#define PV 4   /* vectors of D per pv block: 4 rows x 4 = 16 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 4-lane sums -> one vector (a, b, c, d). */
ALWAYS_INLINE float32x4_t hsum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* s[r][j..j+4) for nr <= SR rows: 4 keys share each q load, nr rows share each k load. */
ALWAYS_INLINE void scores_block(const float *q, int nr, int64_t Dp, const float *k, int64_t ldk, float *s) {
    float32x4_t acc[SR][4];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_f32(0);
    for (int64_t d = 0; d < Dp; d += W) {
        float32x4_t kv[4];
        for (int c = 0; c < 4; c++) kv[c] = vld1q_f32(k + c * ldk + d);
        for (int r = 0; r < nr; r++) {
            float32x4_t qv = vld1q_f32(q + r * Dp + d);
            for (int c = 0; c < 4; c++) acc[r][c] = vfmaq_f32(acc[r][c], qv, kv[c]);
        }
    }
    for (int r = 0; r < nr; r++)
        vst1q_f32(s + r * LMK_ATTN_TILE, hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

ALWAYS_INLINE float dot1(const float *q, const float *k, int64_t Dp) {
    float32x4_t a = vdupq_n_f32(0);
    for (int64_t d = 0; d < Dp; d += W) a = vfmaq_f32(a, vld1q_f32(q + d), vld1q_f32(k + d));
    return vaddvq_f32(a);
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
        float32x4_t mx = vdupq_n_f32(-INFINITY);
        for (int64_t j = 0; j < npad; j += W) mx = vmaxq_f32(mx, vld1q_f32(row + j));
        float mt = vmaxvq_f32(mx);
        if (mt == -INFINITY) {   /* nothing visible in this tile */
            corr[r] = 1;
            for (int64_t j = 0; j < npad; j += W) vst1q_f32(row + j, vdupq_n_f32(0));
            continue;
        }
        float mn = LMK_MAX(m[r], mt);
        corr[r] = expf(m[r] - mn);
        float32x4_t mv = vdupq_n_f32(mn), sum = vdupq_n_f32(0);
        for (int64_t j = 0; j < npad; j += W) {
            float32x4_t e = lmk_exp_neon(vsubq_f32(vld1q_f32(row + j), mv));
            vst1q_f32(row + j, e);
            sum = vaddq_f32(sum, e);
        }
        l[r] = l[r] * corr[r] + vaddvq_f32(sum);
        m[r] = mn;
    }
}

/* acc rows [0, nr) columns [0, nv*W): rescale, then add p_rj * v_j over the tile. */
ALWAYS_INLINE void pv_block(const float *s, int nr, const float *v, int64_t ldv, int64_t n, int nv, int64_t Dp,
                            const float *corr, float *acc) {
    float32x4_t a[4][PV];
    for (int r = 0; r < nr; r++) {
        float32x4_t c = vdupq_n_f32(corr[r]);
        for (int x = 0; x < nv; x++) a[r][x] = vmulq_f32(vld1q_f32(acc + r * Dp + x * W), c);
    }
    for (int64_t j = 0; j < n; j++) {
        float32x4_t vv[PV];
        for (int x = 0; x < nv; x++) vv[x] = vld1q_f32(v + j * ldv + x * W);
        for (int r = 0; r < nr; r++) {
            float32x4_t p = vdupq_n_f32(s[r * LMK_ATTN_TILE + j]);
            for (int x = 0; x < nv; x++) a[r][x] = vfmaq_f32(a[r][x], p, vv[x]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int x = 0; x < nv; x++) vst1q_f32(acc + r * Dp + x * W, a[r][x]);
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

const lmk_attn_kernels lmk_attn_kernels_neon = {scores, online, pv};
