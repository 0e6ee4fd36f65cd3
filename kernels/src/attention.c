/* Attention: a plain reference and a flash-attention driver.
 *
 * The driver walks keys in tiles of LMK_ATTN_TILE with an online softmax (running max m and sum
 * l per query row; the accumulator is rescaled by exp(m_old - m_new) when the max grows), so the
 * (T, S) score matrix never exists: scratch per thread is a few tiles, whatever S is.
 *
 * Work is split over (KV head × block of query positions); the query heads sharing a KV head
 * (GQA) are processed together, so each K/V tile is converted to float32 once for all of them.
 *
 * A query row's result depends on its own keys only, never on the batch it came in: tiles sit at
 * absolute key positions (multiples of LMK_ATTN_TILE), and the keys are taken in segments of
 * LMK_ATTN_SEG_TILES tiles at absolute positions too, each segment's online softmax starting
 * afresh and the segments folded in order by one function (fold). A row then sums the same
 * numbers in the same order whether it is one of 64 rows of a prefill block or a decode step on
 * its own, and the engine's prefix cache can reuse K/V computed either way bit for bit. When the
 * blocks are too few to keep the threads busy (decode: T = 1 with few KV heads), each segment is
 * an item of its own and the same fold combines them at the end (flash-decoding) — the same
 * numbers again.
 *
 * Argument rules (both paths): H, Hkv, D >= 1, H % Hkv == 0, kv_stride 0 or >= Hkv * D,
 * window >= 0, and when causal T <= S (query rows sit at S - T .. S - 1; a longer T would put
 * rows before the first key). A query row that sees no key (only possible when S == 0) gets zeros. */
#include "attention.h"

#include "fp8.h"

/* ---------------------------------------------------------------- arguments */

static lmk_status check_params(const float *q, const void *k, const void *v, const float *out,
                               const lmk_attn_params *p, int64_t *stride) {
    if (!p) return LMK_ERR_ARG;
    if (p->T < 0 || p->S < 0 || p->H < 1 || p->Hkv < 1 || p->D < 1 || p->H % p->Hkv != 0) return LMK_ERR_ARG;
    if (p->window < 0 || p->kv_stride < 0 || (p->causal && p->T > p->S)) return LMK_ERR_ARG;
    if (!isfinite(p->softcap) || p->softcap < 0) return LMK_ERR_ARG;
    if (p->kv_dtype != LMK_KV_F32 && p->kv_dtype != LMK_KV_F16 && p->kv_dtype != LMK_KV_FP8) return LMK_ERR_ARG;
    if (!lmk_dims_ok(p->T, p->H) || !lmk_dims_ok(p->T * p->H, p->D) || !lmk_dims_ok(p->Hkv, p->D)) return LMK_ERR_ARG;
    *stride = p->kv_stride ? p->kv_stride : p->Hkv * p->D;
    if (*stride < p->Hkv * p->D || !lmk_dims_ok(p->S, *stride) || !lmk_dims_ok(p->S * *stride, 4)) return LMK_ERR_ARG;
    if (p->T > 0 && (!q || !out)) return LMK_ERR_ARG;
    if (p->T > 0 && p->S > 0 && (!k || !v)) return LMK_ERR_ARG;
    return LMK_OK;
}

/* The visible keys of query position pos: [lo, hi] (empty when lo > hi). */
static void visible_range(const lmk_attn_params *p, int64_t pos, int64_t *lo, int64_t *hi) {
    *hi = p->causal ? LMK_MIN(pos, p->S - 1) : p->S - 1;
    *lo = p->window > 0 ? LMK_MAX(0, pos - p->window + 1) : 0;
}

/* ---------------------------------------------------------------- reference */

static double kv_value(const void *base, lmk_kv_dtype dt, int64_t i) {
    if (dt == LMK_KV_F32) return ((const float *)base)[i];
    if (dt == LMK_KV_F16) return lmk_f16_to_f32(((const uint16_t *)base)[i]);
    float f;
    lmk_fp8_to_f32_ref((const uint8_t *)base + i, &f, 1);
    return f;
}

/* The rule of lmk.h, key by key (the driver works with ranges instead). */
static int visible(const lmk_attn_params *p, int64_t pos, int64_t j) {
    if (p->causal && j > pos) return 0;
    if (p->window > 0 && pos - j >= p->window) return 0;
    return 1;
}

