/* Quant family: block sizes, quantize round trips, every ISA's dequantize (bit-exact against
 * the reference) and qmatmul (against the float reference and against the generic int8 path). */
#include "harness.h"

#include <string.h>

#include "quant_internal.h"

static const lmk_qfmt FORMATS[] = {LMK_Q8_0, LMK_Q4_0, LMK_Q4_1, LMK_Q5_0, LMK_Q4_K, LMK_Q6_K,
                                   LMK_Q5_1, LMK_IQ4_NL, LMK_Q2_K, LMK_Q3_K, LMK_Q5_K, LMK_IQ4_XS};
static const char *const NAMES[] = {"q8_0", "q4_0", "q4_1", "q5_0", "q4_k", "q6_k",
                                    "q5_1", "iq4_nl", "q2_k", "q3_k", "q5_k", "iq4_xs"};
#define N_FORMATS 12
#define N_QUANTIZABLE 6  /* the first six have a quantizer (lmk_quantize); the rest come from files */

/* Round trip on N(0, 1) data: RMS error / RMS of x. Each bound is about 1.3× what the format
 * gives (step / sqrt(12) with step = range / levels), so a broken scale search fails it. */
static const double ROUNDTRIP_MAX[N_QUANTIZABLE] = {0.006, 0.12, 0.11, 0.06, 0.09, 0.025};

/* qmatmul against the float reference: the activations are rounded to 8 bits per block
 * (step amax/127; rounding error ~0.5% of a block's RMS), so each output errs by about
 * 0.005 · sqrt(K) · rms(w) · rms(a). Tolerance: 10× that scale. */
#define QMM_REF_TOL 0.05
/* SIMD against the generic int8 path: identical integer sums, only the float accumulation
 * order differs. */
#define QMM_GENERIC_TOL 1e-5

/* Byte offsets of the f16 scale fields inside a block, patched so random blocks stay finite. */
static int f16_fields(lmk_qfmt fmt, int off[2]) {
    switch ((int)fmt) {
    case LMK_Q4_1: case LMK_Q4_K: case LMK_Q5_1: case LMK_Q5_K: off[0] = 0, off[1] = 2; return 2;
    case LMK_Q6_K: off[0] = 208; return 1;
    case LMK_Q2_K: off[0] = 80, off[1] = 82; return 2;
    case LMK_Q3_K: off[0] = 108; return 1;
    default: off[0] = 0; return 1;
    }
}

/* Random bytes, with every f16 scale set to a finite value in [2^-8, 2^-4) (random sign for d). */
static void fill_random_blocks(lmk_qfmt fmt, uint8_t *q, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    for (int64_t i = 0; i < nb * bb; i++) q[i] = (uint8_t)rng_uniform(0.0f, 256.0f);
    int off[2];
    const int nf = f16_fields(fmt, off);
    for (int64_t b = 0; b < nb; b++)
        for (int f = 0; f < nf; f++) {
            /* exponent 7..10 (2^-8..2^-5), random mantissa; sign only on the first field */
            uint16_t h = (uint16_t)(((uint16_t)rng_uniform(7.0f, 11.0f) << 10) | ((uint16_t)rng_uniform(0.0f, 1024.0f) & 0x3FF));
            if (f == 0 && rng_uniform(0.0f, 1.0f) < 0.5f) h |= 0x8000;
            memcpy(q + b * bb + off[f], &h, 2);
        }
}

