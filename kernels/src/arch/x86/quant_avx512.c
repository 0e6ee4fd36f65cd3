/* Quant family, AVX-512 (F, BW, DQ, VL): the tile kernels of quant_avx512.h on maddubs + madd.
 * Dequantize is store-bound, so it reuses the AVX2 kernel (AVX-512 implies AVX2 in cpu.c's check). */
#define QV_VNNI 0
#include "quant_avx512.h"

void lmk_dequantize_avx512(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    lmk_dequantize_avx2(fmt, q, y, nb);
}

lmk_qkernels lmk_qkernels_avx512(lmk_qfmt fmt) { return qv_kernels(fmt); }

void lmk_act_q8_avx512(const float *x, void *y, int64_t nb) { act_q8_x(x, y, nb); }
void lmk_act_q8k_avx512(const float *x, void *y, int64_t nb) { act_q8k_x(x, y, nb); }
