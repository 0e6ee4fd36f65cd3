/* The AVX-512 GEMM micro-tile, 14 × 32 (matmul_avx512.c explains the shape), shared by the float
 * kernel and the BF16 dot-product one (matmul_bf16_avx512.c): LMK_UKERNEL_14x32(name, STEP)
 * defines name(kc, ap, bp, c, ldc, accumulate) with STEP(i, ci0, ci1) adding row i's k step of
 * ap (ap[i], one 32-bit element) times the two B vectors b0, b1 (the k step of bp, 16 32-bit
 * elements each) into accumulators ci0, ci1. Included after the file's target pragma. */
#ifndef LMK_UKERNEL_AVX512_H
#define LMK_UKERNEL_AVX512_H

#include <immintrin.h>

static inline void lmk_store_row16x2(float *ci, __m512 v0, __m512 v1, int accumulate) {
    if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(ci));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, v0);
    _mm512_storeu_ps(ci + 16, v1);
}

/* Named accumulators, not an array: with an array GCC keeps a copy in memory and stores to it
 * every k step. */
#define LMK_UKERNEL_14x32(name, STEP)                                                                      \
    static void name(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int accumulate) { \
        __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00; \
        __m512 c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00;      \
        __m512 c71 = c00, c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00;      \
        __m512 cb1 = c00, cc0 = c00, cc1 = c00, cd0 = c00, cd1 = c00;                                      \
        /* the c tile is read (or written) only after the k loop: start fetching it now */                 \
        for (int i = 0; i < 14; i++) {                                                                     \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                                        \
            _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);                                   \
        }                                                                                                  \
        _Pragma("GCC unroll 4") for (int64_t k = 0; k < kc; k++) {                                         \
            const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);                            \
            STEP(0, c00, c01);                                                                             \
            STEP(1, c10, c11);                                                                             \
            STEP(2, c20, c21);                                                                             \
            STEP(3, c30, c31);                                                                             \
            STEP(4, c40, c41);                                                                             \
            STEP(5, c50, c51);                                                                             \
            STEP(6, c60, c61);                                                                             \
            STEP(7, c70, c71);                                                                             \
            STEP(8, c80, c81);                                                                             \
            STEP(9, c90, c91);                                                                             \
            STEP(10, ca0, ca1);                                                                            \
            STEP(11, cb0, cb1);                                                                            \
            STEP(12, cc0, cc1);                                                                            \
            STEP(13, cd0, cd1);                                                                            \
            ap += 14;                                                                                      \
            bp += 32;                                                                                      \
        }                                                                                                  \
        lmk_store_row16x2(c, c00, c01, accumulate);                                                        \
        lmk_store_row16x2(c + ldc, c10, c11, accumulate);                                                  \
        lmk_store_row16x2(c + 2 * ldc, c20, c21, accumulate);                                              \
        lmk_store_row16x2(c + 3 * ldc, c30, c31, accumulate);                                              \
        lmk_store_row16x2(c + 4 * ldc, c40, c41, accumulate);                                              \
        lmk_store_row16x2(c + 5 * ldc, c50, c51, accumulate);                                              \
        lmk_store_row16x2(c + 6 * ldc, c60, c61, accumulate);                                              \
        lmk_store_row16x2(c + 7 * ldc, c70, c71, accumulate);                                              \
        lmk_store_row16x2(c + 8 * ldc, c80, c81, accumulate);                                              \
        lmk_store_row16x2(c + 9 * ldc, c90, c91, accumulate);                                              \
        lmk_store_row16x2(c + 10 * ldc, ca0, ca1, accumulate);                                             \
        lmk_store_row16x2(c + 11 * ldc, cb0, cb1, accumulate);                                             \
        lmk_store_row16x2(c + 12 * ldc, cc0, cc1, accumulate);                                             \
        lmk_store_row16x2(c + 13 * ldc, cd0, cd1, accumulate);                                             \
    }

#endif
