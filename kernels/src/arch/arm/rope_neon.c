/* RoPE rotations of one token, NEON; see rope_avx2.c. vrev64 swaps the lanes of each pair. */
#include "elementwise.h"
#include "vmath_neon.h"

void lmk_rope_token_neon(float *x, const float *c, const float *s, int64_t H, int64_t D,
                         int64_t half, int64_t p0, int64_t np, lmk_rope_style style) {
    for (int64_t h = 0; h < H; h++) {
        float *v = x + h * D;  /* (D) */
        if (style == LMK_ROPE_NORMAL) {
            float *p = v + 2 * p0;  /* (2·np) */
            int64_t j = 0;
            for (; j + 4 <= 2 * np; j += 4) {
                float32x4_t a = vld1q_f32(p + j);
                vst1q_f32(p + j, vfmaq_f32(vmulq_f32(vrev64q_f32(a), vld1q_f32(s + j)), a, vld1q_f32(c + j)));
            }
            if (j < 2 * np) {  /* one pair left */
                float32x2_t a = vld1_f32(p + j);
                vst1_f32(p + j, vfma_f32(vmul_f32(vrev64_f32(a), vld1_f32(s + j)), a, vld1_f32(c + j)));
            }
        } else {
            float *pa = v + p0, *pb = v + p0 + half;  /* (np) each */
            int64_t j = 0;
            for (; j + 4 <= np; j += 4) {
                float32x4_t a = vld1q_f32(pa + j), b = vld1q_f32(pb + j);
                float32x4_t cv = vld1q_f32(c + j), sv = vld1q_f32(s + j);
                vst1q_f32(pa + j, vfmsq_f32(vmulq_f32(a, cv), b, sv));
                vst1q_f32(pb + j, vfmaq_f32(vmulq_f32(b, cv), a, sv));
            }
            for (; j < np; j++) {
                const float a = pa[j], b = pb[j];
                pa[j] = a * c[j] - b * s[j];
                pb[j] = b * c[j] + a * s[j];
            }
        }
    }
}
