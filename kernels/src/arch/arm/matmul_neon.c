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

/* GEMV weights: float32, or half bits widened as they load (the kinds of gemv_rows). */
enum { W_F32, W_F16, W_BF16 };

/* 4 weights from element k of row w → 4 floats: f16 by vcvt, bf16 widened and shifted into a
 * float's top half. */
static inline __attribute__((always_inline)) float32x4_t load_w4(const void *w, int64_t k, const int kind) {
    if (kind == W_F32) return vld1q_f32((const float *)w + k);
    const uint16x4_t h = vld1_u16((const uint16_t *)w + k);
    return kind == W_BF16 ? vreinterpretq_f32_u32(vshll_n_u16(h, 16)) : vcvt_f32_f16(vreinterpret_f16_u16(h));
}

static inline __attribute__((always_inline)) float load_w1(const void *w, int64_t k, const int kind) {
    if (kind == W_F32) return ((const float *)w)[k];
    const uint16_t h = ((const uint16_t *)w)[k];
    return kind == W_BF16 ? lmk_bf16_to_f32(h) : vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
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
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            const float32x4_t xa = vld1q_f32(x + k), xb = vld1q_f32(x + k + 4);
            s0 = vfmaq_f32(s0, xa, load_w4(w0, k, kind));
            s1 = vfmaq_f32(s1, xa, load_w4(w1, k, kind));
            s2 = vfmaq_f32(s2, xa, load_w4(w2, k, kind));
            s3 = vfmaq_f32(s3, xa, load_w4(w3, k, kind));
            t0 = vfmaq_f32(t0, xb, load_w4(w0, k + 4, kind));
            t1 = vfmaq_f32(t1, xb, load_w4(w1, k + 4, kind));
            t2 = vfmaq_f32(t2, xb, load_w4(w2, k + 4, kind));
            t3 = vfmaq_f32(t3, xb, load_w4(w3, k + 4, kind));
        }
        float r0 = vaddvq_f32(vaddq_f32(s0, t0)), r1 = vaddvq_f32(vaddq_f32(s1, t1));
        float r2 = vaddvq_f32(vaddq_f32(s2, t2)), r3 = vaddvq_f32(vaddq_f32(s3, t3));
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
        float32x4_t s = vdupq_n_f32(0.0f);
        int64_t k = 0;
        for (; k + 4 <= K; k += 4) s = vfmaq_f32(s, vld1q_f32(x + k), load_w4(wi, k, kind));
        float r = vaddvq_f32(s);
        for (; k < K; k++) r += x[k] * load_w1(wi, k, kind);
        y[i] = r;
    }
#undef ROW_AT
}

static void gemv_neon(const float *x, const float *w, float *y, int64_t n, int64_t K) { gemv_rows(W_F32, x, w, y, n, K); }
static void gemv_f16_neon(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_F16, x, w, y, n, K);
}
static void gemv_bf16_neon(const float *x, const uint16_t *w, float *y, int64_t n, int64_t K) {
    gemv_rows(W_BF16, x, w, y, n, K);
}

const lmk_sgemm_arch lmk_sgemm_neon = {
    .mr = MR, .nr = NR, .kc = 256, .mc = 128, .nc = 768, .ukernel = ukernel_8x12,
    .pack = NULL, .gemv = gemv_neon, .gemv_f16 = gemv_f16_neon, .gemv_bf16 = gemv_bf16_neon,
};
