/* Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS (quant_unpack.h): which formats they are, their exact
 * dequantize, and the generic kernels (the scalar ISA's, which every SIMD table must equal). */
#include <stdint.h>

/* the generic integer dots, in the order anyone would write them */
static inline int32_t qu_dot32(const int8_t *q, const int8_t *a) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += q[j] * a[j];
    return s;
}

static inline int32_t qu_dotk(const int8_t *q, const int16_t *sc, const int8_t *a) {
    int32_t s = 0;
    for (int g = 0; g < 16; g++) {
        int32_t t = 0;
        for (int j = 16 * g; j < 16 * g + 16; j++) t += q[j] * a[j];
        s += sc[g] * t;
    }
    return s;
}

#include "quant_unpack.h"

int lmk_qfmt_unpacked(lmk_qfmt fmt) {
    return fmt == LMK_Q5_1 || fmt == LMK_IQ4_NL || fmt == LMK_Q2_K || fmt == LMK_Q3_K || fmt == LMK_Q5_K ||
           fmt == LMK_IQ4_XS;
}

/* gguf-py's numpy: (d · sc) · q - (dmin · mn) for the 256-blocks, d · q (+ m for Q5_1) for the
 * 32-blocks, each product rounded to float before the offset. */
void lmk_dequantize_unpacked(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    const uint8_t *p = q;
    const int64_t bb = qu_block_bytes(fmt);
    for (int64_t b = 0; b < nb; b++, p += bb) {
        if (fmt == LMK_Q5_1 || fmt == LMK_IQ4_NL) {
            unp_32 u;
            unpack_32(fmt, p, &u);
            for (int j = 0; j < QK; j++) {
                float v = u.d * (float)u.q[j];
                LMK_ROUNDED(v);
                y[j] = fmt == LMK_Q5_1 ? v + u.m : v;  /* IQ4_NL adds nothing: -0 stays -0 */
            }
            y += QK;
        } else {
            unp_k u;
            unpack_k(fmt, p, &u);
            for (int j = 0; j < QK_K; j++) {
                float v = (u.d * (float)u.sc[j / 16]) * (float)u.q[j];
                LMK_ROUNDED(v);
                y[j] = v - u.dmin * (float)u.mn[j / 16];
            }
            y += QK_K;
        }
    }
}

LMK_QU_TABLE(lmk_qkernels_unpacked_generic)
