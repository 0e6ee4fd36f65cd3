/* float32 matmul: c (M, N) = a (M, K) · b (N, K)ᵀ, with b in GGUF's "out × in" weight layout.
 *
 * The SIMD paths share one driver, after BLIS / Goto's GEMM. Per call:
 *
 *   pack a whole, K block by K block, into panels of mr rows    (all threads; a is activations)
 *   threads take units of ≤ nc output columns from a counter:
 *     for pc over K in kc:
 *       pack the unit's b[.., pc..] into panels of nr columns   (kc, unit) → stays in L2
 *       for ir over the a panels:                               one (kc, mr) panel → stays in L1
 *         for jr over the b panels:                             micro-kernel: (mr, nr) of c in registers
 *
 * Packing turns both operands into k-major panels, so the micro-kernel streams contiguous,
 * aligned memory and never gathers; panels are zero-padded to full tiles, so an edge tile runs
 * the same kernel into a small buffer and only its valid part is copied out. Each unit owns
 * whole columns of c, so no two threads write one element, nothing is reduced across threads,
 * and the result does not depend on the thread count. When c is too narrow to split over N,
 * the roles swap: b is packed whole and units are rows of c (at most mc).
 *
 * M == 1 (a decode step) is memory-bound: packing would read b twice, so it takes a GEMV path
 * that streams b once, threaded over N. N == 1 is the same product with a and b swapped.
 *
 * Half-precision weights (f16, bf16) take the same paths: the GEMV kernels widen w in registers,
 * and the GEMM widens each slice of b as it packs it (the packed panels are float32), so the
 * micro-kernels are the float32 ones. */
#include "matmul.h"

/* ---------------------------------------------------------------- reference */

/* Plain triple loop with double accumulation: the products are exact in double and the sum
 * loses far less than any float32 path, so it is the yardstick for every fast path. */
lmk_status lmk_matmul_f32_ref(const float *a, const float *b, float *c, int64_t M, int64_t N, int64_t K) {
    if (!lmk_dims_ok(M, K) || !lmk_dims_ok(N, K) || !lmk_dims_ok(M, N)) return LMK_ERR_ARG;
    if (M * N == 0) return LMK_OK;
    if (!c || (K > 0 && (!a || !b))) return LMK_ERR_ARG;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)a[i * K + k] * (double)b[j * K + k];
            c[i * N + j] = (float)s;
        }
    return LMK_OK;
}

/* ---------------------------------------------------------------- GEMV: M == 1 or N == 1 */

typedef struct {
    const lmk_sgemm_arch *arch;
    const float *x;      /* (K) */
    const float *w;      /* (n, K), or NULL: */
    const uint16_t *wh;  /* (n, K) half bits, read by hk */
    lmk_hgemv_kernel hk;
    float *y;            /* (n) */
    int64_t K;
} gemv_job;

static void gemv_task(void *ctx, int64_t begin, int64_t end) {
    const gemv_job *j = ctx;
    if (j->hk) j->hk(j->x, j->wh + begin * j->K, j->y + begin, end - begin, j->K);
    else j->arch->gemv(j->x, j->w + begin * j->K, j->y + begin, end - begin, j->K);
}

/* w (n, K) is float32 (wh == NULL) or half bits of type ht */
static void gemv(const lmk_sgemm_arch *arch, const float *x, const float *w, const uint16_t *wh, lmk_half ht,
                 float *y, int64_t n, int64_t K) {
    gemv_job job = {arch, x, w, wh, wh ? (ht == LMK_HALF_F16 ? arch->gemv_f16 : arch->gemv_bf16) : NULL, y, K};
    /* A chunk gets at least ~512K multiply-adds (2 MiB of w, tens of µs): waking a worker costs
     * µs on an idle machine but can cost far more on a busy one (measured: a 576 × 576 GEMV took
     * 25 µs on one thread and ~370 µs on two while other processes loaded both cores). */
    int64_t grain = LMK_MAX((int64_t)16, ((int64_t)1 << 19) / LMK_MAX(K, (int64_t)1));
    lmk_parallel_for(n, grain, gemv_task, &job);
}

