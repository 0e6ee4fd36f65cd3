/* float32 matmul kernels for AArch64 Advanced SIMD (the driver is in matmul.c).
 *
 * Micro-tile 8 × 12: c rows live in 8 × 3 q-register accumulators (24 of the 32 registers),
 * the packed-B row takes 3 more and the 8 values of a[.][k] two (their lanes feed fmla by
 * element, so no broadcast instruction is needed). Per k step: 24 FMAs against 5 loads, and
 * 24 independent chains cover the FMA latency on wide cores. 8 × 8 would use only 16
 * accumulators for the same loads; 4 × 16 would load more per FMA.
 *
 * Blocks: an A micro-panel (kc × 8) = 8 KiB sits in L1; a unit's B block (kc × nc) = 768 KiB in L2.
 * The portable packer is used (not measured here: the NEON path is only run under qemu). */
#include <arm_neon.h>

#include "../../matmul.h"

#define MR 8
#define NR 12

/* Named accumulators, not an array: GCC keeps an array's copy in memory and stores all 24
 * vectors every k step (seen in the disassembly). Row i += b (3 vectors) × lane l of a. */
#define ROW(c0, c1, c2, a, l)                 \
    do {                                      \
        c0 = vfmaq_laneq_f32(c0, b0, a, l);   \
        c1 = vfmaq_laneq_f32(c1, b1, a, l);   \
        c2 = vfmaq_laneq_f32(c2, b2, a, l);   \
    } while (0)

static inline void store_row(float *ci, float32x4_t v0, float32x4_t v1, float32x4_t v2, int accumulate) {
    if (accumulate) {
        v0 = vaddq_f32(v0, vld1q_f32(ci));
        v1 = vaddq_f32(v1, vld1q_f32(ci + 4));
        v2 = vaddq_f32(v2, vld1q_f32(ci + 8));
    }
    vst1q_f32(ci, v0);
    vst1q_f32(ci + 4, v1);
    vst1q_f32(ci + 8, v2);
}

static void ukernel_8x12(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int accumulate) {
    float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    float32x4_t c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    float32x4_t c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    float32x4_t c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    /* the c tile is read (or written) only after the k loop: start fetching it now */
    for (int i = 0; i < MR; i++) __builtin_prefetch(c + i * ldc);
    for (int64_t k = 0; k < kc; k++) {
        const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8);
        const float32x4_t a0 = vld1q_f32(ap), a1 = vld1q_f32(ap + 4);
        ROW(c00, c01, c02, a0, 0);
        ROW(c10, c11, c12, a0, 1);
        ROW(c20, c21, c22, a0, 2);
        ROW(c30, c31, c32, a0, 3);
        ROW(c40, c41, c42, a1, 0);
        ROW(c50, c51, c52, a1, 1);
        ROW(c60, c61, c62, a1, 2);
        ROW(c70, c71, c72, a1, 3);
        ap += MR;
        bp += NR;
    }
    store_row(c, c00, c01, c02, accumulate);
    store_row(c + ldc, c10, c11, c12, accumulate);
    store_row(c + 2 * ldc, c20, c21, c22, accumulate);
    store_row(c + 3 * ldc, c30, c31, c32, accumulate);
    store_row(c + 4 * ldc, c40, c41, c42, accumulate);
    store_row(c + 5 * ldc, c50, c51, c52, accumulate);
    store_row(c + 6 * ldc, c60, c61, c62, accumulate);
    store_row(c + 7 * ldc, c70, c71, c72, accumulate);
}

/* Four rows of w at a time, two accumulators each: eight independent FMA chains hide the FMA
 * latency, and x is loaded once per four rows. The kernel is memory-bound: w is read once. */
static void gemv_neon(const float *x, const float *w, float *y, int64_t n, int64_t K) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *w0 = w + i * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            const float32x4_t xa = vld1q_f32(x + k), xb = vld1q_f32(x + k + 4);
            s0 = vfmaq_f32(s0, xa, vld1q_f32(w0 + k));
            s1 = vfmaq_f32(s1, xa, vld1q_f32(w1 + k));
            s2 = vfmaq_f32(s2, xa, vld1q_f32(w2 + k));
            s3 = vfmaq_f32(s3, xa, vld1q_f32(w3 + k));
            t0 = vfmaq_f32(t0, xb, vld1q_f32(w0 + k + 4));
            t1 = vfmaq_f32(t1, xb, vld1q_f32(w1 + k + 4));
            t2 = vfmaq_f32(t2, xb, vld1q_f32(w2 + k + 4));
            t3 = vfmaq_f32(t3, xb, vld1q_f32(w3 + k + 4));
        }
        float r0 = vaddvq_f32(vaddq_f32(s0, t0)), r1 = vaddvq_f32(vaddq_f32(s1, t1));
        float r2 = vaddvq_f32(vaddq_f32(s2, t2)), r3 = vaddvq_f32(vaddq_f32(s3, t3));
        for (; k < K; k++) {
            r0 += x[k] * w0[k];
            r1 += x[k] * w1[k];
            r2 += x[k] * w2[k];
            r3 += x[k] * w3[k];
        }
        y[i] = r0;
        y[i + 1] = r1;
        y[i + 2] = r2;
        y[i + 3] = r3;
    }
    for (; i < n; i++) {
        const float *wi = w + i * K;
        float32x4_t s = vdupq_n_f32(0.0f);
        int64_t k = 0;
        for (; k + 4 <= K; k += 4) s = vfmaq_f32(s, vld1q_f32(x + k), vld1q_f32(wi + k));
        float r = vaddvq_f32(s);
        for (; k < K; k++) r += x[k] * wi[k];
        y[i] = r;
    }
}

const lmk_sgemm_arch lmk_sgemm_neon = {
    .mr = MR, .nr = NR, .kc = 256, .mc = 128, .nc = 768, .ukernel = ukernel_8x12,
    .pack = NULL, .gemv = gemv_neon,
};
