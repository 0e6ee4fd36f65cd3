/* Per-ISA inner kernels of the elementwise families (norm, softmax, rope, act). Private.
 *
 * Each family's .c file checks arguments, splits the work over the pool and picks one of these
 * with LMK_SELECT; the SIMD versions live in src/arch/{x86,arm}/<family>_<isa>.c. Every kernel
 * here works on one row (or one token, or one span) and never fails. */
#ifndef LMK_ELEMENTWISE_H
#define LMK_ELEMENTWISE_H

#include "internal.h"

/* Elements a task must get before the work is split over the pool. These kernels stream memory
 * at a few elements per ns, so a 64×4096 tensor takes ~100-200 µs on one thread; waking a sleeping
 * worker costs tens of µs on an idle machine and milliseconds on an oversubscribed one (measured
 * on the 2-core dev box under load: 64×4096 softmax went from ~150 µs to ~2 ms on 2 threads).
 * So only tensors of 2·2^18 elements and up are split; a 4096-wide row never is. */
#define LMK_EW_GRAIN (1 << 18)

/* Declares name_avx2, name_avx512 and name_neon with the given parameter list. */
#define LMK_EW_DECLARE(ret, name, params) \
    ret name##_avx2 params;               \
    ret name##_avx512 params;             \
    ret name##_neon params;

/* x (n) → y (n); y may alias x. A row whose maximum is -inf (every entry masked) gives zeros. */
LMK_EW_DECLARE(void, lmk_softmax_row, (const float *x, float *y, int64_t n))

/* The rows no exp pass can handle, as the reference treats them: a row holding NaN or +inf is
 * all NaN (as numpy gives), a row whose max is -inf (all masked) is all zeros. */
static inline void softmax_degenerate_row(float *y, int64_t n, float max) {
    const float v = max == -INFINITY ? 0.0f : NAN;
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

/* x (n), w (n) → y (n); y may alias x. */
LMK_EW_DECLARE(void, lmk_rmsnorm_row, (const float *x, const float *w, float *y, int64_t n, float eps))
/* x (n), w (n), b (n) or NULL → y (n); y may alias x. */
LMK_EW_DECLARE(void, lmk_layernorm_row,
               (const float *x, const float *w, const float *b, float *y, int64_t n, float eps))

/* Rotates pairs [p0, p0 + np) of each of the H heads of one token, x (H, D), in place, with
 * that token's tables for those pairs:
 *   NORMAL: c (2·np), s (2·np) with c[2k] = c[2k+1] = cos θ, s[2k] = -sin θ, s[2k+1] = sin θ
 *           (θ of pair p0 + k), so that y[j] = x[j]·c[j] + x[j^1]·s[j] on the pair's elements;
 *   NEOX:   c (np), s (np) = cos θ, sin θ for the pair (x[p], x[p + half]), half = R/2. */
LMK_EW_DECLARE(void, lmk_rope_token, (float *x, const float *c, const float *s, int64_t H, int64_t D,
                                      int64_t half, int64_t p0, int64_t np, lmk_rope_style style))

/* Spans of n elements; y may alias either input. */
LMK_EW_DECLARE(void, lmk_swiglu_span, (const float *gate, const float *up, float *y, int64_t n))
LMK_EW_DECLARE(void, lmk_geglu_span, (const float *gate, const float *up, float *y, int64_t n))
LMK_EW_DECLARE(void, lmk_gelu_span, (const float *x, float *y, int64_t n))
LMK_EW_DECLARE(void, lmk_softcap_span, (const float *x, float *y, int64_t n, float cap))

#endif /* LMK_ELEMENTWISE_H */
