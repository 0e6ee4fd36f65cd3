/* A call's temporaries (internal.h, lmk_tmp): a region set on the calling thread serves them
 * last-in first-out, and each kernel the model step calls takes exactly the room its
 * lmk_*_tmp_bytes says — no heap allocation with that room, one with a block less — and
 * computes the same bits either way. */
#include "harness.h"
#include "internal.h"
#include "lmk_model.h"

#include <stdint.h>
#include <string.h>

static void test_region(void) {
    static _Alignas(64) char mem[4096];
    lmk_scratch s = {mem, sizeof mem, 0};
    lmk_scratch *before = lmk_scratch_use(&s);
    const int64_t heap0 = lmk_heap_temporaries();
    char *a = lmk_tmp(10), *b = lmk_tmp(100), *c = lmk_tmp(0);
    expect_true("scratch: blocks come in order, 64-byte aligned, rounded to 64",
                a == mem && b == mem + 64 && c == mem + 192 && s.used == 256);
    lmk_tmp_free(c);
    lmk_tmp_free(b);
    expect_true("scratch: giving a block back gives back it and all after it", s.used == 64);
    char *big = lmk_tmp(8192);
    expect_true("scratch: a block beyond the room comes from the heap, counted",
                big && (big < mem || big >= mem + sizeof mem) && lmk_heap_temporaries() == heap0 + 1 && s.used == 64);
    lmk_tmp_free(big);
    lmk_tmp_free(a);
    expect_true("scratch: all given back", s.used == 0);
    lmk_scratch_use(NULL);
    char *h = lmk_tmp(64);
    expect_true("scratch: with no region, the heap (not counted)", h && lmk_heap_temporaries() == heap0 + 1);
    lmk_tmp_free(h);
    expect_true("scratch: lmk_scratch_use returns the previous region", lmk_scratch_use(before) == NULL);
}

typedef struct {
    const char *what;
    int64_t room;  /* what the kernel's lmk_*_tmp_bytes says */
    lmk_status (*run)(const void *ctx, float *out);
    const void *ctx;
    int64_t out_floats;
    int exact;     /* the room is this call's own (not the most of a family of calls) */
} call;

/* Runs the call on the heap, in a region of exactly its room, and in one a block smaller. */
static void check_room(const call *c, lmk_isa isa) {
    char what[160];
    float *want = malloc((size_t)c->out_floats * sizeof *want), *got = malloc((size_t)c->out_floats * sizeof *got);
    char *mem = lmk_alloc((size_t)LMK_MAX(c->room, (int64_t)64));
    lmk_scratch *before = lmk_scratch_use(NULL);
    const lmk_status s0 = c->run(c->ctx, want);

    lmk_scratch exact = {mem, c->room, 0};
    lmk_scratch_use(&exact);
    int64_t heap = lmk_heap_temporaries();
    const lmk_status s1 = c->run(c->ctx, got);
    const int none = lmk_heap_temporaries() == heap && exact.used == 0;
    snprintf(what, sizeof what, "scratch: %s takes its room (%lld bytes) and no more, same bits [%s]", c->what,
             (long long)c->room, lmk_isa_name(isa));
    expect_true(what, s0 == LMK_OK && s1 == LMK_OK && none &&
                      memcmp(got, want, (size_t)c->out_floats * sizeof *got) == 0);

    if (c->exact && c->room >= 64) {
        lmk_scratch less = {mem, c->room - 64, 0};
        lmk_scratch_use(&less);
        heap = lmk_heap_temporaries();
        memset(got, 0, (size_t)c->out_floats * sizeof *got);
        const lmk_status s2 = c->run(c->ctx, got);
        snprintf(what, sizeof what, "scratch: %s in a block less goes to the heap, same bits [%s]", c->what,
                 lmk_isa_name(isa));
        expect_true(what, s2 == LMK_OK && lmk_heap_temporaries() > heap &&
                          memcmp(got, want, (size_t)c->out_floats * sizeof *got) == 0);
    }
    lmk_scratch_use(before);
    lmk_free(mem);
    free(want);
    free(got);
}

typedef struct {
    int type;  /* 0 f32, an lmk_half, or an lmk_qfmt */
    int x16;
    const float *a;
    const void *w;
    int64_t M, N, K;
} mm_ctx;

static lmk_status run_mm(const void *ctx, float *out) {
    const mm_ctx *m = ctx;
    if (m->type == 0) return lmk_matmul_f32(m->a, m->w, out, m->M, m->N, m->K);
    if (lmk_half_valid(m->type)) return lmk_matmul_half((lmk_half)m->type, m->a, m->w, out, m->M, m->N, m->K);
    if (m->x16) return lmk_qmatmul_x16((lmk_qfmt)m->type, m->a, m->w, out, m->M, m->N, m->K);
    return lmk_qmatmul((lmk_qfmt)m->type, m->a, m->w, out, m->M, m->N, m->K);
}

