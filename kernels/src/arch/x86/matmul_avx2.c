/* float32 matmul kernels for AVX2 + FMA (the driver is in matmul.c).
 *
 * Micro-tile 6 × 16: c rows live in 6 × 2 ymm accumulators (12 of the 16 registers), the two
 * vectors of a packed-B row take 2 more and the broadcast of a[i][k] one. Per k step: 12 FMAs
 * against 2 loads + 6 broadcasts, so the two FMA ports, not the loads, set the pace, and 12
 * independent chains cover the FMA latency. 8 × 8 would need 8 broadcasts for 8 FMAs and leave
 * the load ports the bottleneck. Measured L1-resident on this Xeon: ~59 GFLOP/s per core.
 *
 * Blocks: an A micro-panel (kc × 6) = 6 KiB sits in L1; a unit's B block (kc × nc) = 1 MiB in L2. */
#include <immintrin.h>

#include "../../matmul.h"

#define MR 6
#define NR 16

/* Named accumulators, not an array: GCC keeps an array's copy in memory and stores to it every
 * k step, which halves this kernel's speed. */
#define ROW(i, ci0, ci1)                                      \
    do {                                                      \
        const __m256 ai = _mm256_broadcast_ss(ap + (i));      \
        ci0 = _mm256_fmadd_ps(ai, b0, ci0);                   \
        ci1 = _mm256_fmadd_ps(ai, b1, ci1);                   \
    } while (0)

static inline void store_row(float *ci, __m256 v0, __m256 v1, int accumulate) {
    if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ci));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, v0);
    _mm256_storeu_ps(ci + 8, v1);
}

static void ukernel_6x16(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    /* the c tile is read (or written) only after the k loop: start fetching it now */
    for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        ROW(0, c00, c01);
        ROW(1, c10, c11);
        ROW(2, c20, c21);
        ROW(3, c30, c31);
        ROW(4, c40, c41);
        ROW(5, c50, c51);
        ap += MR;
        bp += NR;
    }
    store_row(c, c00, c01, accumulate);
    store_row(c + ldc, c10, c11, accumulate);
    store_row(c + 2 * ldc, c20, c21, accumulate);
    store_row(c + 3 * ldc, c30, c31, accumulate);
    store_row(c + 4 * ldc, c40, c41, accumulate);
    store_row(c + 5 * ldc, c50, c51, accumulate);
}