/* ---------------------------------------------------------------- blocked GEMM */

/* The portable packer (see lmk_sgemm_pack): k outer, so the writes are contiguous. */
static void pack_portable(const float *src, int64_t ld, int64_t rows, int64_t kc, int r, float *dst) {
    for (int64_t p0 = 0; p0 < rows; p0 += r, dst += r * kc) {
        const int64_t pr = LMK_MIN((int64_t)r, rows - p0);
        const float *s = src + p0 * ld;
        for (int64_t k = 0; k < kc; k++) {
            for (int64_t i = 0; i < pr; i++) dst[k * r + i] = s[i * ld + k];
            for (int64_t i = pr; i < r; i++) dst[k * r + i] = 0.0f;
        }
    }
}

static void pack_panels(const lmk_sgemm_arch *ar, const float *src, int64_t ld, int64_t rows, int64_t kc, int r,
                        float *dst) {
    (ar->pack ? ar->pack : pack_portable)(src, ld, rows, kc, r, dst);
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static void bf16_to_f32_n(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)x[i] << 16;
        memcpy(y + i, &u, 4);
    }
}

static void widen(lmk_half t, const uint16_t *x, float *y, int64_t n) {
    if (t == LMK_HALF_F16) lmk_f16_to_f32_n(x, y, n);
    else bf16_to_f32_n(x, y, n);
}

/* c (m, n) [+]= A · Bᵀ over one K block, from packed panels:
 *   ap (m rounded up to mr, kc)  mr-row panels
 *   bp (n rounded up to nr, kc)  nr-column panels
 * Each A micro-panel (the broadcast operand) stays in L1 while every B micro-panel of the block
 * (the vector-loaded operand, whole cache lines per load) streams past it from L2 — the order
 * BLIS uses on AVX-512, with the roles of A and B swapped as our c is row-major. */
static void macro_kernel(const lmk_sgemm_arch *ar, int64_t kc, const float *ap, int64_t m, const float *bp, int64_t n,
                         float *c, int64_t ldc, int accumulate) {
    const int mr = ar->mr, nr = ar->nr;
    float edge[LMK_SGEMM_MAX_TILE] __attribute__((aligned(64)));  /* (mr, nr) */
    for (int64_t ir = 0; ir < m; ir += mr) {
        const int64_t mm = LMK_MIN((int64_t)mr, m - ir);
        for (int64_t jr = 0; jr < n; jr += nr) {
            const int64_t nn = LMK_MIN((int64_t)nr, n - jr);
            float *ct = c + ir * ldc + jr;  /* (mm, nn), rows ldc apart */
            if (mm == mr && nn == nr) {
                ar->ukernel(kc, ap + ir * kc, bp + jr * kc, ct, ldc, accumulate);
                continue;
            }
            ar->ukernel(kc, ap + ir * kc, bp + jr * kc, edge, nr, 0);
            for (int64_t i = 0; i < mm; i++)
                for (int64_t q = 0; q < nn; q++)
                    ct[i * ldc + q] = accumulate ? ct[i * ldc + q] + edge[i * nr + q] : edge[i * nr + q];
        }
    }
}

/* One GEMM call, in two hand-offs to the pool (each costs a wake-up, so not one per K block):
 *   1. all threads pack the "shared" operand whole — A when threads split the columns of c,
 *      B when they split its rows — into panels, K block by K block;
 *   2. threads take units of output columns (rows) from a shared counter; for each unit they
 *      pack the matching slice of the other operand one K block at a time and run the macro-kernel.
 * Taking units dynamically keeps both cores busy when one is slowed by another process. */
