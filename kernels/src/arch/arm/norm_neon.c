/* RMSNorm and LayerNorm rows, NEON: the AVX2 kernels' passes, four lanes, scalar tails. */
#include "elementwise.h"
#include "vmath_neon.h"

void lmk_rmsnorm_row_neon(const float *x, const float *w, float *y, int64_t n, float eps) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
        a0 = vfmaq_f32(a0, v0, v0);
        a1 = vfmaq_f32(a1, v1, v1);
        a2 = vfmaq_f32(a2, v2, v2);
        a3 = vfmaq_f32(a3, v3, v3);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        a0 = vfmaq_f32(a0, v, v);
    }
    float ss = lmk_hsum_neon(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) ss += x[i] * x[i];
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);

    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(w + i)));
    for (; i < n; i++) y[i] = x[i] * scale * w[i];
}

/* (x - x0) - mean: see lmk_layernorm_row_neon */
static inline float32x4_t centred(float32x4_t v, float32x4_t x0, float32x4_t mean) {
    return vsubq_f32(vsubq_f32(v, x0), mean);
}

void lmk_layernorm_row_neon(const float *x, const float *w, const float *b, float *y, int64_t n, float eps) {
    /* Work on x - x[0]: exact in float for values near x[0], it keeps a large common offset out of
     * the sums and out of the rounding of the mean. `mean` is the mean of x - x[0]. */
    const float first = x[0];
    const float32x4_t x0 = vdupq_n_f32(first), zero = vdupq_n_f32(0.0f);
    float32x4_t a0 = zero, a1 = zero;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vaddq_f32(a0, centred(vld1q_f32(x + i), x0, zero));
        a1 = vaddq_f32(a1, centred(vld1q_f32(x + i + 4), x0, zero));
    }
    for (; i + 4 <= n; i += 4) a0 = vaddq_f32(a0, centred(vld1q_f32(x + i), x0, zero));
    float sum = lmk_hsum_neon(vaddq_f32(a0, a1));
    for (; i < n; i++) sum += x[i] - first;
    const float mean = sum / (float)n;
    const float32x4_t vmean = vdupq_n_f32(mean);

    /* the variance from x - mean (a second pass), not E[x²] - mean², which cancels */
    a0 = zero, a1 = zero;
    for (i = 0; i + 8 <= n; i += 8) {
        float32x4_t d0 = centred(vld1q_f32(x + i), x0, vmean), d1 = centred(vld1q_f32(x + i + 4), x0, vmean);
        a0 = vfmaq_f32(a0, d0, d0);
        a1 = vfmaq_f32(a1, d1, d1);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t d = centred(vld1q_f32(x + i), x0, vmean);
        a0 = vfmaq_f32(a0, d, d);
    }
    float var = lmk_hsum_neon(vaddq_f32(a0, a1));
    for (; i < n; i++) var += (x[i] - first - mean) * (x[i] - first - mean);
    const float scale = 1.0f / sqrtf(var / (float)n + eps);

    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vmulq_n_f32(centred(vld1q_f32(x + i), x0, vmean), scale), vld1q_f32(w + i));
        vst1q_f32(y + i, b ? vaddq_f32(v, vld1q_f32(b + i)) : v);
    }
    for (; i < n; i++) y[i] = (x[i] - first - mean) * scale * w[i] + (b ? b[i] : 0.0f);
}