static void test_sizes(void) {
    static const int64_t elems[] = {32, 32, 32, 32, 256, 256, 32, 32, 256, 256, 256, 256},
                         bytes[] = {34, 18, 20, 22, 144, 210, 24, 18, 84, 110, 176, 136};
    int ok = 1;
    for (int f = 0; f < N_FORMATS; f++) {
        int64_t rb = -1;
        ok &= lmk_qfmt_valid(FORMATS[f]) && lmk_qblock_elems(FORMATS[f]) == elems[f] &&
              lmk_qblock_bytes(FORMATS[f]) == bytes[f] && lmk_qrow_bytes(FORMATS[f], 4 * elems[f], &rb) == LMK_OK &&
              rb == 4 * bytes[f] && lmk_qrow_bytes(FORMATS[f], elems[f] + 1, &rb) == LMK_ERR_ARG;
    }
    ok &= !lmk_qfmt_valid(0) && !lmk_qfmt_valid(9) && !lmk_qfmt_valid(21) && lmk_qblock_elems((lmk_qfmt)1) == 0 &&
          lmk_qblock_bytes((lmk_qfmt)15) == 0;
    expect_true("quant block sizes", ok);

    float x[64] = {0}, y[64];
    uint8_t q[64 * 4];
    expect_true("quant rejects bad n", lmk_quantize(LMK_Q8_0, x, q, 33) == LMK_ERR_ARG &&
                                           lmk_quantize(LMK_Q4_K, x, q, 64) == LMK_ERR_ARG &&
                                           lmk_dequantize(LMK_Q4_0, q, y, -32) == LMK_ERR_ARG &&
                                           lmk_dequantize_ref((lmk_qfmt)5, q, y, 32) == LMK_ERR_ARG &&
                                           lmk_qmatmul(LMK_Q8_0, x, q, y, 1, 1, 48) == LMK_ERR_ARG &&
                                           lmk_qmatmul_ref(LMK_Q6_K, x, q, y, 1, -1, 256) == LMK_ERR_ARG &&
                                           lmk_qmatmul((lmk_qfmt)99, x, q, y, 1, 1, 32) == LMK_ERR_ARG);
    expect_true("quant: no quantizer for the file-only formats", lmk_quantize(LMK_Q5_1, x, q, 64) == LMK_ERR_UNSUPPORTED &&
                                                                     lmk_quantize(LMK_IQ4_XS, x, q, 256) == LMK_ERR_UNSUPPORTED);
}

static void test_roundtrip(void) {
    const int64_t n = 4096 * 4;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    uint8_t *q = malloc((size_t)n * 2);
    fill_normal(x, n, 1.0f);
    for (int f = 0; f < N_QUANTIZABLE; f++) {
        lmk_quantize(FORMATS[f], x, q, n);
        lmk_dequantize_ref(FORMATS[f], q, y, n);
        double se = 0, sx = 0;
        for (int64_t i = 0; i < n; i++) se += (double)(y[i] - x[i]) * (y[i] - x[i]), sx += (double)x[i] * x[i];
        const double rel = sqrt(se / sx);
        char what[96];
        snprintf(what, sizeof what, "quant %s round trip rel_rms=%.4f <= %.3f", NAMES[f], rel, ROUNDTRIP_MAX[f]);
        expect_true(what, rel <= ROUNDTRIP_MAX[f]);
    }
    /* zeros and a constant block survive exactly enough: no NaN from a zero scale */
    float z[256] = {0}, zy[256];
    int finite = 1;
    for (int f = 0; f < N_QUANTIZABLE; f++) {
        lmk_quantize(FORMATS[f], z, q, 256);
        lmk_dequantize_ref(FORMATS[f], q, zy, 256);
        for (int i = 0; i < 256; i++) finite &= zy[i] == 0.0f;
    }
    expect_true("quant zeros round trip to zeros", finite);
    free(x), free(y), free(q);
}