typedef struct {
    const lmk_sgemm_arch *arch;
    const float *a;        /* (M, K) */
    const float *b;        /* (N, K), or NULL: */
    const uint16_t *bh;    /* (N, K) half bits of type bt, widened as they are packed */
    lmk_half bt;
    float *c;              /* (M, N) */
    int64_t M, N, K;
    int64_t kc_max;        /* K block */
    int split_n;           /* units are columns of c (else rows) */
    int64_t unit;          /* columns (rows) per unit, a multiple of nr (mr) */
    int64_t n_units;
    float *shared;         /* packed shared operand: per K block pc, at pc · shared_rows, (shared_rows, kc) */
    int64_t shared_rows;   /* M (N) rounded up to mr (nr) */
    float *scratch;        /* per-thread slots, each (unit, kc_max) */
    int64_t slot_floats;
    int n_slots;
    int next_slot;         /* atomic: hands each participant its slot */
    int64_t next_unit;     /* atomic: the next unit to take */
} gemm_job;

/* Rows [r0, r0 + rows) × columns [pc, pc + kc) of b into nr-wide panels at dst. Half weights
 * widen nr rows at a time into tmp (nr, kc) first; without tmp, element by element. */
static void pack_b(const gemm_job *j, int64_t r0, int64_t rows, int64_t pc, int64_t kc, float *dst, float *tmp) {
    const lmk_sgemm_arch *ar = j->arch;
    const int r = ar->nr;
    if (!j->bh) {
        pack_panels(ar, j->b + r0 * j->K + pc, j->K, rows, kc, r, dst);
        return;
    }
    for (int64_t p = 0; p < rows; p += r, dst += r * kc) {
        const int64_t pr = LMK_MIN((int64_t)r, rows - p);
        const uint16_t *s = j->bh + (r0 + p) * j->K + pc;
        if (tmp) {
            for (int64_t i = 0; i < pr; i++) widen(j->bt, s + i * j->K, tmp + i * kc, kc);
            pack_panels(ar, tmp, kc, pr, kc, r, dst);
            continue;
        }
        for (int64_t k = 0; k < kc; k++) {
            for (int64_t i = 0; i < pr; i++)
                dst[k * r + i] = j->bt == LMK_HALF_F16 ? lmk_f16_to_f32(s[i * j->K + k]) : lmk_bf16_to_f32(s[i * j->K + k]);
            for (int64_t i = pr; i < r; i++) dst[k * r + i] = 0.0f;
        }
    }
}

static void pack_shared_task(void *ctx, int64_t begin, int64_t end) {
    const gemm_job *j = ctx;
    const int r = j->split_n ? j->arch->mr : j->arch->nr;
    const int64_t rows = j->split_n ? j->M : j->N;
    const int64_t r0 = begin * r, r1 = LMK_MIN(end * r, rows);
    for (int64_t pc = 0; pc < j->K; pc += j->kc_max) {
        const int64_t kc = LMK_MIN(j->kc_max, j->K - pc);
        float *dst = j->shared + pc * j->shared_rows + r0 * kc;
        if (j->split_n) pack_panels(j->arch, j->a + r0 * j->K + pc, j->K, r1 - r0, kc, r, dst);
        else pack_b(j, r0, r1 - r0, pc, kc, dst, NULL);  /* rare (c narrower than the threads): no scratch */
    }
}

static void compute_task(void *ctx, int64_t begin, int64_t end) {
    gemm_job *j = ctx;
    const lmk_sgemm_arch *ar = j->arch;
    const int slot = __atomic_fetch_add(&j->next_slot, 1, __ATOMIC_RELAXED);
    if (slot >= j->n_slots) return;  /* the pool grew since the call began: the others take the units */
    float *own = j->scratch + (int64_t)slot * j->slot_floats;
    float *tmp = own + round_up(j->unit * j->kc_max, 16);  /* (nr, kc_max) half weights widened */
    for (;;) {
        const int64_t u = __atomic_fetch_add(&j->next_unit, 1, __ATOMIC_RELAXED);
        if (u >= j->n_units) return;
        const int64_t u0 = u * j->unit, un = LMK_MIN(j->unit, (j->split_n ? j->N : j->M) - u0);
        for (int64_t pc = 0; pc < j->K; pc += j->kc_max) {
            const int64_t kc = LMK_MIN(j->kc_max, j->K - pc);
            const float *sh = j->shared + pc * j->shared_rows;
            if (j->split_n) {  /* columns [u0, u0 + un) of c: pack those rows of b */
                pack_b(j, u0, un, pc, kc, own, tmp);
                macro_kernel(ar, kc, sh, j->M, own, un, j->c + u0, j->N, pc > 0);
            } else {           /* rows [u0, u0 + un) of c: pack those rows of a */
                pack_panels(ar, j->a + u0 * j->K + pc, j->K, un, kc, ar->mr, own);
                macro_kernel(ar, kc, own, un, sh, j->N, j->c + u0 * j->N, j->N, pc > 0);
            }
        }
    }
}