/* Each row: scores over its visible keys in double, softmax, weighted sum. */
lmk_status lmk_attention_ref(const float *q, const void *k, const void *v, float *out, const lmk_attn_params *p) {
    int64_t stride;
    lmk_status st = check_params(q, k, v, out, p, &stride);
    if (st != LMK_OK || p->T == 0) return st;
    const int64_t T = p->T, S = p->S, H = p->H, D = p->D, group = p->H / p->Hkv;
    double *w = lmk_alloc((size_t)LMK_MAX(S, 1) * sizeof *w);   /* (S) one row's weights */
    double *o = lmk_alloc((size_t)D * sizeof *o);                /* (D) */
    if (!w || !o) {
        lmk_free(w), lmk_free(o);
        return LMK_ERR_NOMEM;
    }
    for (int64_t t = 0; t < T; t++) {
        const int64_t pos = S - T + t;
        for (int64_t h = 0; h < H; h++) {
            const float *qr = q + (t * H + h) * D;
            const int64_t kv_off = (h / group) * D;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < S; j++) {
                if (!visible(p, pos, j)) continue;
                double dot = 0;
                for (int64_t d = 0; d < D; d++) dot += (double)qr[d] * kv_value(k, p->kv_dtype, j * stride + kv_off + d);
                w[j] = dot * p->scale;
                if (p->softcap > 0) w[j] = p->softcap * tanh(w[j] / p->softcap);
                mx = w[j] > mx ? w[j] : mx;
            }
            for (int64_t d = 0; d < D; d++) o[d] = 0;
            for (int64_t j = 0; j < S; j++) {
                if (!visible(p, pos, j)) continue;
                double e = exp(w[j] - mx);
                sum += e;
                for (int64_t d = 0; d < D; d++) o[d] += e * kv_value(v, p->kv_dtype, j * stride + kv_off + d);
            }
            float *orow = out + (t * H + h) * D;
            for (int64_t d = 0; d < D; d++) orow[d] = sum > 0 ? (float)(o[d] / sum) : 0.0f;
        }
    }
    lmk_free(w), lmk_free(o);
    return LMK_OK;
}

/* ---------------------------------------------------------------- generic tile kernels */

/* The scalar twin of the arch kernels (the "scalar" ISA runs these through the same driver). */
static void scores_generic(const float *q, int64_t R, int64_t Dp, const float *k, int64_t ldk, int64_t n, float *s) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < n; j++) {
            float dot = 0;
            for (int64_t d = 0; d < Dp; d++) dot += q[r * Dp + d] * k[j * ldk + d];
            s[r * LMK_ATTN_TILE + j] = dot;
        }
}

static void online_generic(float *s, int64_t R, int64_t npad, float *m, float *l, float *corr) {
    for (int64_t r = 0; r < R; r++) {
        float *row = s + r * LMK_ATTN_TILE;
        float mt = -INFINITY, sum = 0;
        for (int64_t j = 0; j < npad; j++) mt = row[j] > mt ? row[j] : mt;
        if (mt == -INFINITY) {   /* nothing visible in this tile */
            corr[r] = 1;
            for (int64_t j = 0; j < npad; j++) row[j] = 0;
            continue;
        }
        float mn = LMK_MAX(m[r], mt);
        corr[r] = expf(m[r] - mn);
        for (int64_t j = 0; j < npad; j++) sum += (row[j] = expf(row[j] - mn));
        l[r] = l[r] * corr[r] + sum;
        m[r] = mn;
    }
}

static void pv_generic(const float *s, int64_t R, const float *v, int64_t ldv, int64_t n, int64_t Dp,
                       const float *corr, float *acc) {
    for (int64_t r = 0; r < R; r++) {
        float *a = acc + r * Dp;
        for (int64_t d = 0; d < Dp; d++) a[d] *= corr[r];
        for (int64_t j = 0; j < n; j++) {
            float pj = s[r * LMK_ATTN_TILE + j];
            for (int64_t d = 0; d < Dp; d++) a[d] += pj * v[j * ldv + d];
        }
    }
}

static const lmk_attn_kernels kernels_generic = {scores_generic, online_generic, pv_generic};

/* ---------------------------------------------------------------- flash driver */

