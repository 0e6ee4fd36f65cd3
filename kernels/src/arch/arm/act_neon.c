/* Activation spans, NEON: the vmath silu and gelu, four lanes; the tail through a padded buffer
 * so that every element takes the same vector path. */
#include "elementwise.h"
#include "vmath_neon.h"

void lmk_swiglu_span_neon(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(lmk_silu_neon(vld1q_f32(gate + i)), vld1q_f32(up + i)));
    if (i < n) {
        float g[4] = {0}, u[4] = {0};
        memcpy(g, gate + i, (size_t)(n - i) * sizeof *g);
        memcpy(u, up + i, (size_t)(n - i) * sizeof *u);
        vst1q_f32(g, vmulq_f32(lmk_silu_neon(vld1q_f32(g)), vld1q_f32(u)));
        memcpy(y + i, g, (size_t)(n - i) * sizeof *y);
    }
}

void lmk_geglu_span_neon(const float *gate, const float *up, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(lmk_gelu_neon(vld1q_f32(gate + i)), vld1q_f32(up + i)));
    if (i < n) {
        float g[4] = {0}, u[4] = {0};
        memcpy(g, gate + i, (size_t)(n - i) * sizeof *g);
        memcpy(u, up + i, (size_t)(n - i) * sizeof *u);
        vst1q_f32(g, vmulq_f32(lmk_gelu_neon(vld1q_f32(g)), vld1q_f32(u)));
        memcpy(y + i, g, (size_t)(n - i) * sizeof *y);
    }
}

void lmk_gelu_span_neon(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, lmk_gelu_neon(vld1q_f32(x + i)));
    if (i < n) {
        float v[4] = {0};
        memcpy(v, x + i, (size_t)(n - i) * sizeof *v);
        vst1q_f32(v, lmk_gelu_neon(vld1q_f32(v)));
        memcpy(y + i, v, (size_t)(n - i) * sizeof *y);
    }
}
