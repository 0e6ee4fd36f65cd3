/* Rotary position embedding, in place on x (T, H, D). Pair i of the first R elements of every
 * head of token t turns by the angle positions[t] · theta^(-2i/R); elements R.. pass through. Angles are formed and reduced in double: at position
 * 32767 the angle is ~3·10⁴ rad, and a float angle would be off by ~2·10⁻³ rad. */
#include "elementwise.h"

static lmk_status check(const float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, int64_t R,
                        float theta, lmk_rope_style style, float freq_scale, const float *freq_factors,
                        float mscale) {
    if (!lmk_dims_ok(T, H) || !lmk_dims_ok(T * H, D) || D % 2 != 0) return LMK_ERR_ARG;
    if (R % 2 != 0 || R > D || (R < 2 && D > 0)) return LMK_ERR_ARG;
    if (!(theta > 0.0f) || isinf(theta)) return LMK_ERR_ARG;
    if (!(freq_scale > 0.0f) || isinf(freq_scale) || !(mscale > 0.0f) || isinf(mscale)) return LMK_ERR_ARG;
    if (freq_factors)
        for (int64_t i = 0; i < R / 2; i++)
            if (!(freq_factors[i] > 0.0f) || isinf(freq_factors[i])) return LMK_ERR_ARG;
    if (style != LMK_ROPE_NORMAL && style != LMK_ROPE_NEOX) return LMK_ERR_ARG;
    if (T * H * D > 0 && (!x || !positions)) return LMK_ERR_ARG;
    return LMK_OK;
}

/* The angle step of pair i: freq_scale * theta^(-2i/R) / factor_i, in double. */
static double inv_freq_of(int64_t i, int64_t R, float theta, float freq_scale, const float *freq_factors) {
    const double f = (double)freq_scale * pow(theta, -2.0 * (double)i / (double)R);
    return freq_factors ? f / (double)freq_factors[i] : f;
}

/* The reference: every pair's angle, cosine and sine from scratch, rotated in double. */
lmk_status lmk_rope_ext_ref(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, int64_t R,
                            float theta, lmk_rope_style style, float freq_scale, const float *freq_factors,
                            float mscale) {
    lmk_status st = check(x, positions, T, H, D, R, theta, style, freq_scale, freq_factors, mscale);
    if (st != LMK_OK) return st;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            float *v = x + (t * H + h) * D;  /* (D) */
            for (int64_t i = 0; i < R / 2; i++) {
                const double angle = positions[t] * inv_freq_of(i, R, theta, freq_scale, freq_factors);
                const double c = mscale * cos(angle), s = mscale * sin(angle);
                float *a = style == LMK_ROPE_NORMAL ? &v[2 * i] : &v[i];
                float *b = style == LMK_ROPE_NORMAL ? &v[2 * i + 1] : &v[i + R / 2];
                const double x0 = *a, x1 = *b;
                *a = (float)(x0 * c - x1 * s);
                *b = (float)(x0 * s + x1 * c);
            }
        }
    return LMK_OK;
}

lmk_status lmk_rope_ref(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D,
                        float theta, lmk_rope_style style) {
    return lmk_rope_ext_ref(x, positions, T, H, D, D, theta, style, 1.0f, NULL, 1.0f);
}

/* The scalar path of the dispatching entry point: the table layout the SIMD kernels read. */
static void rope_token_generic(float *x, const float *c, const float *s, int64_t H, int64_t D, int64_t half,
                               int64_t p0, int64_t np, lmk_rope_style style) {
    for (int64_t h = 0; h < H; h++) {
        float *v = x + h * D;  /* (D) */
        if (style == LMK_ROPE_NORMAL) {
            for (int64_t k = 0; k < np; k++) {
                float *p = v + 2 * (p0 + k);
                const float x0 = p[0], x1 = p[1];
                p[0] = x0 * c[2 * k] + x1 * s[2 * k];
                p[1] = x1 * c[2 * k + 1] + x0 * s[2 * k + 1];
            }
        } else {
            for (int64_t k = 0; k < np; k++) {
                const float x0 = v[p0 + k], x1 = v[p0 + k + half];
                v[p0 + k] = x0 * c[k] - x1 * s[k];
                v[p0 + k + half] = x1 * c[k] + x0 * s[k];
            }
        }
    }
}

/* Pairs per table chunk: the tables live on the stack, whatever R is. */
#define ROPE_CHUNK 128

typedef struct {
    void (*token)(float *, const float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t,
                  lmk_rope_style);
    float *x;                  /* (T, H, D) */
    const int32_t *positions;  /* (T) */
    const double *inv_freq;    /* (R/2) theta^(-2i/R) */
    int64_t H, D, R;
    double mscale;
    lmk_rope_style style;
} rope_job;

static void rope_task(void *ctx, int64_t begin, int64_t end) {
    const rope_job *j = ctx;
    float c[2 * ROPE_CHUNK], s[2 * ROPE_CHUNK];
    for (int64_t t = begin; t < end; t++) {
        const double pos = j->positions[t];
        for (int64_t p0 = 0; p0 < j->R / 2; p0 += ROPE_CHUNK) {
            const int64_t np = LMK_MIN(ROPE_CHUNK, j->R / 2 - p0);
            for (int64_t k = 0; k < np; k++) {
                const double angle = pos * j->inv_freq[p0 + k];
                const float ck = (float)(j->mscale * cos(angle)), sk = (float)(j->mscale * sin(angle));
                if (j->style == LMK_ROPE_NORMAL) {
                    c[2 * k] = c[2 * k + 1] = ck;
                    s[2 * k] = -sk;
                    s[2 * k + 1] = sk;
                } else {
                    c[k] = ck;
                    s[k] = sk;
                }
            }
            j->token(j->x + t * j->H * j->D, c, s, j->H, j->D, j->R / 2, p0, np, j->style);
        }
    }
}

lmk_status lmk_rope_ext(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, int64_t R,
                        float theta, lmk_rope_style style, float freq_scale, const float *freq_factors,
                        float mscale) {
    lmk_status st = check(x, positions, T, H, D, R, theta, style, freq_scale, freq_factors, mscale);
    if (st != LMK_OK || T * H * D == 0) return st;
    double *inv_freq = lmk_alloc((size_t)(R / 2) * sizeof *inv_freq);  /* (R/2) */
    if (!inv_freq) return LMK_ERR_NOMEM;
    for (int64_t i = 0; i < R / 2; i++) inv_freq[i] = inv_freq_of(i, R, theta, freq_scale, freq_factors);
    rope_job j = {LMK_SELECT(rope_token_generic, lmk_rope_token_avx2, lmk_rope_token_avx512,
                             lmk_rope_token_neon),
                  x, positions, inv_freq, H, D, R, mscale, style};
    /* A token's cost in LMK_EW_GRAIN's units (~0.5 ns): its rotations run at ~0.1 ns an element and
     * its D/2 double sincos at ~12 ns each (measured, AVX-512). The MINs keep the sum from
     * overflowing. */
    const int64_t cost = LMK_MIN(H * R, LMK_EW_GRAIN) / 4 + 12 * LMK_MIN(R, LMK_EW_GRAIN);
    lmk_parallel_for(T, LMK_MAX(1, LMK_EW_GRAIN / cost), rope_task, &j);
    lmk_free(inv_freq);
    return LMK_OK;
}

lmk_status lmk_rope(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, float theta,
                    lmk_rope_style style) {
    return lmk_rope_ext(x, positions, T, H, D, D, theta, style, 1.0f, NULL, 1.0f);
}