typedef struct {
    const float *q;
    const void *k, *v;
    float *out;
    const lmk_attn_params *p;
    const lmk_attn_kernels *kern;
    const lmk_fp8_paths *conv;
    int64_t stride, group, Dp;
    int64_t tq;          /* query positions per block */
    int64_t n_qblocks, n_splits;   /* n_splits > 1: one item per key segment, seg0 the first */
    int64_t seg0;
    float *partial;      /* (items, R, Dp + 2) when n_splits > 1: acc, then m and l */
    float *slots;        /* per participant, slot_floats each: its scratch_t */
    int64_t slot_floats;
    int n_slots;
    int next_slot;       /* atomic: hands each participant its slot */
    lmk_status status;   /* LMK_ERR_NOMEM if any task could not get scratch */
} job_t;

/* Item i -> (KV head, query block, key split). Query blocks are visited zig-zag (0, last, 1,
 * last - 1, ...) so that each thread's contiguous chunk mixes cheap early causal blocks with
 * expensive late ones. */
static void item_coords(const job_t *job, int64_t i, int64_t *g, int64_t *qb, int64_t *sp) {
    *sp = i % job->n_splits;
    i /= job->n_splits;
    int64_t z = i % job->n_qblocks, nb = job->n_qblocks;
    *qb = (z % 2 == 0) ? z / 2 : nb - 1 - z / 2;
    *g = i / job->n_qblocks;
}

/* Rows n of K or V at key j0 as float32 rows of Dp (zero beyond D), or the source itself when it
 * is float32 already and needs no padding. Returns the rows and sets *ld to their stride. */
static const float *load_rows(const job_t *job, const void *src, int64_t g, int64_t j0, int64_t n, float *buf,
                              int64_t *ld) {
    const lmk_attn_params *p = job->p;
    const int64_t D = p->D, Dp = job->Dp;
    int64_t first = j0 * job->stride + g * D;
    if (p->kv_dtype == LMK_KV_F32 && D == Dp) {
        *ld = job->stride;
        return (const float *)src + first;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t off = first + j * job->stride;
        float *row = buf + j * Dp;
        if (p->kv_dtype == LMK_KV_F32) memcpy(row, (const float *)src + off, (size_t)D * sizeof *row);
        else if (p->kv_dtype == LMK_KV_F16) job->conv->f16_to_f32((const uint16_t *)src + off, row, D);
        else job->conv->fp8_to_f32((const uint8_t *)src + off, row, D);
    }
    *ld = Dp;
    return buf;
}

typedef struct {
    float *qs, *acc, *s, *kbuf, *vbuf, *m, *l, *corr;
    float *tacc, *tm, *tl;   /* the rows' totals over the segments folded so far */
} scratch_t;

/* Keys per segment: the unit of a row's key order (and of flash-decoding's split) */
#define LMK_ATTN_SEG_TILES 8
#define LMK_ATTN_SEG (LMK_ATTN_SEG_TILES * LMK_ATTN_TILE)
/* flash-decoding keeps one partial state per segment: up to this many (32K keys), beyond which
 * the blocks run whole (the same numbers, fewer threads) */
#define LMK_ATTN_MAX_SPLITS 64

/* A row's total (tacc (Dp), *tm, *tl) with one segment's state (acc, m, l) folded in; a segment
 * that showed the row nothing (m = -inf) leaves it as it was. Both paths fold through here. */
static void fold(float *tacc, float *tm, float *tl, const float *acc, float m, float l, int64_t Dp) {
    if (m == -INFINITY) return;
    if (*tm == -INFINITY) {
        memcpy(tacc, acc, (size_t)Dp * sizeof *tacc);
        *tm = m, *tl = l;
        return;
    }
    const float M = LMK_MAX(*tm, m), a = expf(*tm - M), b = expf(m - M);
    for (int64_t d = 0; d < Dp; d++) tacc[d] = tacc[d] * a + acc[d] * b;
    *tl = *tl * a + l * b;
    *tm = M;
}

/* dst (D) = a row's total, normalised; zeros for a row that saw no key. */
static void finish(float *dst, const float *tacc, float tl, int64_t D) {
    const float inv = tl > 0 ? 1.0f / tl : 0.0f;
    for (int64_t d = 0; d < D; d++) dst[d] = tacc[d] * inv;
}

/* One key segment of a block's rows: acc, m and l (fresh) over the tiles of segment seg that fall
 * in [kmin, kmax]. */
