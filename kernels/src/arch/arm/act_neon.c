/* Activation spans, NEON: the shared body (arch/act_body.h) over 4 lanes; the tail through a
 * zero-padded buffer. */
#include "elementwise.h"
#include "vmath_neon.h"

static inline float32x4_t load_part(const float *p, int64_t m) {
    float t[4] = {0};
    memcpy(t, p, (size_t)m * sizeof *t);
    return vld1q_f32(t);
}

static inline void store_part(float *p, float32x4_t v, int64_t m) {
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, (size_t)m * sizeof *t);
}

#define VEC float32x4_t
#define W 4
#define V_LOAD vld1q_f32
#define V_STORE vst1q_f32
#define V_MUL vmulq_f32
#define V_SILU lmk_silu_neon
#define V_GELU lmk_gelu_neon
#define V_LOAD_PART load_part
#define V_STORE_PART store_part
#define ACT_NAME(base) base##_neon
#include "arch/act_body.h"
