/* Row softmax, NEON: the AVX2 kernel's three passes, four lanes, tails through a padded buffer. */
#include "elementwise.h"
#include "vmath_neon.h"

void lmk_softmax_row_neon(const float *x, float *y, int64_t n) {
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    float32x4_t m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = vmaxq_f32(m0, vld1q_f32(x + i));
        m1 = vmaxq_f32(m1, vld1q_f32(x + i + 4));
        m2 = vmaxq_f32(m2, vld1q_f32(x + i + 8));
        m3 = vmaxq_f32(m3, vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) m0 = vmaxq_f32(m0, vld1q_f32(x + i));
    /* vmaxq (FMAX) propagates NaN, so a NaN anywhere in the vector part makes max NaN */
    float max = lmk_hmax_neon(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
    int has_nan = isnan(max);
    for (; i < n; i++) {
        max = x[i] > max ? x[i] : max;
        has_nan |= isnan(x[i]);
    }
    if (has_nan || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, has_nan ? NAN : max);
        return;
    }

    const float32x4_t vmax = vdupq_n_f32(max);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    for (i = 0; i + 16 <= n; i += 16) {
        float32x4_t e0 = lmk_exp_neon(vsubq_f32(vld1q_f32(x + i), vmax));
        float32x4_t e1 = lmk_exp_neon(vsubq_f32(vld1q_f32(x + i + 4), vmax));
        float32x4_t e2 = lmk_exp_neon(vsubq_f32(vld1q_f32(x + i + 8), vmax));
        float32x4_t e3 = lmk_exp_neon(vsubq_f32(vld1q_f32(x + i + 12), vmax));
        vst1q_f32(y + i, e0);
        vst1q_f32(y + i + 4, e1);
        vst1q_f32(y + i + 8, e2);
        vst1q_f32(y + i + 12, e3);
        s0 = vaddq_f32(s0, e0);
        s1 = vaddq_f32(s1, e1);
        s2 = vaddq_f32(s2, e2);
        s3 = vaddq_f32(s3, e3);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = lmk_exp_neon(vsubq_f32(vld1q_f32(x + i), vmax));
        vst1q_f32(y + i, e);
        s0 = vaddq_f32(s0, e);
    }
    if (i < n) {
        /* -inf padding contributes exp = 0 */
        float buf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof *x);
        float32x4_t e = lmk_exp_neon(vsubq_f32(vld1q_f32(buf), vmax));
        vst1q_f32(buf, e);
        memcpy(y + i, buf, (size_t)(n - i) * sizeof *y);
        s1 = vaddq_f32(s1, e);
    }
    const float sum = lmk_hsum_neon(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));

    const float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), inv));
    for (; i < n; i++) y[i] *= inv;
}