static void run_segment(const job_t *job, const scratch_t *w, int64_t g, int64_t t0, int64_t R, int64_t kmin,
                        int64_t kmax, int64_t seg, int64_t lo_last, int64_t hi_first) {
    const lmk_attn_params *p = job->p;
    const int64_t T = p->T, S = p->S, G = job->group, Dp = job->Dp;
    for (int64_t r = 0; r < R; r++) {
        memset(w->acc + r * Dp, 0, (size_t)Dp * sizeof *w->acc);
        w->m[r] = -INFINITY;
        w->l[r] = 0;
    }
    const int64_t tile_a = LMK_MAX(kmin / LMK_ATTN_TILE, seg * LMK_ATTN_SEG_TILES);
    const int64_t tile_b = LMK_MIN(kmax / LMK_ATTN_TILE, seg * LMK_ATTN_SEG_TILES + LMK_ATTN_SEG_TILES - 1);
    for (int64_t tile = tile_a; tile <= tile_b; tile++) {
        const int64_t j0 = tile * LMK_ATTN_TILE, n = LMK_MIN(LMK_ATTN_TILE, kmax + 1 - j0);
        const int64_t npad = (n + LMK_ATTN_PAD - 1) / LMK_ATTN_PAD * LMK_ATTN_PAD;
        int64_t ldk, ldv;
        const float *kt = load_rows(job, job->k, g, j0, n, w->kbuf, &ldk);
        job->kern->scores(w->qs, R, Dp, kt, ldk, n, w->s);
        if (p->softcap > 0)
            for (int64_t r = 0; r < R; r++) lmk_softcap(w->s + r * LMK_ATTN_TILE, w->s + r * LMK_ATTN_TILE, n, p->softcap);
        const int all_see = j0 >= lo_last && j0 + n - 1 <= hi_first;
        for (int64_t r = 0; r < R; r++) {
            float *row = w->s + r * LMK_ATTN_TILE;
            for (int64_t j = n; j < npad; j++) row[j] = -INFINITY;
            if (all_see) continue;
            int64_t lo, hi;
            visible_range(p, S - T + t0 + r / G, &lo, &hi);
            for (int64_t j = 0; j < n; j++)
                if (j0 + j < lo || j0 + j > hi) row[j] = -INFINITY;
        }
        job->kern->online(w->s, R, npad, w->m, w->l, w->corr);
        const float *vt = load_rows(job, job->v, g, j0, n, w->vbuf, &ldv);
        job->kern->pv(w->s, R, vt, ldv, n, Dp, w->corr, w->acc);
    }
}

static void run_item(const job_t *job, const scratch_t *w, int64_t item) {
    const lmk_attn_params *p = job->p;
    const int64_t T = p->T, S = p->S, H = p->H, D = p->D, Dp = job->Dp, G = job->group;
    int64_t g, qb, sp;
    item_coords(job, item, &g, &qb, &sp);
    const int64_t t0 = qb * job->tq, t1 = LMK_MIN(T, t0 + job->tq), R = (t1 - t0) * G;

    /* rows r = (t - t0) * G + hh: query head g * G + hh at position S - T + t */
    for (int64_t r = 0; r < R; r++) {
        const float *src = job->q + ((t0 + r / G) * H + g * G + r % G) * D;
        for (int64_t d = 0; d < D; d++) w->qs[r * Dp + d] = src[d] * p->scale;
        for (int64_t d = D; d < Dp; d++) w->qs[r * Dp + d] = 0;
    }

    /* keys any row of the block may see; rows are masked one by one only in edge tiles */
    int64_t lo_first, hi_first, lo_last, hi_last;
    visible_range(p, S - T + t0, &lo_first, &hi_first);
    visible_range(p, S - T + t1 - 1, &lo_last, &hi_last);
    const int64_t kmin = lo_first, kmax = hi_last;

    if (job->n_splits > 1) {   /* this item is one segment: keep its state; merge_splits folds */
        run_segment(job, w, g, t0, R, kmin, kmax, job->seg0 + sp, lo_last, hi_first);
        float *part = job->partial + item * (job->tq * G) * (Dp + 2);
        for (int64_t r = 0; r < R; r++) {
            memcpy(part + r * (Dp + 2), w->acc + r * Dp, (size_t)Dp * sizeof *part);
            part[r * (Dp + 2) + Dp] = w->m[r];
            part[r * (Dp + 2) + Dp + 1] = w->l[r];
        }
        return;
    }
    for (int64_t r = 0; r < R; r++) w->tm[r] = -INFINITY, w->tl[r] = 0;
    if (kmax >= kmin)
        for (int64_t seg = kmin / LMK_ATTN_SEG; seg <= kmax / LMK_ATTN_SEG; seg++) {
            run_segment(job, w, g, t0, R, kmin, kmax, seg, lo_last, hi_first);
            for (int64_t r = 0; r < R; r++)
                fold(w->tacc + r * Dp, &w->tm[r], &w->tl[r], w->acc + r * Dp, w->m[r], w->l[r], Dp);
        }
    for (int64_t r = 0; r < R; r++)
        finish(job->out + ((t0 + r / G) * H + g * G + r % G) * D, w->tacc + r * Dp, w->tl[r], D);
}

