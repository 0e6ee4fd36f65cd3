/* Attention tile kernels, AVX2 + FMA (see attention.h for the buffers). */
#include "attention.h"

#include <immintrin.h>

#include "vmath_avx2.h"

#define W 8
#define SR 2   /* query rows per scores block: 8 accumulators of 16 registers */
#define PV 2   /* vectors of D per pv block: 4 rows x 2 = 8 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 8-lane sums -> one 4-lane vector (a, b, c, d). */
ALWAYS_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);   /* per 128-bit half */
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* s[r][j..j+4) for nr <= SR rows: 4 keys share each q load, nr rows share each k load. */
ALWAYS_INLINE void scores_block(const float *q, int nr, int64_t Dp, const float *k, int64_t ldk, float *s) {
    __m256 acc[SR][4];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm256_setzero_ps();
    for (int64_t d = 0; d < Dp; d += W) {
        __m256 kv[4];
        for (int c = 0; c < 4; c++) kv[c] = _mm256_loadu_ps(k + c * ldk + d);
        for (int r = 0; r < nr; r++) {
            __m256 qv = _mm256_loadu_ps(q + r * Dp + d);
            for (int c = 0; c < 4; c++) acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++)
        _mm_storeu_ps(s + r * LMK_ATTN_TILE, hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

ALWAYS_INLINE float dot1(const float *q, const float *k, int64_t Dp) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t d = 0; d < Dp; d += W) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a);
    return lmk_hsum_avx2(a);
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
        __m256 mx = _mm256_set1_ps(-INFINITY);
        for (int64_t j = 0; j < npad; j += W) mx = _mm256_max_ps(mx, _mm256_loadu_ps(row + j));
        float mt = lmk_hmax_avx2(mx);
        if (mt == -INFINITY) {   /* nothing visible in this tile */
            corr[r] = 1;
            for (int64_t j = 0; j < npad; j += W) _mm256_storeu_ps(row + j, _mm256_setzero_ps());
            continue;
        }
        float mn = LMK_MAX(m[r], mt);
        corr[r] = expf(m[r] - mn);
        __m256 mv = _mm256_set1_ps(mn), sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < npad; j += W) {
            __m256 e = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + j), mv));
            _mm256_storeu_ps(row + j, e);
            sum = _mm256_add_ps(sum, e);
        }
        l[r] = l[r] * corr[r] + lmk_hsum_avx2(sum);
        m[r] = mn;
    }
}

/* acc rows [0, nr) columns [0, nv*W): rescale, then add p_rj * v_j over the tile. */
ALWAYS_INLINE void pv_block(const float *s, int nr, const float *v, int64_t ldv, int64_t n, int nv, int64_t Dp,
                            const float *corr, float *acc) {
    __m256 a[4][PV];
    for (int r = 0; r < nr; r++) {
        __m256 c = _mm256_set1_ps(corr[r]);
        for (int x = 0; x < nv; x++) a[r][x] = _mm256_mul_ps(_mm256_loadu_ps(acc + r * Dp + x * W), c);
    }
    for (int64_t j = 0; j < n; j++) {
        __m256 vv[PV];
        for (int x = 0; x < nv; x++) vv[x] = _mm256_loadu_ps(v + j * ldv + x * W);
        for (int r = 0; r < nr; r++) {
            __m256 p = _mm256_set1_ps(s[r * LMK_ATTN_TILE + j]);
            for (int x = 0; x < nv; x++) a[r][x] = _mm256_fmadd_ps(p, vv[x], a[r][x]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int x = 0; x < nv; x++) _mm256_storeu_ps(acc + r * Dp + x * W, a[r][x]);
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

const lmk_attn_kernels lmk_attn_kernels_avx2 = {scores, online, pv};
