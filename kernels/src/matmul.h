/* Private interface between the matmul driver (matmul.c) and its per-ISA kernels (arch/).
 *
 * matmul.c owns everything that is the same on every ISA: argument checks, cache blocking,
 * packing and threading. An ISA contributes a register-tiled micro-kernel, its tile shape and
 * block sizes, a GEMV row kernel and, optionally, a faster packer. */
#ifndef LMK_MATMUL_H
#define LMK_MATMUL_H

#include "internal.h"

/* c (mr, nr) [+]= ap · bp over kc steps, where
 *   ap (kc, mr)  packed A: for each k, the mr rows' values side by side
 *   bp (kc, nr)  packed B: for each k, the nr columns' values side by side
 *   c            rows ldc floats apart
 * mr, nr are the kernel's full tile; accumulate = 0 overwrites c, 1 adds to it. Both panels are
 * 64-byte aligned. */
typedef void (*lmk_sgemm_ukernel)(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                                  int accumulate);

/* y[i] = dot(x (K), w[i] (K)) for i in [0, n): w (n, K) row-major, rows K floats apart. */
typedef void (*lmk_sgemv_kernel)(const float *x, const float *w, float *y, int64_t n, int64_t K);

/* The same with w (n, K) as half bits (f16 or bf16: each ISA has one kernel per type). */
typedef void (*lmk_hgemv_kernel)(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K);

/* dst ← src rows [0, rows) × columns [0, kc) (rows ld floats apart) as consecutive panels of r
 * rows, each (kc, r): for each k the panel's r rows side by side, rows past `rows` zero. */
typedef void (*lmk_sgemm_pack)(const float *src, int64_t ld, int64_t rows, int64_t kc, int r, float *dst);

typedef struct {
    int mr, nr;      /* micro-tile: rows of A × columns of B held in registers */
    int kc;          /* K block: an A micro-panel (kc, mr) stays in L1 */
    int mc, nc;      /* most rows of A / columns of B per thread work unit, whose packed block
                        (kc, mc or nc) stays in L2; multiples of mr / nr */
    lmk_sgemm_ukernel ukernel;
    lmk_sgemm_pack pack;  /* NULL: the portable packer in matmul.c */
    lmk_sgemv_kernel gemv;
    lmk_hgemv_kernel gemv_f16, gemv_bf16;
} lmk_sgemm_arch;

#if LMK_X86
extern const lmk_sgemm_arch lmk_sgemm_avx2;
void lmk_sgemm_pack_avx2(const float *src, int64_t ld, int64_t rows, int64_t kc, int r, float *dst);  /* AVX-512 uses it too */
extern const lmk_sgemm_arch lmk_sgemm_avx512;
/* BF16 weights by vdpbf16ps (arch/x86/matmul_bf16_avx512.c): the float GEMM over pairs of BF16
 * values, one 32-bit element each; lmk_bf16_pairs rounds float rows (M, K) into such pairs,
 * (M, ceil(K / 2)). Only where lmk_cpu_avx512bf16(). */
extern const lmk_sgemm_arch lmk_sgemm_avx512bf16;
int lmk_cpu_avx512bf16(void);
void lmk_bf16_pairs(const float *a, uint32_t *out, int64_t M, int64_t K);
#endif
#if LMK_ARM
extern const lmk_sgemm_arch lmk_sgemm_neon;
#endif

/* The largest mr·nr of any kernel (sizes the driver's edge-tile buffer). */
#define LMK_SGEMM_MAX_TILE (16 * 32)

#endif