static void test_dequantize(void) {
    for (int f = 0; f < N_FORMATS; f++) {
        const lmk_qfmt fmt = FORMATS[f];
        const int64_t be = lmk_qblock_elems(fmt), bb = lmk_qblock_bytes(fmt);
        for (int s = 0; s < LMK_N_ODD_SIZES; s++) {
            const int64_t nb = LMK_ODD_SIZES[s] > 1000 && be > 32 ? 129 : LMK_ODD_SIZES[s], n = nb * be;
            uint8_t *q = malloc((size_t)(nb * bb));
            float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
            fill_random_blocks(fmt, q, nb);
            lmk_dequantize_ref(fmt, q, want, n);
            FOR_EACH_ISA(isa) {
                char what[64];
                snprintf(what, sizeof what, "dequantize %s nb=%lld", NAMES[f], (long long)nb);
                memset(got, 0xFF, n * sizeof(float));
                expect_true(what, lmk_dequantize(fmt, q, got, n) == LMK_OK);
                expect_equal_bytes(what, got, want, (size_t)n * sizeof(float));
            }
            free(q), free(want), free(got);
        }
    }
}

/* One qmatmul case on every ISA: against the float reference (QMM_REF_TOL) and against the
 * scalar ISA's generic int8 path (QMM_GENERIC_TOL). */
static void check_qmatmul(lmk_qfmt fmt, const char *name, int64_t M, int64_t N, int64_t K, int random_bytes) {
    int64_t rb;
    lmk_qrow_bytes(fmt, K, &rb);
    float *a = malloc(M * K * sizeof(float)), *w = malloc(N * K * sizeof(float));
    float *want = malloc(M * N * sizeof(float)), *gen = malloc(M * N * sizeof(float)),
          *got = malloc(M * N * sizeof(float));
    uint8_t *q = malloc((size_t)(N * rb));
    fill_normal(a, M * K, 1.0f);
    if (random_bytes) {
        fill_random_blocks(fmt, q, N * K / lmk_qblock_elems(fmt));
    } else {
        fill_normal(w, N * K, 0.5f);
        lmk_quantize(fmt, w, q, N * K);
    }
    lmk_dequantize_ref(fmt, q, w, N * K);
    double sw = 0, sa = 0;
    for (int64_t i = 0; i < N * K; i++) sw += (double)w[i] * w[i];
    for (int64_t i = 0; i < M * K; i++) sa += (double)a[i] * a[i];
    const double scale = sqrt((double)K) * sqrt(sw / (N * K)) * sqrt(sa / (M * K));

    lmk_qmatmul_ref(fmt, a, q, want, M, N, K);
    lmk_isa_set(LMK_ISA_SCALAR);
    lmk_qmatmul(fmt, a, q, gen, M, N, K);
    lmk_isa_set(lmk_isa_best());
    char what[96];
    FOR_EACH_ISA(isa) {
        memset(got, 0xFF, M * N * sizeof(float));
        snprintf(what, sizeof what, "qmatmul %s%s M=%lld N=%lld K=%lld vs ref", name, random_bytes ? " (random)" : "",
                 (long long)M, (long long)N, (long long)K);
        expect_true(what, lmk_qmatmul(fmt, a, q, got, M, N, K) == LMK_OK);
        expect_close(what, got, want, M * N, QMM_REF_TOL * scale, 0.0);
        if (isa != LMK_ISA_SCALAR) {
            snprintf(what, sizeof what, "qmatmul %s M=%lld N=%lld K=%lld vs generic", name, (long long)M,
                     (long long)N, (long long)K);
            expect_close(what, got, gen, M * N, QMM_GENERIC_TOL * scale, 1e-5);
        }
    }
    free(a), free(w), free(want), free(gen), free(got), free(q);
}