/* Floats of one participant's scratch_t. Float32 K/V without padding is read in place;
 * otherwise tiles are converted into buffers. */
static int64_t kv_buf_floats(const job_t *job) {
    return job->p->kv_dtype == LMK_KV_F32 && job->p->D == job->Dp ? 0 : LMK_ATTN_TILE * job->Dp;
}

static void attention_task(void *ctx, int64_t begin, int64_t end) {
    job_t *job = ctx;
    const int64_t R = job->tq * job->group, Dp = job->Dp, kv_buf = kv_buf_floats(job);
    /* a slot of the call's scratch; a participant beyond them (the pool grew since the call
     * began) takes its own */
    const int slot = __atomic_fetch_add(&job->next_slot, 1, __ATOMIC_RELAXED);
    float *mem = slot < job->n_slots ? job->slots + slot * job->slot_floats
                                     : lmk_alloc((size_t)job->slot_floats * sizeof *mem);
    if (!mem) {
        __atomic_store_n(&job->status, LMK_ERR_NOMEM, __ATOMIC_RELAXED);
        return;
    }
    memset(mem + 2 * R * Dp + R * LMK_ATTN_TILE, 0, (size_t)(2 * kv_buf) * sizeof *mem);   /* padding columns */
    scratch_t w;
    w.qs = mem;                                /* (R, Dp) */
    w.acc = w.qs + R * Dp;                     /* (R, Dp) */
    w.s = w.acc + R * Dp;                      /* (R, TILE) */
    w.kbuf = w.s + R * LMK_ATTN_TILE;          /* (TILE, Dp) when converting */
    w.vbuf = w.kbuf + kv_buf;                  /* (TILE, Dp) when converting */
    w.m = w.vbuf + kv_buf;                     /* (R) */
    w.l = w.m + R;                             /* (R) */
    w.corr = w.l + R;                          /* (R) */
    w.tacc = w.corr + R;                       /* (R, Dp) */
    w.tm = w.tacc + R * Dp;                    /* (R) */
    w.tl = w.tm + R;                           /* (R) */
    for (int64_t i = begin; i < end; i++) run_item(job, &w, i);
    if (slot >= job->n_slots) lmk_free(mem);
}

/* Folds the segments of each (KV head, query block), in order, into its rows' outputs. */
static void merge_splits(const job_t *job) {
    const lmk_attn_params *p = job->p;
    const int64_t G = job->group, Dp = job->Dp, D = p->D, Rmax = job->tq * G;
    float *tacc = job->slots;   /* (Dp): the participants' scratch is free again */
    for (int64_t g = 0; g < p->Hkv; g++)
        for (int64_t qb = 0; qb < job->n_qblocks; qb++) {
            const int64_t t0 = qb * job->tq, t1 = LMK_MIN(p->T, t0 + job->tq), R = (t1 - t0) * G;
            /* items of this block: consecutive splits at the block's zig-zag slot */
            int64_t z = qb < (job->n_qblocks + 1) / 2 ? 2 * qb : 2 * (job->n_qblocks - 1 - qb) + 1;
            const float *part = job->partial + (g * job->n_qblocks + z) * job->n_splits * Rmax * (Dp + 2);
            for (int64_t r = 0; r < R; r++) {
                float tm = -INFINITY, tl = 0;
                for (int64_t s = 0; s < job->n_splits; s++) {
                    const float *ps = part + (s * Rmax + r) * (Dp + 2);
                    fold(tacc, &tm, &tl, ps, ps[Dp], ps[Dp + 1], Dp);
                }
                finish(job->out + ((t0 + r / G) * p->H + g * G + r % G) * D, tacc, tl, D);
            }
        }
}

