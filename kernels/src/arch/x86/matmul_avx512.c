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
#include "ukernel_avx512.h"

#define MR 14
#define NR 32

#define FMA_STEP(i, ci0, ci1)                                 \
    do {                                                      \
        const __m512 ai = _mm512_set1_ps(ap[i]);              \
        ci0 = _mm512_fmadd_ps(ai, b0, ci0);                   \
        ci1 = _mm512_fmadd_ps(ai, b1, ci1);                   \
    } while (0)
LMK_UKERNEL_14x32(ukernel_14x32, FMA_STEP)

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
            /* the rows stream from memory once per token: ask for the next four rows' bytes at
             * this k (past the last row is whatever follows: a prefetch never faults) */
            for (size_t l = 0; l < 32 * es; l += 64) {
                _mm_prefetch((const char *)w0 + 4 * K * es + k * es + l, _MM_HINT_T0);
                _mm_prefetch((const char *)w1 + 4 * K * es + k * es + l, _MM_HINT_T0);
                _mm_prefetch((const char *)w2 + 4 * K * es + k * es + l, _MM_HINT_T0);
                _mm_prefetch((const char *)w3 + 4 * K * es + k * es + l, _MM_HINT_T0);
            }
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
