/* Activations: gelu_tanh, the gated units SwiGLU (silu(gate)·up) and GeGLU (gelu(gate)·up), and
 * the soft-cap cap·tanh(x/cap). */
#include "elementwise.h"

/* The references, in double. gelu_tanh(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³),
 * written as x / (1 + e^{-2u}), the same function: 0.5·(1 + tanh u) = 1 / (1 + e^{-2u}). That
 * form has no cancellation for negative x, where 1 + tanh u loses every digit. */
static double silu_ref(double x) { return x / (1.0 + exp(-x)); }

static double softcap_ref(double x, double cap) { return cap * tanh(x / cap); }

static double gelu_ref(double x) {
    const double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

static void swiglu_span_ref(const float *gate, const float *up, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)(silu_ref(gate[i]) * up[i]);
}

static void geglu_span_ref(const float *gate, const float *up, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)(gelu_ref(gate[i]) * up[i]);
}

static void gelu_span_ref(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)gelu_ref(x[i]);
}

/* The scalar path of the dispatching entry point: the same formulas in float. e^{-2u} may
 * overflow to inf for very negative x, which gives the right limit, -0. */
static float silu_f(float x) { return x / (1.0f + expf(-x)); }

static float gelu_f(float x) {
    const float u = 0.7978845608f * x * (1.0f + 0.044715f * x * x);
    return x / (1.0f + expf(-2.0f * u));
}

static void swiglu_span_generic(const float *gate, const float *up, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = silu_f(gate[i]) * up[i];
}

static void geglu_span_generic(const float *gate, const float *up, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gelu_f(gate[i]) * up[i];
}

static void gelu_span_generic(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gelu_f(x[i]);
}

/* The scalar path of lmk_softcap: the vector formula (arch/act_body.h) in float. */
static void softcap_span_generic(const float *x, float *y, int64_t n, float cap) {
    const float k = -2.0f / cap;
    for (int64_t i = 0; i < n; i++) y[i] = (2.0f / (1.0f + expf(x[i] * k)) - 1.0f) * cap;
}

static lmk_status check(const float *a, const float *b, const float *y, int64_t n) {
    if (n < 0 || (n > 0 && (!a || !b || !y))) return LMK_ERR_ARG;
    return LMK_OK;
}

lmk_status lmk_swiglu_ref(const float *gate, const float *up, float *y, int64_t n) {
    lmk_status s = check(gate, up, y, n);
    if (s == LMK_OK) swiglu_span_ref(gate, up, y, n);
    return s;
}

lmk_status lmk_geglu_ref(const float *gate, const float *up, float *y, int64_t n) {
    lmk_status s = check(gate, up, y, n);
    if (s == LMK_OK) geglu_span_ref(gate, up, y, n);
    return s;
}

lmk_status lmk_gelu_ref(const float *x, float *y, int64_t n) {
    lmk_status s = check(x, x, y, n);
    if (s == LMK_OK) gelu_span_ref(x, y, n);
    return s;
}

/* Spans are split in blocks of ACT_BLOCK elements (a multiple of every vector width, so only the
 * last block has a tail); a task takes whole blocks. */
#define ACT_BLOCK 1024

typedef struct {
    void (*gated)(const float *, const float *, float *, int64_t);  /* or NULL */
    void (*plain)(const float *, float *, int64_t);
    const float *a;  /* (n) gate or x */
    const float *b;  /* (n) up, or NULL */
    float *y;        /* (n) */
    int64_t n;
} act_job;

static void act_task(void *ctx, int64_t begin, int64_t end) {
    const act_job *j = ctx;
    const int64_t lo = begin * ACT_BLOCK, hi = LMK_MIN(j->n, end * ACT_BLOCK);
    if (j->gated)
        j->gated(j->a + lo, j->b + lo, j->y + lo, hi - lo);
    else
        j->plain(j->a + lo, j->y + lo, hi - lo);
}

static void act_run(act_job *j) {
    const int64_t blocks = (j->n + ACT_BLOCK - 1) / ACT_BLOCK;
    lmk_parallel_for(blocks, LMK_EW_GRAIN / ACT_BLOCK, act_task, j);
}

lmk_status lmk_swiglu(const float *gate, const float *up, float *y, int64_t n) {
    lmk_status s = check(gate, up, y, n);
    if (s != LMK_OK || n == 0) return s;
    act_job j = {LMK_SELECT(swiglu_span_generic, lmk_swiglu_span_avx2, lmk_swiglu_span_avx512,
                            lmk_swiglu_span_neon),
                 NULL, gate, up, y, n};
    act_run(&j);
    return LMK_OK;
}

lmk_status lmk_geglu(const float *gate, const float *up, float *y, int64_t n) {
    lmk_status s = check(gate, up, y, n);
    if (s != LMK_OK || n == 0) return s;
    act_job j = {LMK_SELECT(geglu_span_generic, lmk_geglu_span_avx2, lmk_geglu_span_avx512,
                            lmk_geglu_span_neon),
                 NULL, gate, up, y, n};
    act_run(&j);
    return LMK_OK;
}

lmk_status lmk_gelu(const float *x, float *y, int64_t n) {
    lmk_status s = check(x, x, y, n);
    if (s != LMK_OK || n == 0) return s;
    act_job j = {NULL,
                 LMK_SELECT(gelu_span_generic, lmk_gelu_span_avx2, lmk_gelu_span_avx512, lmk_gelu_span_neon),
                 x, NULL, y, n};
    act_run(&j);
    return LMK_OK;
}

static int cap_ok(float cap) { return isfinite(cap) && cap > 0; }

lmk_status lmk_softcap_ref(const float *x, float *y, int64_t n, float cap) {
    lmk_status s = check(x, x, y, n);
    if (s == LMK_OK && !cap_ok(cap)) s = LMK_ERR_ARG;
    if (s == LMK_OK)
        for (int64_t i = 0; i < n; i++) y[i] = (float)softcap_ref(x[i], cap);
    return s;
}

/* One span, not threaded: its callers (the attention driver's score tiles, one row of logits)
 * are already inside a threaded task or small. */
lmk_status lmk_softcap(const float *x, float *y, int64_t n, float cap) {
    lmk_status s = check(x, x, y, n);
    if (s == LMK_OK && !cap_ok(cap)) s = LMK_ERR_ARG;
    if (s != LMK_OK || n == 0) return s;
    LMK_SELECT(softcap_span_generic, lmk_softcap_span_avx2, lmk_softcap_span_avx512, lmk_softcap_span_neon)(x, y, n, cap);
    return LMK_OK;
}
