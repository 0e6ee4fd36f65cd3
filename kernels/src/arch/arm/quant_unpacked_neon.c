/* Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS on AArch64 Advanced SIMD: the integer dots of
 * quant_unpack.h by vmull_s8 (→ i16, |p| <= 127 · 127) and pairwise accumulation into i32. */
#include <arm_neon.h>
#include <stdint.h>

/* Σ q·a over 16 signed bytes, as 4 i32 partial sums */
static inline int32x4_t dot16(const int8_t *q, const int8_t *a) {
    const int8x16_t x = vld1q_s8(q), y = vld1q_s8(a);
    return vpadalq_s16(vpaddlq_s16(vmull_s8(vget_low_s8(x), vget_low_s8(y))), vmull_high_s8(x, y));
}

static inline int32_t qu_dot32(const int8_t *q, const int8_t *a) {
    return vaddvq_s32(vaddq_s32(dot16(q, a), dot16(q + 16, a + 16)));
}

static inline int32_t qu_dotk(const int8_t *q, const int16_t *sc, const int8_t *a) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int g = 0; g < 16; g++) acc = vmlaq_n_s32(acc, dot16(q + 16 * g, a + 16 * g), sc[g]);
    return vaddvq_s32(acc);
}

#include "../../quant_unpack.h"

LMK_QU_TABLE(lmk_qkernels_unpacked_neon)
