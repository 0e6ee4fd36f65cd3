/* float32 matmul kernels for AVX-512 (the driver is in matmul.c).
 *
 * Micro-tile 14 × 32: c rows live in 14 × 2 zmm accumulators (28 of the 32 registers), the two
 * vectors of a packed-B row take 2 more and the broadcast of a[i][k] one, so nothing spills
 * (checked in the disassembly). Per k step: 28 FMAs against 2 vector loads + 14 broadcasts:
 * the two FMA ports set the pace (14 cycles) rather than the two load ports (8),
 * and 28 independent chains cover the FMA latency (4 cycles × 2 ports = 8 needed). Measured
 * L1-resident on this Xeon, one core: 12 × 32 ~110 GFLOP/s, 14 × 32 ~140 (fewer loads and less
 * loop overhead per FMA; the k loop is unrolled by 4 for the same reason), ~165 once the
 * accumulators were named variables instead of an array (see ROW).
 *
 * Blocks for a core with 48 KiB L1d and 2 MiB L2: an A micro-panel (kc × 14) = 14 KiB sits in
 * L1 while the B micro-panels of a unit's block (kc × nc ≤ 1 MiB) stream past it from L2. kc
 * from 128 to 512 measured the same within noise; 256 keeps the A panel well inside L1. */
#include <immintrin.h>

#include "../../matmul.h"

#define MR 14
#define NR 32

/* Named accumulators, not an array: with an array GCC keeps a copy in memory and stores to it
 * every k step. */
#define ROW(i, ci0, ci1)                                      \
    do {                                                      \
        const __m512 ai = _mm512_set1_ps(ap[i]);              \
        ci0 = _mm512_fmadd_ps(ai, b0, ci0);                   \
        ci1 = _mm512_fmadd_ps(ai, b1, ci1);                   \
    } while (0)

static inline void store_row(float *ci, __m512 v0, __m512 v1, int accumulate) {
    if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(ci));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, v0);
    _mm512_storeu_ps(ci + 16, v1);
}

static void ukernel_14x32(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int accumulate) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
    __m512 c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00;
    __m512 c71 = c00, c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00;
    __m512 cb1 = c00, cc0 = c00, cc1 = c00, cd0 = c00, cd1 = c00;
    /* the c tile is read (or written) only after the k loop: start fetching it now */
    for (int i = 0; i < MR; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        ROW(0, c00, c01);
        ROW(1, c10, c11);
        ROW(2, c20, c21);
        ROW(3, c30, c31);
        ROW(4, c40, c41);
        ROW(5, c50, c51);
        ROW(6, c60, c61);
        ROW(7, c70, c71);
        ROW(8, c80, c81);
        ROW(9, c90, c91);
        ROW(10, ca0, ca1);
        ROW(11, cb0, cb1);
        ROW(12, cc0, cc1);
        ROW(13, cd0, cd1);
        ap += MR;
        bp += NR;
    }
    store_row(c, c00, c01, accumulate);
    store_row(c + ldc, c10, c11, accumulate);
    store_row(c + 2 * ldc, c20, c21, accumulate);
    store_row(c + 3 * ldc, c30, c31, accumulate);
    store_row(c + 4 * ldc, c40, c41, accumulate);
    store_row(c + 5 * ldc, c50, c51, accumulate);
    store_row(c + 6 * ldc, c60, c61, accumulate);
    store_row(c + 7 * ldc, c70, c71, accumulate);
    store_row(c + 8 * ldc, c80, c81, accumulate);
    store_row(c + 9 * ldc, c90, c91, accumulate);
    store_row(c + 10 * ldc, ca0, ca1, accumulate);
    store_row(c + 11 * ldc, cb0, cb1, accumulate);
    store_row(c + 12 * ldc, cc0, cc1, accumulate);
    store_row(c + 13 * ldc, cd0, cd1, accumulate);
}

/* GEMV weights: float32, or half bits widened as they load (the kinds of gemv_rows). */
enum { W_F32, W_F16, W_BF16 };

/* 16 weights from element k of row w → 16 floats (f16 by vcvtph2ps, bf16 by shifting the bits
 * into a float's top half); m masks the load so a tail reads nothing past K (masked lanes are 0). */