static void test_qmatmul(void) {
    static const int64_t Ns[] = {1, 3, 17, 129}, Kblocks[] = {1, 3, 17};
    for (int f = 0; f < N_FORMATS; f++) {
        const int64_t be = lmk_qblock_elems(FORMATS[f]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                check_qmatmul(FORMATS[f], NAMES[f], i % 2 ? 3 : 1, Ns[i], Kblocks[j] * be, f >= N_QUANTIZABLE);
        check_qmatmul(FORMATS[f], NAMES[f], 2, 17, 16 * be, 1);
        check_qmatmul(FORMATS[f], NAMES[f], 6, 37, 5 * be, 1);  /* prefill tiles: 4 + 2 activation rows */
        check_qmatmul(FORMATS[f], NAMES[f], 1, 129, 4096, 1);
    }
}

/* The kernel tables this CPU can run: every SIMD ISA's (AVX-512 both with VNNI and without),
 * else the generic one. */
static int kernel_tables(lmk_qfmt fmt, lmk_qkernels out[3], const char *names[3]) {
    int n = 0;
#if LMK_X86
    if (lmk_isa_supported(LMK_ISA_AVX2)) names[n] = "avx2", out[n++] = lmk_qkernels_avx2(fmt);
    if (lmk_isa_supported(LMK_ISA_AVX512)) {
        names[n] = "avx512", out[n++] = lmk_qkernels_avx512(fmt);
        if (lmk_cpu_avx512vnni()) names[n] = "avx512vnni", out[n++] = lmk_qkernels_avx512vnni(fmt);
    }
#elif LMK_ARM
    names[n] = "neon", out[n++] = lmk_qkernels_neon(fmt);
#endif
    if (!n) names[n] = "generic", out[n++] = lmk_qkernels_generic(fmt);
    return n;
}

/* Bits that must not move: one output is the same float whether it was computed in a full tile,
 * alone (M = N = 1), on 1 or 3 threads, or with the ISA's activation quantizer or the generic
 * one; and AVX-512 gives the same bits with VNNI as without. */
static void check_qmatmul_bits(lmk_qfmt fmt, const char *name, int64_t M, int64_t N, int64_t K) {
    int64_t rb;
    lmk_qrow_bytes(fmt, K, &rb);
    float *a = malloc(M * K * sizeof(float)), *want = malloc(M * N * sizeof(float)), *got = malloc(M * N * sizeof(float)),
          *avx512 = malloc(M * N * sizeof(float));
    uint8_t *q = malloc((size_t)(N * rb));
    fill_normal(a, M * K, 1.0f);
    fill_random_blocks(fmt, q, N * K / lmk_qblock_elems(fmt));
    lmk_qkernels ks[3];
    const char *kn[3];
    const int nk = kernel_tables(fmt, ks, kn);
    char what[128];
    for (int t = 0; t < nk; t++) {
        lmk_threads_set(1);
        lmk_qmatmul_with(fmt, a, q, want, M, N, K, ks[t]);
        if (strcmp(kn[t], "avx512") == 0) memcpy(avx512, want, (size_t)(M * N) * sizeof(float));
        if (strcmp(kn[t], "avx512vnni") == 0) {
            snprintf(what, sizeof what, "qmatmul %s M=%lld N=%lld K=%lld: avx512vnni == avx512 bit for bit", name,
                     (long long)M, (long long)N, (long long)K);
            expect_equal_bytes(what, want, avx512, (size_t)(M * N) * sizeof(float));
        }
        lmk_qkernels generic_act = ks[t];
        generic_act.act = NULL;
        lmk_qmatmul_with(fmt, a, q, got, M, N, K, generic_act);
        snprintf(what, sizeof what, "qmatmul %s %s M=%lld N=%lld K=%lld: ISA activations == generic", name, kn[t],
                 (long long)M, (long long)N, (long long)K);
        expect_equal_bytes(what, got, want, (size_t)(M * N) * sizeof(float));
        lmk_threads_set(3);
        memset(got, 0xFF, (size_t)(M * N) * sizeof(float));
        lmk_qmatmul_with(fmt, a, q, got, M, N, K, ks[t]);
        snprintf(what, sizeof what, "qmatmul %s %s M=%lld N=%lld K=%lld: 3 threads == 1", name, kn[t], (long long)M,
                 (long long)N, (long long)K);
        expect_equal_bytes(what, got, want, (size_t)(M * N) * sizeof(float));
        int alone = 1;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                float one;
                lmk_qmatmul_with(fmt, a + m * K, q + n * rb, &one, 1, 1, K, ks[t]);
                alone &= memcmp(&one, &want[m * N + n], sizeof one) == 0;
            }
        snprintf(what, sizeof what, "qmatmul %s %s M=%lld N=%lld K=%lld: each output alone == in its tile", name,
                 kn[t], (long long)M, (long long)N, (long long)K);
        expect_true(what, alone);
    }
    lmk_threads_set(0);
    free(a), free(want), free(got), free(avx512), free(q);
}