typedef struct {
    const float *q;
    const void *k, *v;
    lmk_attn_params p;
} att_ctx;

static lmk_status run_att(const void *ctx, float *out) {
    const att_ctx *a = ctx;
    return lmk_attention(a->q, a->k, a->v, out, &a->p);
}

static void test_kernels(void) {
    enum { M = 37, N = 96, K = 512 };
    float *a = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
    uint16_t *wh = malloc(sizeof(uint16_t) * N * K);
    fill_normal(a, (int64_t)M * K, 1.0f);
    fill_normal(w, (int64_t)N * K, 0.1f);
    lmk_f32_to_f16_n(w, wh, (int64_t)N * K);
    const lmk_qfmt fmts[] = {LMK_Q8_0, LMK_Q4_0, LMK_Q4_K, LMK_Q6_K};
    char what[96];
    FOR_EACH_ISA(isa) {
        for (int64_t m = 1; m <= M; m += M - 1) {   /* a decode row and a prefill block */
            mm_ctx f32 = {0, 0, a, w, m, N, K}, f16 = {LMK_HALF_F16, 0, a, wh, m, N, K};
            snprintf(what, sizeof what, "matmul_f32 M=%lld", (long long)m);
            check_room(&(call){what, lmk_matmul_tmp_bytes(0, m, N, K), run_mm, &f32, m * N, 1}, isa);
            snprintf(what, sizeof what, "matmul_half M=%lld", (long long)m);
            check_room(&(call){what, lmk_matmul_tmp_bytes(LMK_HALF_F16, m, N, K), run_mm, &f16, m * N, 1}, isa);
            for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
                int64_t row;
                lmk_qrow_bytes(fmts[i], K, &row);
                char *q = lmk_alloc((size_t)(N * row)), *x = lmk_alloc((size_t)(N * row));
                for (int64_t n = 0; n < N; n++) lmk_quantize(fmts[i], w + n * K, q + n * row, K);
                mm_ctx rows = {fmts[i], 0, a, q, m, N, K};
                snprintf(what, sizeof what, "qmatmul fmt %d M=%lld", (int)fmts[i], (long long)m);
                check_room(&(call){what, lmk_qmatmul_tmp_bytes(fmts[i], m, N, K), run_mm, &rows, m * N, 1}, isa);
                if (lmk_qrepack_x16(fmts[i], q, x, N, K) == LMK_OK) {
                    mm_ctx x16 = {fmts[i], 1, a, x, m, N, K};
                    snprintf(what, sizeof what, "qmatmul_x16 fmt %d M=%lld", (int)fmts[i], (long long)m);
                    check_room(&(call){what, lmk_qmatmul_x16_tmp_bytes(fmts[i], m, N, K), run_mm, &x16, m * N, 1}, isa);
                }
                lmk_free(q);
                lmk_free(x);
            }
        }
        /* attention: decode over the longest cache whose keys still split over threads (64
         * segments of 512 keys, attention.c: the room is sized for it) and a prefill block */
        enum { H = 8, Hkv = 2, D = 64, S = 32768 };
        float *q = malloc(sizeof(float) * 40 * H * D), *kv = malloc(sizeof(float) * S * Hkv * D);
        uint16_t *kh = malloc(sizeof(uint16_t) * S * Hkv * D);
        fill_normal(q, 40 * H * D, 1.0f);
        fill_normal(kv, S * Hkv * D, 1.0f);
        lmk_f32_to_f16_n(kv, kh, S * Hkv * D);
        const int64_t Ts[] = {1, 40};
        for (int t = 0; t < 2; t++)
            for (int dt = 0; dt < 2; dt++) {
                const lmk_kv_dtype kd = dt ? LMK_KV_F16 : LMK_KV_F32;
                att_ctx c = {q, dt ? (const void *)kh : kv, dt ? (const void *)kh : kv,
                             {Ts[t], S, H, Hkv, D, 0, 0.125f, 1, 0, kd, 0}};
                snprintf(what, sizeof what, "attention T=%lld kv %s", (long long)Ts[t], dt ? "f16" : "f32");
                /* the room for any call of up to T queries: this call's own for T = 1 */
                const int64_t room = lmk_attention_tmp_bytes(Ts[t], H, Hkv, D, kd);
                check_room(&(call){what, room, run_att, &c, Ts[t] * H * D, Ts[t] == 1}, isa);
            }
        free(q);
        free(kv);
        free(kh);
    }
    free(a);
    free(w);
    free(wh);
}

void test_scratch(void) {
    test_region();
    test_kernels();
}
