/* Activation spans written once over the vector width, in the vocabulary of the vec headers
 * (arch/x86/vec_avx2.h, vec_avx512.h, arch/arm/vec_neon.h): each ISA's act_<isa>.c includes its
 * vec header, names its functions with ACT_NAME(base) and includes this.
 * Two vectors per step keep two polynomial evaluations in flight; the tail takes the same
 * vector path as every other element (so a value's result never depends on where it sits). */

static inline VEC act_apply(const int gelu, VEC g) { return gelu ? V_GELU(g) : V_SILU(g); }

/* y = act(gate) · up (up == NULL: y = act(gate)) */
static inline __attribute__((always_inline)) void act_span(const int gelu, const float *gate, const float *up,
                                                           float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VEC y0 = act_apply(gelu, V_LOAD(gate + i)), y1 = act_apply(gelu, V_LOAD(gate + i + W));
        if (up) y0 = V_MUL(y0, V_LOAD(up + i)), y1 = V_MUL(y1, V_LOAD(up + i + W));
        V_STORE(y + i, y0);
        V_STORE(y + i + W, y1);
    }
    for (; i + W <= n; i += W) {
        VEC v = act_apply(gelu, V_LOAD(gate + i));
        V_STORE(y + i, up ? V_MUL(v, V_LOAD(up + i)) : v);
    }
    if (i < n) {
        const int64_t m = n - i;
        VEC v = act_apply(gelu, V_LOAD_PART(gate + i, m));
        V_STORE_PART(y + i, up ? V_MUL(v, V_LOAD_PART(up + i, m)) : v, m);
    }
}

/* y = cap·tanh(x / cap), tanh written as 2 / (1 + e^{-2u}) - 1: e^{-2u} overflowing to inf for
 * very negative u gives the right limit, -1. */
static inline VEC softcap_apply(VEC x, VEC k, VEC cap) {
    const VEC one = V_SET1(1.0f), two = V_SET1(2.0f);
    VEC t = V_SUB(V_DIV(two, V_ADD(one, V_EXP(V_MUL(x, k)))), one);
    return V_MUL(t, cap);
}

void ACT_NAME(lmk_softcap_span)(const float *x, float *y, int64_t n, float cap) {
    const VEC k = V_SET1(-2.0f / cap), c = V_SET1(cap);
    int64_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VEC y0 = softcap_apply(V_LOAD(x + i), k, c), y1 = softcap_apply(V_LOAD(x + i + W), k, c);
        V_STORE(y + i, y0);
        V_STORE(y + i + W, y1);
    }
    for (; i + W <= n; i += W) V_STORE(y + i, softcap_apply(V_LOAD(x + i), k, c));
    if (i < n) V_STORE_PART(y + i, softcap_apply(V_LOAD_PART(x + i, n - i), k, c), n - i);
}

void ACT_NAME(lmk_swiglu_span)(const float *gate, const float *up, float *y, int64_t n) { act_span(0, gate, up, y, n); }
void ACT_NAME(lmk_geglu_span)(const float *gate, const float *up, float *y, int64_t n) { act_span(1, gate, up, y, n); }
void ACT_NAME(lmk_gelu_span)(const float *x, float *y, int64_t n) { act_span(1, x, NULL, y, n); }