/* v[q] = row q of an 8 × 8 block → v[q] = column q */
static inline void transpose8x8(__m256 v[8]) {
    __m256 t[8], u[8];
    for (int q = 0; q < 8; q += 2) {
        t[q] = _mm256_unpacklo_ps(v[q], v[q + 1]);      /* r0 r1 interleaved, elements 0,1 | 4,5 */
        t[q + 1] = _mm256_unpackhi_ps(v[q], v[q + 1]);  /* elements 2,3 | 6,7 */
    }
    for (int q = 0; q < 8; q += 4) {
        u[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);      /* column 0 | 4 of four rows */
        u[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xEE);  /* column 1 | 5 */
        u[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
        u[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        v[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
        v[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
    }
}

/* The packer of matmul.h, by 8 × 8 (and 4 × 4) register transposes: one strided gather per
 * element in portable C costs several times more than the micro-kernel spends on it. */
void lmk_sgemm_pack_avx2(const float *src, int64_t ld, int64_t rows, int64_t kc, int r, float *dst) {
    for (int64_t p0 = 0; p0 < rows; p0 += r) {
        const int64_t pr = rows - p0 < r ? rows - p0 : r;
        const float *s = src + p0 * ld;  /* (pr, kc), rows ld apart */
        float *d = dst + p0 * kc;        /* (kc, r) */
        int64_t i = 0, k;
        for (; i + 8 <= pr; i += 8) {
            for (k = 0; k + 8 <= kc; k += 8) {
                __m256 v[8];
                for (int q = 0; q < 8; q++) v[q] = _mm256_loadu_ps(s + (i + q) * ld + k);
                transpose8x8(v);
                for (int q = 0; q < 8; q++) _mm256_storeu_ps(d + (k + q) * r + i, v[q]);
            }
            for (; k < kc; k++)
                for (int q = 0; q < 8; q++) d[k * r + i + q] = s[(i + q) * ld + k];
        }
        for (; i + 4 <= pr; i += 4) {
            for (k = 0; k + 4 <= kc; k += 4) {
                __m128 v0 = _mm_loadu_ps(s + i * ld + k), v1 = _mm_loadu_ps(s + (i + 1) * ld + k);
                __m128 v2 = _mm_loadu_ps(s + (i + 2) * ld + k), v3 = _mm_loadu_ps(s + (i + 3) * ld + k);
                _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
                _mm_storeu_ps(d + k * r + i, v0);
                _mm_storeu_ps(d + (k + 1) * r + i, v1);
                _mm_storeu_ps(d + (k + 2) * r + i, v2);
                _mm_storeu_ps(d + (k + 3) * r + i, v3);
            }
            for (; k < kc; k++)
                for (int q = 0; q < 4; q++) d[k * r + i + q] = s[(i + q) * ld + k];
        }
        for (; i < pr; i++)
            for (k = 0; k < kc; k++) d[k * r + i] = s[i * ld + k];
        for (; i < r; i++)
            for (k = 0; k < kc; k++) d[k * r + i] = 0.0f;
    }
}

static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* GEMV weights: float32, or half bits widened as they load (the kinds of gemv_rows). */
enum { W_F32, W_F16, W_BF16 };

/* 8 weights from element k of row w → 8 floats: f16 by F16C, bf16 by shifting the bits into a
 * float's top half. */
static inline __attribute__((always_inline)) __m256 load_w8(const void *w, int64_t k, const int kind) {
    if (kind == W_F32) return _mm256_loadu_ps((const float *)w + k);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
    return kind == W_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

static inline __attribute__((always_inline)) float load_w1(const void *w, int64_t k, const int kind) {
    if (kind == W_F32) return ((const float *)w)[k];
    const uint16_t h = ((const uint16_t *)w)[k];
    return kind == W_BF16 ? lmk_bf16_to_f32(h) : _cvtsh_ss(h);
}

/* Four rows of w at a time, two accumulators each: eight independent FMA chains hide the FMA
 * latency, and x is loaded once per four rows. The kernel is memory-bound: w is read once.
 * Row i of w starts at element i·K (kind picks the element size). */
static inline __attribute__((always_inline)) void gemv_rows(const int kind, const float *x, const void *w, float *y,
                                                            int64_t n, int64_t K) {
    const size_t es = kind == W_F32 ? 4 : 2;
#define ROW_AT(i) ((const char *)w + (size_t)(i) * (size_t)K * es)
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const void *w0 = ROW_AT(i), *w1 = ROW_AT(i + 1), *w2 = ROW_AT(i + 2), *w3 = ROW_AT(i + 3);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            const __m256 xa = _mm256_loadu_ps(x + k), xb = _mm256_loadu_ps(x + k + 8);
            s0 = _mm256_fmadd_ps(xa, load_w8(w0, k, kind), s0);
            s1 = _mm256_fmadd_ps(xa, load_w8(w1, k, kind), s1);
            s2 = _mm256_fmadd_ps(xa, load_w8(w2, k, kind), s2);
            s3 = _mm256_fmadd_ps(xa, load_w8(w3, k, kind), s3);
            t0 = _mm256_fmadd_ps(xb, load_w8(w0, k + 8, kind), t0);
            t1 = _mm256_fmadd_ps(xb, load_w8(w1, k + 8, kind), t1);
            t2 = _mm256_fmadd_ps(xb, load_w8(w2, k + 8, kind), t2);
            t3 = _mm256_fmadd_ps(xb, load_w8(w3, k + 8, kind), t3);
        }
        float r0 = hsum256(_mm256_add_ps(s0, t0)), r1 = hsum256(_mm256_add_ps(s1, t1));
        float r2 = hsum256(_mm256_add_ps(s2, t2)), r3 = hsum256(_mm256_add_ps(s3, t3));
        for (; k < K; k++) {
            r0 += x[k] * load_w1(w0, k, kind);
            r1 += x[k] * load_w1(w1, k, kind);
            r2 += x[k] * load_w1(w2, k, kind);
            r3 += x[k] * load_w1(w3, k, kind);
        }
        y[i] = r0;
        y[i + 1] = r1;
        y[i + 2] = r2;
        y[i + 3] = r3;
    }
    for (; i < n; i++) {
        const void *wi = ROW_AT(i);
        __m256 s = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load_w8(wi, k, kind), s);
        float r = hsum256(s);
        for (; k < K; k++) r += x[k] * load_w1(wi, k, kind);
        y[i] = r;
    }
#undef ROW_AT
}

static void gemv_avx2(const float *x, const float *w, float *y, int64_t n, int64_t K) { gemv_rows(W_F32, x, w, y, n, K); }
static void gemv_f16_avx2(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_F16, x, w, y, n, K);
}
static void gemv_bf16_avx2(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_BF16, x, w, y, n, K);
}

const lmk_sgemm_arch lmk_sgemm_avx2 = {
    .mr = MR, .nr = NR, .kc = 256, .mc = 144, .nc = 1024, .ukernel = ukernel_6x16,
    .pack = lmk_sgemm_pack_avx2, .gemv = gemv_avx2, .gemv_f16 = gemv_f16_avx2, .gemv_bf16 = gemv_bf16_avx2,
};
