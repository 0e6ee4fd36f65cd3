/* Row softmax written once over the vector width, in the vocabulary of the vec headers
 * (arch/x86/vec_avx2.h, vec_avx512.h, arch/arm/vec_neon.h): each ISA's softmax_<isa>.c includes
 * its vec header, names its function with SOFTMAX_NAME(base) and includes this.
 * Three passes: the max (and whether a NaN was met: max would drop it), exp(x - max) stored and
 * summed, then the scale. Four accumulators keep several exps in flight; tails are one partial
 * vector padded with -inf (exp gives 0), so every element takes the same vector operations. */

void SOFTMAX_NAME(lmk_softmax_row)(const float *x, float *y, int64_t n) {
    const VEC ninf = V_SET1(-INFINITY);
    VEC m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    NANS nan = NANS_NONE;
    int64_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        VEC v0 = V_LOAD(x + i), v1 = V_LOAD(x + i + W), v2 = V_LOAD(x + i + 2 * W), v3 = V_LOAD(x + i + 3 * W);
        m0 = V_MAX(m0, v0);
        m1 = V_MAX(m1, v1);
        m2 = V_MAX(m2, v2);
        m3 = V_MAX(m3, v3);
        nan = V_NANS(nan, v0, v1);   /* unordered if either is NaN: one compare covers two vectors */
        nan = V_NANS(nan, v2, v3);
    }
    for (; i + W <= n; i += W) {
        VEC v = V_LOAD(x + i);
        m0 = V_MAX(m0, v);
        nan = V_NANS(nan, v, v);
    }
    if (i < n) {
        VEC v = V_LOAD_FILL(x + i, n - i, -INFINITY);
        m1 = V_MAX(m1, v);
        nan = V_NANS(nan, v, v);
    }
    const float max = V_HMAX(V_MAX(V_MAX(m0, m1), V_MAX(m2, m3)));
    if (NANS_ANY(nan) || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, NANS_ANY(nan) ? NAN : max);
        return;
    }

    const VEC vmax = V_SET1(max);
    VEC s0 = V_ZERO(), s1 = s0, s2 = s0, s3 = s0;
    for (i = 0; i + 4 * W <= n; i += 4 * W) {
        VEC e0 = V_EXP(V_SUB(V_LOAD(x + i), vmax)), e1 = V_EXP(V_SUB(V_LOAD(x + i + W), vmax));
        VEC e2 = V_EXP(V_SUB(V_LOAD(x + i + 2 * W), vmax)), e3 = V_EXP(V_SUB(V_LOAD(x + i + 3 * W), vmax));
        V_STORE(y + i, e0);
        V_STORE(y + i + W, e1);
        V_STORE(y + i + 2 * W, e2);
        V_STORE(y + i + 3 * W, e3);
        s0 = V_ADD(s0, e0);
        s1 = V_ADD(s1, e1);
        s2 = V_ADD(s2, e2);
        s3 = V_ADD(s3, e3);
    }
    for (; i + W <= n; i += W) {
        VEC e = V_EXP(V_SUB(V_LOAD(x + i), vmax));
        V_STORE(y + i, e);
        s0 = V_ADD(s0, e);
    }
    if (i < n) {
        VEC e = V_EXP(V_SUB(V_LOAD_FILL(x + i, n - i, -INFINITY), vmax));   /* the padding adds exp = 0 */
        V_STORE_PART(y + i, e, n - i);
        s1 = V_ADD(s1, e);
    }
    const VEC inv = V_SET1(1.0f / V_HSUM(V_ADD(V_ADD(s0, s1), V_ADD(s2, s3))));

    for (i = 0; i + 4 * W <= n; i += 4 * W) {
        V_STORE(y + i, V_MUL(V_LOAD(y + i), inv));
        V_STORE(y + i + W, V_MUL(V_LOAD(y + i + W), inv));
        V_STORE(y + i + 2 * W, V_MUL(V_LOAD(y + i + 2 * W), inv));
        V_STORE(y + i + 3 * W, V_MUL(V_LOAD(y + i + 3 * W), inv));
    }
    for (; i + W <= n; i += W) V_STORE(y + i, V_MUL(V_LOAD(y + i), inv));
    if (i < n) V_STORE_PART(y + i, V_MUL(V_LOAD_FILL(y + i, n - i, 0.0f), inv), n - i);
}