static void test_qmatmul_bits(void) {
    static const int64_t Ms[] = {1, 2, 3, 5}, Ns[] = {1, 6, 37}, Kblocks[] = {1, 2, 3, 5, 17};
    for (int f = 0; f < N_FORMATS; f++) {
        const int64_t be = lmk_qblock_elems(FORMATS[f]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 5; k++)
                    if (be == 32 || k < 3) check_qmatmul_bits(FORMATS[f], NAMES[f], Ms[i], Ns[j], Kblocks[k] * be);
        /* big enough that 3 threads split it */
        check_qmatmul_bits(FORMATS[f], NAMES[f], 2, 600, 8 * be);
    }
}

/* x16 layouts: repacking is lossless (unpack gives the file's bytes back); on every ISA the x16
 * qmatmul agrees with the float reference and with the generic int8 path of the file's layout
 * (on the scalar ISA bit for bit: the generic x16 tile runs the same dots in the same order);
 * an output does not depend on how many activation rows share its tile (nor on whether prefill
 * unpacked its values first), nor on the threads. */
static void check_x16(lmk_qfmt fmt, const char *name, int64_t M, int64_t N, int64_t K) {
    int64_t rb;
    lmk_qrow_bytes(fmt, K, &rb);
    float *a = malloc(M * K * sizeof(float)), *want = malloc(M * N * sizeof(float)), *gen = malloc(M * N * sizeof(float)),
          *got = malloc(M * N * sizeof(float)), *one = malloc(N * sizeof(float)), *w = malloc(N * K * sizeof(float));
    uint8_t *q = malloc((size_t)(N * rb)), *x = malloc((size_t)(N * rb)), *back = malloc((size_t)(N * rb));
    fill_normal(a, M * K, 1.0f);
    fill_random_blocks(fmt, q, N * K / lmk_qblock_elems(fmt));
    lmk_dequantize_ref(fmt, q, w, N * K);
    double sw = 0, sa = 0;
    for (int64_t i = 0; i < N * K; i++) sw += (double)w[i] * w[i];
    for (int64_t i = 0; i < M * K; i++) sa += (double)a[i] * a[i];
    const double scale = sqrt((double)K) * sqrt(sw / (N * K)) * sqrt(sa / (M * K));
    char what[128];
    snprintf(what, sizeof what, "x16 %s N=%lld K=%lld: repack, unpack == the file's bytes", name, (long long)N, (long long)K);
    expect_true(what, lmk_qrepack_x16(fmt, q, x, N, K) == LMK_OK && lmk_qunpack_x16(fmt, x, back, N, K) == LMK_OK);
    expect_equal_bytes(what, back, q, (size_t)(N * rb));
    snprintf(what, sizeof what, "x16 %s N=%lld K=%lld: every row looked up == the file's row", name, (long long)N, (long long)K);
    memset(back, 0xAB, (size_t)(N * rb));
    for (int64_t r = 0; r < N; r++) expect_true(what, lmk_qrow_x16(fmt, x, N, K, r, back + r * rb) == LMK_OK);
    expect_equal_bytes(what, back, q, (size_t)(N * rb));
    expect_true("x16 row lookup out of range", lmk_qrow_x16(fmt, x, N, K, N, back) == LMK_ERR_ARG &&
                                                   lmk_qrow_x16(fmt, x, N, K, -1, back) == LMK_ERR_ARG);

    lmk_qmatmul_ref(fmt, a, q, want, M, N, K);
    lmk_isa_set(LMK_ISA_SCALAR);
    lmk_qmatmul(fmt, a, q, gen, M, N, K);
    FOR_EACH_ISA(isa) {
        memset(got, 0xFF, M * N * sizeof(float));
        snprintf(what, sizeof what, "x16 qmatmul %s M=%lld N=%lld K=%lld vs ref", name, (long long)M, (long long)N,
                 (long long)K);
        lmk_threads_set(3);
        expect_true(what, lmk_qmatmul_x16(fmt, a, x, got, M, N, K) == LMK_OK);
        expect_close(what, got, want, M * N, QMM_REF_TOL * scale, 0.0);
        snprintf(what, sizeof what, "x16 qmatmul %s M=%lld N=%lld K=%lld vs generic", name, (long long)M, (long long)N,
                 (long long)K);
        if (isa == LMK_ISA_SCALAR) expect_equal_bytes(what, got, gen, (size_t)(M * N) * sizeof(float));
        else expect_close(what, got, gen, M * N, QMM_GENERIC_TOL * scale, 1e-5);
        lmk_threads_set(1);
        int alone = 1;
        for (int64_t m = 0; m < M; m++) {
            lmk_qmatmul_x16(fmt, a + m * K, x, one, 1, N, K);
            alone &= memcmp(one, got + m * N, (size_t)N * sizeof(float)) == 0;
        }
        snprintf(what, sizeof what, "x16 qmatmul %s M=%lld N=%lld: a row alone, 1 thread == in its tile, 3 threads",
                 name, (long long)M, (long long)N);
        expect_true(what, alone);
    }
    lmk_threads_set(0);
    free(a), free(want), free(gen), free(got), free(one), free(w), free(q), free(x), free(back);
}