/* Fills in j's blocking for (M, N, K) at `threads`; returns the floats of its packing buffer
 * (the shared operand, then one slot per thread), or -1 beyond what int64_t can count. */
static int64_t gemm_plan(gemm_job *j, const lmk_sgemm_arch *ar, int half, int64_t M, int64_t N, int64_t K,
                         int threads) {
    const int64_t n_tiles = (N + ar->nr - 1) / ar->nr, m_tiles = (M + ar->mr - 1) / ar->mr;
    j->arch = ar, j->M = M, j->N = N, j->K = K;
    j->kc_max = LMK_MIN((int64_t)ar->kc, K);
    /* Split N unless c is too narrow to give every thread a few column units. A (activations)
     * is then the operand packed whole, B (weights, often the larger) only block by block. */
    j->split_n = n_tiles >= 2 * threads || n_tiles >= m_tiles;
    const int r = j->split_n ? ar->nr : ar->mr, r_shared = j->split_n ? ar->mr : ar->nr;
    const int64_t tiles = j->split_n ? n_tiles : m_tiles;
    const int64_t max_tiles = (j->split_n ? ar->nc : ar->mc) / r;  /* keeps a unit's panels in L2 */
    /* about four units per thread, so a slowed thread leaves work for the other */
    j->unit = r * LMK_MAX((int64_t)1, LMK_MIN(max_tiles, (tiles + 4 * threads - 1) / (4 * threads)));
    j->n_units = ((j->split_n ? N : M) + j->unit - 1) / j->unit;
    j->shared_rows = round_up(j->split_n ? M : N, r_shared);
    j->n_slots = threads;
    if (!lmk_dims_ok(j->shared_rows + 16, K) || !lmk_dims_ok(j->unit + ar->nr + 32, j->kc_max) ||
        !lmk_dims_ok(j->n_slots, (j->unit + ar->nr + 32) * j->kc_max))
        return -1;
    /* each region starts on a 64-byte boundary: the micro-kernels load B panels aligned */
    j->slot_floats = round_up(j->unit * j->kc_max, 16) + (half ? round_up((int64_t)ar->nr * j->kc_max, 16) : 0);
    return round_up(j->shared_rows * K, 16) + j->n_slots * j->slot_floats;
}

/* Below ~2M multiply-adds a second thread costs more to wake than it saves. */
static int gemm_threads(int64_t M, int64_t N, int64_t K) { return M * N * K < ((int64_t)1 << 21) ? 1 : lmk_threads_get(); }

static lmk_status gemm(const lmk_sgemm_arch *ar, const float *a, const float *b, const uint16_t *bh, lmk_half bt,
                       float *c, int64_t M, int64_t N, int64_t K) {
    const int threads = gemm_threads(M, N, K);
    gemm_job j = {.a = a, .b = b, .bh = bh, .bt = bt, .c = c};
    const int64_t floats = gemm_plan(&j, ar, bh != NULL, M, N, K, threads);
    if (floats < 0) return LMK_ERR_NOMEM;  /* scratch beyond what int64_t can count: no allocation could hold it */
    float *buf = lmk_tmp(floats * (int64_t)sizeof(float));
    if (!buf) return LMK_ERR_NOMEM;
    j.shared = buf;
    j.scratch = buf + round_up(j.shared_rows * K, 16);
    const int r_shared = j.split_n ? ar->mr : ar->nr;

    const int64_t shared_panels = j.shared_rows / r_shared;
    if (threads > 1) {
        /* packing is memory-bound: hand off only panel sets worth it (~64 KiB) */
        lmk_parallel_for(shared_panels, LMK_MAX((int64_t)1, ((int64_t)1 << 14) / (r_shared * K)), pack_shared_task, &j);
        lmk_parallel_for(LMK_MIN((int64_t)threads, j.n_units), 1, compute_task, &j);
    } else {
        pack_shared_task(&j, 0, shared_panels);
        compute_task(&j, 0, 1);
    }
    lmk_tmp_free(buf);
    return LMK_OK;
}

