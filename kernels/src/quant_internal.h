/* Private to the quant family: GGUF block layouts, the 8-bit activation blocks that the fast
 * qmatmul dots against, and the driver each ISA plugs its dot kernels into. */
#ifndef LMK_QUANT_INTERNAL_H
#define LMK_QUANT_INTERNAL_H

#include "internal.h"

#define QK 32     /* elements per block of Q8_0, Q4_0, Q4_1, Q5_0 */
#define QK_K 256  /* elements per super-block of Q4_K, Q6_K */

/* Block layouts, byte for byte as ggml writes them (f16 fields kept as raw bits). */
typedef struct { uint16_t d; int8_t qs[QK]; } blk_q8_0;                                /* 34 B */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_q4_0;                           /* 18 B */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } blk_q4_1;                        /* 20 B */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_0;            /* 22 B */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } blk_q4_k; /* 144 B */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } blk_q6_k; /* 210 B */

/* C99 static asserts: the structs must have exactly ggml's sizes (no padding). */
typedef char lmk_assert_q8_0[sizeof(blk_q8_0) == 34 ? 1 : -1];
typedef char lmk_assert_q4_0[sizeof(blk_q4_0) == 18 ? 1 : -1];
typedef char lmk_assert_q4_1[sizeof(blk_q4_1) == 20 ? 1 : -1];
typedef char lmk_assert_q5_0[sizeof(blk_q5_0) == 22 ? 1 : -1];
typedef char lmk_assert_q4_k[sizeof(blk_q4_k) == 144 ? 1 : -1];
typedef char lmk_assert_q6_k[sizeof(blk_q6_k) == 210 ? 1 : -1];

/* Activations quantized on the fly, symmetric 8-bit in [-127, 127] (never -128, so the SIMD
 * sign trick cannot overflow). x ≈ d * qs.
 *   act_q8:  for the 32-blocks; sum = Σ qs lets offset formats (q - 8, q * d + m) fold their
 *            constant term into one multiply per block.
 *   act_q8k: for the K-quants; bsums[g] = Σ qs over group g of 16, for Q4_K's mins and Q6_K's -32. */
typedef struct { float d; int32_t sum; int8_t qs[QK]; } act_q8;                        /* 40 B */
typedef struct { float d; int16_t bsums[QK_K / 16]; int8_t qs[QK_K]; } act_q8k;       /* 292 B */

/* One weight row · one activation row, nb blocks of the weight's format. */
typedef float (*lmk_qdot_fn)(const void *w, const void *a, int64_t nb);

/* c (M, N) = a (M, K) · w (N, K)ᵀ: quantizes a once, then runs dot over every (row, row) pair,
 * threaded over N. Arguments are checked here, so each ISA's entry point is just a table. */
lmk_status lmk_qmatmul_with(lmk_qfmt fmt, const float *a, const void *w, float *c, int64_t M,
                            int64_t N, int64_t K, lmk_qdot_fn dot);

/* Each ISA's entry points (arguments already checked by quant.c). */
#define LMK_QUANT_ARCH(sfx)                                                                      \
    void lmk_dequantize_##sfx(lmk_qfmt fmt, const void *q, float *y, int64_t nb);               \
    lmk_qdot_fn lmk_qdot_##sfx(lmk_qfmt fmt);
LMK_QUANT_ARCH(avx2)
LMK_QUANT_ARCH(avx512)
LMK_QUANT_ARCH(neon)

/* Q4_K's 12 bytes → 8 six-bit scales and 8 six-bit mins. */
static inline void lmk_q4k_scales(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (uint8_t)((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

/* gguf-py (numpy) rounds d*q before adding the offset; gnu99 builds default to
 * -ffp-contract=fast and would fuse them into one FMA. An empty asm on the product keeps the
 * rounding, so dequantize matches the reference bit for bit on every ISA. */
#if LMK_X86 && defined(__AVX512F__)
#define LMK_ROUNDED(x) __asm__("" : "+v"(x))
#elif LMK_X86
#define LMK_ROUNDED(x) __asm__("" : "+x"(x))
#elif LMK_ARM
#define LMK_ROUNDED(x) __asm__("" : "+w"(x))
#else
#define LMK_ROUNDED(x) ((void)0)
#endif

#endif