static inline __attribute__((always_inline)) __m512 load_w16(const void *w, int64_t k, __mmask16 m, const int kind) {
    if (kind == W_F32) return _mm512_maskz_loadu_ps(m, (const float *)w + k);
    const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k);
    return kind == W_BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* Four rows of w at a time, two accumulators each: eight independent FMA chains hide the FMA
 * latency, and x is loaded once per four rows. The kernel is memory-bound: w is read once.
 * Row i of w starts at element i·K (kind picks the element size). */
static inline __attribute__((always_inline)) void gemv_rows(const int kind, const float *x, const void *w, float *y,
                                                            int64_t n, int64_t K) {
    const size_t es = kind == W_F32 ? 4 : 2;
    const __mmask16 all = 0xFFFF;
#define ROW_AT(i) ((const char *)w + (size_t)(i) * (size_t)K * es)
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const void *w0 = ROW_AT(i), *w1 = ROW_AT(i + 1), *w2 = ROW_AT(i + 2), *w3 = ROW_AT(i + 3);
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        int64_t k = 0;
        for (; k + 32 <= K; k += 32) {
            const __m512 xa = _mm512_loadu_ps(x + k), xb = _mm512_loadu_ps(x + k + 16);
            s0 = _mm512_fmadd_ps(xa, load_w16(w0, k, all, kind), s0);
            s1 = _mm512_fmadd_ps(xa, load_w16(w1, k, all, kind), s1);
            s2 = _mm512_fmadd_ps(xa, load_w16(w2, k, all, kind), s2);
            s3 = _mm512_fmadd_ps(xa, load_w16(w3, k, all, kind), s3);
            t0 = _mm512_fmadd_ps(xb, load_w16(w0, k + 16, all, kind), t0);
            t1 = _mm512_fmadd_ps(xb, load_w16(w1, k + 16, all, kind), t1);
            t2 = _mm512_fmadd_ps(xb, load_w16(w2, k + 16, all, kind), t2);
            t3 = _mm512_fmadd_ps(xb, load_w16(w3, k + 16, all, kind), t3);
        }
        for (; k < K; k += 16) {  /* the tail, masked: no element read past K */
            const __mmask16 m = tail_mask(K - k);
            const __m512 xa = _mm512_maskz_loadu_ps(m, x + k);
            s0 = _mm512_fmadd_ps(xa, load_w16(w0, k, m, kind), s0);
            s1 = _mm512_fmadd_ps(xa, load_w16(w1, k, m, kind), s1);
            s2 = _mm512_fmadd_ps(xa, load_w16(w2, k, m, kind), s2);
            s3 = _mm512_fmadd_ps(xa, load_w16(w3, k, m, kind), s3);
        }
        y[i] = _mm512_reduce_add_ps(_mm512_add_ps(s0, t0));
        y[i + 1] = _mm512_reduce_add_ps(_mm512_add_ps(s1, t1));
        y[i + 2] = _mm512_reduce_add_ps(_mm512_add_ps(s2, t2));
        y[i + 3] = _mm512_reduce_add_ps(_mm512_add_ps(s3, t3));
    }
    for (; i < n; i++) {
        const void *wi = ROW_AT(i);
        __m512 s = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            const __mmask16 m = tail_mask(K - k);
            s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), load_w16(wi, k, m, kind), s);
        }
        y[i] = _mm512_reduce_add_ps(s);
    }
#undef ROW_AT
}

static void gemv_avx512(const float *x, const float *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_F32, x, w, y, n, K);
}
static void gemv_f16_avx512(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_F16, x, w, y, n, K);
}
static void gemv_bf16_avx512(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_BF16, x, w, y, n, K);
}

const lmk_sgemm_arch lmk_sgemm_avx512 = {
    .mr = MR, .nr = NR, .kc = 256, .mc = 196, .nc = 1024, .ukernel = ukernel_14x32,
    .pack = lmk_sgemm_pack_avx2, .gemv = gemv_avx512, .gemv_f16 = gemv_f16_avx512, .gemv_bf16 = gemv_bf16_avx512,
};