/* ---------------------------------------------------------------- dispatch */

lmk_status lmk_matmul_f32(const float *a, const float *b, float *c, int64_t M, int64_t N, int64_t K) {
    if (!lmk_dims_ok(M, K) || !lmk_dims_ok(N, K) || !lmk_dims_ok(M, N)) return LMK_ERR_ARG;
    if (M * N == 0) return LMK_OK;
    if (!c || (K > 0 && (!a || !b))) return LMK_ERR_ARG;
    const lmk_sgemm_arch *arch = LMK_SELECT(NULL, &lmk_sgemm_avx2, &lmk_sgemm_avx512, &lmk_sgemm_neon);
    if (!arch) return lmk_matmul_f32_ref(a, b, c, M, N, K);  /* the scalar path is the reference */
    if (K == 0) {
        memset(c, 0, sizeof(float) * (size_t)(M * N));
        return LMK_OK;
    }
    if (M == 1) {
        gemv(arch, a, b, NULL, LMK_HALF_F16, c, N, K);
        return LMK_OK;
    }
    if (N == 1) {  /* c (M, 1): row i is dot(a[i], b[0]), a GEMV over the rows of a */
        gemv(arch, b, a, NULL, LMK_HALF_F16, c, M, K);
        return LMK_OK;
    }
    return gemm(arch, a, b, NULL, LMK_HALF_F16, c, M, N, K);
}

/* ---------------------------------------------------------------- half-precision weights */

int lmk_half_valid(int type) { return type == LMK_HALF_F16 || type == LMK_HALF_BF16; }

float lmk_bf16_to_f32(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

lmk_status lmk_half_to_f32_n(lmk_half type, const uint16_t *x, float *y, int64_t n) {
    if (!lmk_half_valid((int)type) || n < 0 || (n && (!x || !y))) return LMK_ERR_ARG;
    if (n) widen(type, x, y, n);
    return LMK_OK;
}

static int half_args_ok(lmk_half type, const float *a, const uint16_t *b, const float *c, int64_t M, int64_t N,
                        int64_t K) {
    if (!lmk_half_valid((int)type) || !lmk_dims_ok(M, K) || !lmk_dims_ok(N, K) || !lmk_dims_ok(M, N)) return 0;
    return M * N == 0 || (c && (K == 0 || (a && b)));
}

/* Each weight row widened exactly, then dotted in double as lmk_matmul_f32_ref does. */
lmk_status lmk_matmul_half_ref(lmk_half type, const float *a, const uint16_t *b, float *c, int64_t M, int64_t N,
                               int64_t K) {
    if (!half_args_ok(type, a, b, c, M, N, K)) return LMK_ERR_ARG;
    if (M * N == 0) return LMK_OK;
    float *row = lmk_tmp(K * (int64_t)sizeof(float));  /* (K) one weight row */
    if (!row) return LMK_ERR_NOMEM;
    for (int64_t j = 0; j < N; j++) {
        for (int64_t k = 0; k < K; k++)
            row[k] = type == LMK_HALF_F16 ? lmk_f16_to_f32(b[j * K + k]) : lmk_bf16_to_f32(b[j * K + k]);
        for (int64_t i = 0; i < M; i++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)a[i * K + k] * (double)row[k];
            c[i * N + j] = (float)s;
        }
    }
    lmk_tmp_free(row);
    return LMK_OK;
}

#if LMK_X86
/* Whether a BF16 GEMM (M, N > 1) runs on BF16 dot products: AVX-512 with AVX512_BF16 active, and
 * weight rows that are whole 32-bit pairs (K even, b 4-byte aligned). Activations are then
 * rounded to BF16, as llama.cpp rounds them for BF16 weights. */