static void test_x16(void) {
    static const lmk_qfmt fmts[] = {LMK_Q8_0, LMK_Q4_0, LMK_Q4_1, LMK_Q5_0, LMK_IQ4_NL, LMK_Q2_K,
                                    LMK_Q3_K, LMK_Q4_K, LMK_Q5_K, LMK_Q6_K, LMK_IQ4_XS};
    static const char *const names[] = {"q8_0", "q4_0", "q4_1", "q5_0", "iq4_nl", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_xs"};
    for (int f = 0; f < 11; f++) {
        const int64_t be = lmk_qblock_elems(fmts[f]);
        check_x16(fmts[f], names[f], 1, 16, be);
        check_x16(fmts[f], names[f], 7, 48, 5 * be);   /* tiles of 4 and 3 activation rows */
        check_x16(fmts[f], names[f], 2, 64, be == 32 ? 576 : 3 * be);
        check_x16(fmts[f], names[f], 19, 48, 5 * be);  /* prefill: unpacked once, panels 2 then 1, blocks 2, 2, 1 */
        expect_true("x16 supported", lmk_qx16_supported(fmts[f]));
    }
    uint8_t buf[16 * 210] = {0};
    float a[256] = {0}, c[16];
    expect_true("x16 rejects: formats without it, N % 16, K % the block, unknown formats",
                !lmk_qx16_supported(LMK_Q5_1) && !lmk_qx16_native(LMK_Q5_1) &&
                    lmk_qrepack_x16(LMK_Q5_1, buf, buf, 16, 32) == LMK_ERR_ARG &&
                    lmk_qrepack_x16(LMK_Q8_0, buf, buf, 15, 32) == LMK_ERR_ARG &&
                    lmk_qunpack_x16(LMK_Q8_0, buf, buf, 16, 33) == LMK_ERR_ARG &&
                    lmk_qrepack_x16(LMK_Q6_K, buf, buf, 16, 32) == LMK_ERR_ARG &&
                    lmk_qmatmul_x16(LMK_Q8_0, a, buf, c, 1, 8, 32) == LMK_ERR_ARG &&
                    lmk_qmatmul_x16((lmk_qfmt)99, a, buf, c, 1, 16, 32) == LMK_ERR_ARG);
}

/* Several matrices in one call (lmk_qmatmul_many / _x16_many): every output the bits of its own
 * call, in the file's layout (any row counts) and in x16 (multiples of 16), decode and prefill,
 * on three threads; bad arguments refused. */
static void check_many(lmk_qfmt fmt, const char *name, int x16, int64_t M, int64_t K) {
    const int64_t N[3] = {x16 ? 48 : 40, x16 ? 16 : 7, x16 ? 32 : 33};
    int64_t rb;
    lmk_qrow_bytes(fmt, K, &rb);
    float *a = malloc(M * K * sizeof(float));
    fill_normal(a, M * K, 1.0f);
    uint8_t *q[3], *w[3];
    float *one[3], *got[3];
    for (int i = 0; i < 3; i++) {
        q[i] = malloc((size_t)(N[i] * rb)), w[i] = malloc((size_t)(N[i] * rb));
        one[i] = malloc(M * N[i] * sizeof(float)), got[i] = malloc(M * N[i] * sizeof(float));
        fill_random_blocks(fmt, q[i], N[i] * K / lmk_qblock_elems(fmt));
        if (x16) lmk_qrepack_x16(fmt, q[i], w[i], N[i], K);
        else memcpy(w[i], q[i], (size_t)(N[i] * rb));
    }
    FOR_EACH_ISA(isa) {
        lmk_threads_set(1);
        for (int i = 0; i < 3; i++)
            if (x16) lmk_qmatmul_x16(fmt, a, w[i], one[i], M, N[i], K);
            else lmk_qmatmul(fmt, a, w[i], one[i], M, N[i], K);
        lmk_threads_set(3);
        const void *ws[3] = {w[0], w[1], w[2]};
        const lmk_status st = x16 ? lmk_qmatmul_x16_many(fmt, a, M, K, 3, ws, got, N) : lmk_qmatmul_many(fmt, a, M, K, 3, ws, got, N);
        int same = st == LMK_OK;
        for (int i = 0; i < 3; i++) same &= memcmp(one[i], got[i], (size_t)(M * N[i]) * sizeof(float)) == 0;
        char what[128];
        snprintf(what, sizeof what, "qmatmul_many %s %s M=%lld K=%lld: each matrix == its own call", name,
                 x16 ? "x16" : "rows", (long long)M, (long long)K);
        expect_true(what, same);
    }
    lmk_threads_set(0);
    const void *ws[1] = {w[0]};
    const int64_t odd[1] = {8};
    expect_true("qmatmul_many rejects: no matrices, more than LMK_QMATMUL_MANY, x16 rows % 16",
                lmk_qmatmul_many(fmt, a, M, K, 0, ws, got, N) == LMK_ERR_ARG &&
                    lmk_qmatmul_many(fmt, a, M, K, LMK_QMATMUL_MANY + 1, ws, got, N) == LMK_ERR_ARG &&
                    lmk_qmatmul_x16_many(fmt, a, M, K, 1, ws, got, odd) == LMK_ERR_ARG);
    for (int i = 0; i < 3; i++) free(q[i]), free(w[i]), free(one[i]), free(got[i]);
    free(a);
}

static void test_many(void) {
    static const lmk_qfmt fmts[] = {LMK_Q4_0, LMK_Q8_0, LMK_Q4_K, LMK_Q6_K, LMK_Q3_K};
    static const char *const names[] = {"q4_0", "q8_0", "q4_k", "q6_k", "q3_k"};
    for (int f = 0; f < 5; f++) {
        const int64_t K = 3 * lmk_qblock_elems(fmts[f]);
        for (int x16 = 0; x16 < 2; x16++) {
            check_many(fmts[f], names[f], x16, 1, K);
            check_many(fmts[f], names[f], x16, 19, K);
        }
    }
}

void test_quant(void) {
    test_sizes();
    test_roundtrip();
    test_dequantize();
    test_qmatmul();
    test_qmatmul_bits();
    test_x16();
    test_many();
}
