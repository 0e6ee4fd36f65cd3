/* RMSNorm and LayerNorm rows written once over the vector width, in the vocabulary of the vec
 * headers (arch/x86/vec_avx2.h, vec_avx512.h, arch/arm/vec_neon.h): each ISA's norm_<isa>.c
 * includes its vec header, names its functions with NORM_NAME(base) and includes this.
 * Sums run in four (or two) accumulators so several FMAs are in flight; a tail is one partial
 * vector, so every element takes the same vector operations. */

/* Σ x² over the row. */
static float norm_sum_squares(const float *x, int64_t n) {
    VEC a0 = V_ZERO(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        VEC v0 = V_LOAD(x + i), v1 = V_LOAD(x + i + W), v2 = V_LOAD(x + i + 2 * W), v3 = V_LOAD(x + i + 3 * W);
        a0 = V_FMA(v0, v0, a0);
        a1 = V_FMA(v1, v1, a1);
        a2 = V_FMA(v2, v2, a2);
        a3 = V_FMA(v3, v3, a3);
    }
    for (; i + W <= n; i += W) {
        VEC v = V_LOAD(x + i);
        a0 = V_FMA(v, v, a0);
    }
    if (i < n) {
        VEC v = V_LOAD_PART(x + i, n - i);
        a1 = V_FMA(v, v, a1);
    }
    return V_HSUM(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

void NORM_NAME(lmk_rmsnorm_row)(const float *x, const float *w, float *y, int64_t n, float eps) {
    const VEC scale = V_SET1(1.0f / sqrtf(norm_sum_squares(x, n) / (float)n + eps));
    int64_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VEC y0 = V_MUL(V_MUL(V_LOAD(x + i), scale), V_LOAD(w + i));
        VEC y1 = V_MUL(V_MUL(V_LOAD(x + i + W), scale), V_LOAD(w + i + W));
        V_STORE(y + i, y0);
        V_STORE(y + i + W, y1);
    }
    for (; i + W <= n; i += W) V_STORE(y + i, V_MUL(V_MUL(V_LOAD(x + i), scale), V_LOAD(w + i)));
    if (i < n) V_STORE_PART(y + i, V_MUL(V_MUL(V_LOAD_PART(x + i, n - i), scale), V_LOAD_PART(w + i, n - i)), n - i);
}

/* (x - x0) - mean */
static inline VEC norm_centred(VEC v, VEC x0, VEC mean) { return V_SUB(V_SUB(v, x0), mean); }

void NORM_NAME(lmk_layernorm_row)(const float *x, const float *w, const float *b, float *y, int64_t n, float eps) {
    /* Work on x - x[0]: exact in float for values near x[0], it keeps a large common offset out of
     * the sums and out of the rounding of the mean. `mean` is the mean of x - x[0]. In the tails,
     * V_KEEP_PART keeps the lanes past the row's end out of the sums. */
    const VEC x0 = V_SET1(x[0]), zero = V_ZERO();
    VEC a0 = zero, a1 = zero;
    int64_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        a0 = V_ADD(a0, norm_centred(V_LOAD(x + i), x0, zero));
        a1 = V_ADD(a1, norm_centred(V_LOAD(x + i + W), x0, zero));
    }
    for (; i + W <= n; i += W) a0 = V_ADD(a0, norm_centred(V_LOAD(x + i), x0, zero));
    if (i < n) a1 = V_ADD(a1, V_KEEP_PART(norm_centred(V_LOAD_PART(x + i, n - i), x0, zero), n - i));
    const VEC mean = V_SET1(V_HSUM(V_ADD(a0, a1)) / (float)n);

    /* the variance from x - mean (a second pass), not E[x²] - mean², which cancels */
    a0 = zero, a1 = zero;
    for (i = 0; i + 2 * W <= n; i += 2 * W) {
        VEC d0 = norm_centred(V_LOAD(x + i), x0, mean), d1 = norm_centred(V_LOAD(x + i + W), x0, mean);
        a0 = V_FMA(d0, d0, a0);
        a1 = V_FMA(d1, d1, a1);
    }
    for (; i + W <= n; i += W) {
        VEC d = norm_centred(V_LOAD(x + i), x0, mean);
        a0 = V_FMA(d, d, a0);
    }
    if (i < n) {
        VEC d = V_KEEP_PART(norm_centred(V_LOAD_PART(x + i, n - i), x0, mean), n - i);
        a1 = V_FMA(d, d, a1);
    }
    const float var = V_HSUM(V_ADD(a0, a1)) / (float)n;
    const VEC scale = V_SET1(1.0f / sqrtf(var + eps));

    for (i = 0; i + W <= n; i += W) {
        VEC v = V_MUL(V_MUL(norm_centred(V_LOAD(x + i), x0, mean), scale), V_LOAD(w + i));
        V_STORE(y + i, b ? V_ADD(v, V_LOAD(b + i)) : v);
    }
    if (i < n) {
        const int64_t m = n - i;
        VEC v = V_MUL(V_MUL(norm_centred(V_LOAD_PART(x + i, m), x0, mean), scale), V_LOAD_PART(w + i, m));
        V_STORE_PART(y + i, b ? V_ADD(v, V_LOAD_PART(b + i, m)) : v, m);
    }
}