/* Fills in the job's blocking and key splits for p at `threads`; returns its items (KV head ×
 * query block pairs). */
static int64_t attention_plan(job_t *job, const lmk_attn_params *p, int64_t threads) {
    job->group = p->H / p->Hkv;
    job->Dp = (p->D + LMK_ATTN_PAD - 1) / LMK_ATTN_PAD * LMK_ATTN_PAD;
    /* About 64 rows per block: each converted K/V tile then serves 64 query rows. */
    job->tq = LMK_MIN(p->T, LMK_MAX(1, 64 / job->group));
    job->n_qblocks = (p->T + job->tq - 1) / job->tq;
    job->n_splits = 1;
    const int64_t items = p->Hkv * job->n_qblocks;
    if (threads > 1 && items < 2 * threads && p->S > 0) {
        /* flash-decoding: one item per segment any row sees (from the first row's first key) */
        int64_t lo, hi;
        visible_range(p, p->S - p->T, &lo, &hi);
        job->seg0 = lo / LMK_ATTN_SEG;
        const int64_t segs = (p->S - 1) / LMK_ATTN_SEG - job->seg0 + 1;
        if (segs <= LMK_ATTN_MAX_SPLITS) job->n_splits = segs;
    }
    /* lmk_parallel_for runs at most one chunk per thread: one slot each */
    const int64_t R = job->tq * job->group;
    job->n_slots = (int)LMK_MIN(threads, items * job->n_splits);
    job->slot_floats = (3 * R * job->Dp + R * LMK_ATTN_TILE + 2 * kv_buf_floats(job) + 5 * R + 15) / 16 * 16;
    return items;
}

/* Bytes of the call's scratch: the participants' slots, then the splits' partial states. */
static int64_t attention_tmp_bytes(const job_t *job, int64_t items) {
    const int64_t partial = job->n_splits > 1 ? items * job->n_splits * job->tq * job->group * (job->Dp + 2) : 0;
    return lmk_tmp_room((job->n_slots * job->slot_floats + partial) * (int64_t)sizeof(float));
}

lmk_status lmk_attention(const float *q, const void *k, const void *v, float *out, const lmk_attn_params *p) {
    int64_t stride;
    lmk_status st = check_params(q, k, v, out, p, &stride);
    if (st != LMK_OK || p->T == 0) return st;

    job_t job;
    memset(&job, 0, sizeof job);
    job.q = q, job.k = k, job.v = v, job.out = out, job.p = p, job.stride = stride;
    job.kern = LMK_SELECT(&kernels_generic, &lmk_attn_kernels_avx2, &lmk_attn_kernels_avx512, &lmk_attn_kernels_neon);
    job.conv = lmk_fp8_active();
    const int64_t items = attention_plan(&job, p, lmk_threads_get());
    float *mem = lmk_tmp(attention_tmp_bytes(&job, items));
    if (!mem) return LMK_ERR_NOMEM;
    job.slots = mem;
    job.partial = job.n_splits > 1 ? mem + job.n_slots * job.slot_floats : NULL;
    job.status = LMK_OK;
    lmk_parallel_for(items * job.n_splits, 1, attention_task, &job);
    if (job.status == LMK_OK && job.n_splits > 1) merge_splits(&job);
    lmk_tmp_free(mem);
    return job.status;
}

int64_t lmk_attention_tmp_bytes(int64_t T, int64_t H, int64_t Hkv, int64_t D, lmk_kv_dtype kv_dtype) {
    if (T <= 0 || H <= 0 || Hkv <= 0 || H % Hkv || D <= 0 || !lmk_dims_ok(T, H * D)) return T == 0 ? 0 : -1;
    /* every query count up to T, each with the most keys that still split (one partial state per
     * segment: more keys run whole, in less room) */
    lmk_attn_params p = {.H = H, .Hkv = Hkv, .D = D, .S = LMK_ATTN_MAX_SPLITS * LMK_ATTN_SEG, .kv_dtype = kv_dtype};
    int64_t most = 0;
    for (int64_t t = 1; t <= T; t++) {
        job_t job;
        memset(&job, 0, sizeof job);
        p.T = t;
        job.p = &p;
        most = LMK_MAX(most, attention_tmp_bytes(&job, attention_plan(&job, &p, lmk_threads_get())));
    }
    return most;
}