static int bf16_dot(lmk_half type, const uint16_t *b, int64_t K) {
    return type == LMK_HALF_BF16 && K % 2 == 0 && (uintptr_t)b % 4 == 0 && lmk_isa_active() == LMK_ISA_AVX512 &&
           lmk_cpu_avx512bf16();
}
#endif

lmk_status lmk_matmul_half(lmk_half type, const float *a, const uint16_t *b, float *c, int64_t M, int64_t N,
                           int64_t K) {
    if (!half_args_ok(type, a, b, c, M, N, K)) return LMK_ERR_ARG;
    if (M * N == 0) return LMK_OK;
    const lmk_sgemm_arch *arch = LMK_SELECT(NULL, &lmk_sgemm_avx2, &lmk_sgemm_avx512, &lmk_sgemm_neon);
    if (!arch) return lmk_matmul_half_ref(type, a, b, c, M, N, K);
    if (K == 0) {
        memset(c, 0, sizeof(float) * (size_t)(M * N));
        return LMK_OK;
    }
    if (M == 1) {
        gemv(arch, a, NULL, b, type, c, N, K);
        return LMK_OK;
    }
    if (N == 1) {  /* one weight row, widened once: a float32 GEMV over the rows of a */
        float *row = lmk_tmp(K * (int64_t)sizeof(float));  /* (K) */
        if (!row) return LMK_ERR_NOMEM;
        widen(type, b, row, K);
        gemv(arch, row, a, NULL, type, c, M, K);
        lmk_tmp_free(row);
        return LMK_OK;
    }
#if LMK_X86
    if (bf16_dot(type, b, K)) {  /* the float GEMM over pairs: a rounded into pairs, b's rows as they are */
        uint32_t *pairs = lmk_tmp(M * (K / 2) * (int64_t)sizeof(uint32_t));
        if (!pairs) return LMK_ERR_NOMEM;
        lmk_bf16_pairs(a, pairs, M, K);
        const lmk_status s = gemm(&lmk_sgemm_avx512bf16, (const float *)pairs, (const float *)(const void *)b, NULL,
                                  type, c, M, N, K / 2);
        lmk_tmp_free(pairs);
        return s;
    }
#endif
    return gemm(arch, a, NULL, b, type, c, M, N, K);
}

/* ---------------------------------------------------------------- temporaries */

int64_t lmk_matmul_tmp_bytes(int type, int64_t M, int64_t N, int64_t K) {
    const int half = lmk_half_valid(type);
    if ((!half && type != 0) || !lmk_dims_ok(M, K) || !lmk_dims_ok(N, K) || !lmk_dims_ok(M, N)) return -1;
    if (M * N == 0) return 0;
    const int64_t row = half ? lmk_tmp_room(K * (int64_t)sizeof(float)) : 0;  /* one widened weight row */
    const lmk_sgemm_arch *arch = LMK_SELECT(NULL, &lmk_sgemm_avx2, &lmk_sgemm_avx512, &lmk_sgemm_neon);
    if (!arch) return row;
    if (K == 0 || M == 1) return 0;
    if (N == 1) return row;
    gemm_job j = {0};
#if LMK_X86
    if (bf16_dot((lmk_half)type, NULL, K)) {  /* an aligned b (the engine's are): the pairs, then the GEMM's */
        const int64_t floats = gemm_plan(&j, &lmk_sgemm_avx512bf16, 0, M, N, K / 2, gemm_threads(M, N, K / 2));
        return floats < 0 ? -1 : lmk_tmp_room(M * (K / 2) * (int64_t)sizeof(uint32_t)) +
                                     lmk_tmp_room(floats * (int64_t)sizeof(float));
    }
#endif
    const int64_t floats = gemm_plan(&j, arch, half, M, N, K, gemm_threads(M, N, K));
    return floats < 0 ? -1 : lmk_tmp_room(floats * (int64_t)sizeof(float));
}
