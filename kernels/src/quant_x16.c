/* Row-interleaved weights ("x16", lmk.h): repacking to and from the file's layout, the prep of
 * the activations the x16 tiles read, a generic tile (the reference every x16 kernel is tested
 * against, and the path on ISAs without one), and the qmatmul entry point.
 *
 * The generic tile gathers a row's block back into the file's layout and runs the format's
 * generic dot, block by block in the same order, so it gives the generic qmatmul's bits. */
#include "quant_internal.h"

int lmk_qx16_supported(lmk_qfmt fmt) { return lmk_qfmt_valid((int)fmt) && fmt != LMK_Q5_1; }

/* The active ISA's x16 table for fmt, or NULL where it has none (the generic tile runs). */
static const lmk_qkernels *native_table(lmk_qfmt fmt, lmk_qkernels *k) {
    if (!lmk_qx16_supported(fmt)) return NULL;
#if LMK_X86
    if (lmk_isa_active() != LMK_ISA_AVX512 || !lmk_cpu_avx512vnni()) return NULL;
    *k = lmk_qkernels_x16_avx512vnni(fmt);
#elif LMK_ARM
    if (lmk_isa_active() != LMK_ISA_NEON || !lmk_cpu_dotprod()) return NULL;
    *k = lmk_qkernels_x16_neondot(fmt);
#else
    return NULL;
#endif
    return k->tile ? k : NULL;
}

int lmk_qx16_native(lmk_qfmt fmt) {
    lmk_qkernels k;
    return native_table(fmt, &k) != NULL;
}

/* ---------------------------------------------------------------- the K-quants' scales */

/* Q4_K / Q5_K: a row's 12 file bytes ↔ its place in sl, ml, sh (quant_internal.h). */
static void x16_k_scales(uint8_t sl[4][16], uint8_t ml[4][16], uint32_t sh[16], uint8_t *file, int r, int to_file) {
    uint8_t sc[8], mn[8];
    if (!to_file) {
        lmk_q4k_scales(file, sc, mn);
        uint32_t hi = 0;
        for (int j = 0; j < 4; j++) {
            sl[j][r] = (uint8_t)((sc[j] & 15) | (sc[j + 4] & 15) << 4);
            ml[j][r] = (uint8_t)((mn[j] & 15) | (mn[j + 4] & 15) << 4);
            hi |= (uint32_t)((sc[j + 4] >> 4) | (mn[j + 4] >> 4) << 2 | (sc[j] >> 4) << 4 | (mn[j] >> 4) << 6) << (8 * j);
        }
        sh[r] = hi;
        return;
    }
    for (int j = 0; j < 4; j++) {
        const uint32_t hi = sh[r] >> (8 * j);
        sc[j] = (uint8_t)((sl[j][r] & 15) | ((hi >> 4) & 3) << 4);
        mn[j] = (uint8_t)((ml[j][r] & 15) | ((hi >> 6) & 3) << 4);
        sc[j + 4] = (uint8_t)((sl[j][r] >> 4) | (hi & 3) << 4);
        mn[j + 4] = (uint8_t)((ml[j][r] >> 4) | ((hi >> 2) & 3) << 4);
    }
    for (int j = 0; j < 4; j++) {  /* the file's packing (lmk_q4k_scales, inverted) */
        file[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        file[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        file[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

/* ---------------------------------------------------------------- one block of 16 rows */

/* row r's block (file layout, at blk) → its place in the x16 block X, or back (to_file).
 * GCC's -Wstringop-overflow mixes up the formats' structs once the generic tile below inlines
 * this into one buffer for every format (a false positive: each case stays in its struct). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
static void x16_block(lmk_qfmt fmt, uint8_t *X, uint8_t *blk, int r, int to_file) {
#define MOVE(x16_field, file_field, n)                                                          \
    do {                                                                                       \
        if (to_file) memcpy(file_field, x16_field, n);                                         \
        else memcpy(x16_field, file_field, n);                                                 \
    } while (0)
    switch ((int)fmt) {
    case LMK_Q8_0: {
        x16_q8_0 *x = (x16_q8_0 *)X;
        blk_q8_0 *b = (blk_q8_0 *)blk;
        MOVE(&x->d[r], &b->d, 2);
        for (int k = 0; k < 8; k++)
            for (int i = 0; i < 4; i++) {  /* signed w is stored as the unsigned w + 128 */
                if (to_file) b->qs[4 * k + i] = (int8_t)(x->qs[k][r][i] ^ 0x80);
                else x->qs[k][r][i] = (uint8_t)b->qs[4 * k + i] ^ 0x80;
            }
        break;
    }
    case LMK_Q4_0:
    case LMK_IQ4_NL: {  /* the same block: d, then 16 bytes of nibbles (IQ4_NL's index its levels) */
        x16_q4_0 *x = (x16_q4_0 *)X;
        blk_q4_0 *b = (blk_q4_0 *)blk;
        MOVE(&x->d[r], &b->d, 2);
        for (int k = 0; k < 4; k++) MOVE(x->qs[k][r], b->qs + 4 * k, 4);
        break;
    }
    case LMK_Q4_1: {
        x16_q4_1 *x = (x16_q4_1 *)X;
        blk_q4_1 *b = (blk_q4_1 *)blk;
        MOVE(&x->d[r], &b->d, 2);
        MOVE(&x->m[r], &b->m, 2);
        for (int k = 0; k < 4; k++) MOVE(x->qs[k][r], b->qs + 4 * k, 4);
        break;
    }
    case LMK_Q5_0: {
        x16_q5_0 *x = (x16_q5_0 *)X;
        blk_q5_0 *b = (blk_q5_0 *)blk;
        MOVE(&x->d[r], &b->d, 2);
        for (int k = 0; k < 4; k++) MOVE(x->qs[k][r], b->qs + 4 * k, 4);
        uint32_t qh;
        if (to_file) {
            qh = 0;
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < 4; i++) qh |= (uint32_t)((x->qh[k] >> (4 * r + i)) & 1) << (4 * k + i);
            memcpy(b->qh, &qh, 4);
        } else {
            memcpy(&qh, b->qh, 4);  /* bit j: value j (low nibbles j < 16, high ones j >= 16) */
            for (int k = 0; k < 8; k++) {
                const uint64_t place = (uint64_t)0xF << (4 * r);
                x->qh[k] = (x->qh[k] & ~place) | (uint64_t)((qh >> (4 * k)) & 0xF) << (4 * r);
            }
        }
        break;
    }
    case LMK_Q4_K:
    case LMK_Q5_K: {  /* Q5_K's block and x16 block begin as Q4_K's (quant_internal.h) */
        x16_q4_k *x = (x16_q4_k *)X;
        blk_q4_k *b = (blk_q4_k *)blk;
        x16_q5_k *x5 = (x16_q5_k *)X;
        blk_q5_k *b5 = (blk_q5_k *)blk;
        const int q5 = fmt == LMK_Q5_K;
        MOVE(&x->d[r], &b->d, 2);
        MOVE(&x->dmin[r], &b->dmin, 2);
        x16_k_scales(x->sl, x->ml, x->sh, b->scales, r, to_file);
        for (int g = 0; g < 8 && q5; g++) MOVE(x5->qh[g][r], b5->qh + 4 * g, 4);
        uint8_t(*qs)[8][16][4] = q5 ? x5->qs : x->qs;
        uint8_t *file_qs = q5 ? b5->qs : b->qs;
        for (int c = 0; c < 4; c++)
            for (int g = 0; g < 8; g++) MOVE(qs[c][g][r], file_qs + 32 * c + 4 * g, 4);
        break;
    }
    case LMK_Q6_K: {
        x16_q6_k *x = (x16_q6_k *)X;
        blk_q6_k *b = (blk_q6_k *)blk;
        MOVE(&x->d[r], &b->d, 2);
        for (int j = 0; j < 16; j++) MOVE(&x->sc[j][r], &b->scales[j], 1);
        for (int n = 0; n < 2; n++)
            for (int g = 0; g < 8; g++) {
                for (int h = 0; h < 2; h++) MOVE(x->ql[n][h][g][r], b->ql + 64 * n + 32 * h + 4 * g, 4);
                MOVE(x->qh[n][g][r], b->qh + 32 * n + 4 * g, 4);
            }
        break;
    }
    case LMK_Q2_K: {
        x16_q2_k *x = (x16_q2_k *)X;
        blk_q2_k *b = (blk_q2_k *)blk;
        MOVE(&x->d[r], &b->d, 2);
        MOVE(&x->dmin[r], &b->dmin, 2);
        for (int g = 0; g < 16; g++) MOVE(&x->sc[g][r], &b->scales[g], 1);
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 8; k++) MOVE(x->qs[n][k][r], b->qs + 32 * n + 4 * k, 4);
        break;
    }
    case LMK_Q3_K: {
        x16_q3_k *x = (x16_q3_k *)X;
        blk_q3_k *b = (blk_q3_k *)blk;
        MOVE(&x->d[r], &b->d, 2);
        for (int i = 0; i < 12; i++) MOVE(&x->sc[i][r], &b->scales[i], 1);
        for (int k = 0; k < 8; k++) MOVE(x->hm[k][r], b->hmask + 4 * k, 4);
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 8; k++) MOVE(x->qs[n][k][r], b->qs + 32 * n + 4 * k, 4);
        break;
    }
    case LMK_IQ4_XS: {
        x16_iq4_xs *x = (x16_iq4_xs *)X;
        blk_iq4_xs *b = (blk_iq4_xs *)blk;
        MOVE(&x->d[r], &b->d, 2);
        MOVE(&x->sh[r], &b->scales_h, 2);
        for (int i = 0; i < 4; i++) MOVE(&x->sl[i][r], &b->scales_l[i], 1);
        for (int s = 0; s < 8; s++)
            for (int g = 0; g < 4; g++) MOVE(x->qs[s][g][r], b->qs + 16 * s + 4 * g, 4);
        break;
    }
    }
#undef MOVE
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static lmk_status x16_args(lmk_qfmt fmt, const void *src, const void *dst, int64_t N, int64_t K) {
    if (!lmk_qx16_supported(fmt) || N < 0 || K < 0 || N % 16 || K % lmk_qblock_elems(fmt) || !lmk_dims_ok(N, K))
        return LMK_ERR_ARG;
    return N && K && (!src || !dst) ? LMK_ERR_ARG : LMK_OK;
}

/* The row blocks of group g, block b, in both layouts: the x16 block, and row r's file block. */
#define X16_BLOCK(x, g, b) ((x) + ((g) * nb + (b)) * 16 * bb)
#define FILE_BLOCK(w, row, b) ((w) + ((row) * nb + (b)) * bb)

lmk_status lmk_qrepack_x16(lmk_qfmt fmt, const void *w, void *x, int64_t N, int64_t K) {
    lmk_status s = x16_args(fmt, w, x, N, K);
    if (s != LMK_OK) return s;
    const int64_t nb = K / lmk_qblock_elems(fmt), bb = lmk_qblock_bytes(fmt);
    uint8_t *X = x, *W = (uint8_t *)(uintptr_t)w;  /* W is only read (to_file = 0) */
    memset(x, 0, (size_t)(N * nb * bb));
    for (int64_t g = 0; g < N / 16; g++)
        for (int64_t b = 0; b < nb; b++)
            for (int r = 0; r < 16; r++) x16_block(fmt, X16_BLOCK(X, g, b), FILE_BLOCK(W, g * 16 + r, b), r, 0);
    return LMK_OK;
}

lmk_status lmk_qunpack_x16(lmk_qfmt fmt, const void *x, void *w, int64_t N, int64_t K) {
    lmk_status s = x16_args(fmt, x, w, N, K);
    if (s != LMK_OK) return s;
    const int64_t nb = K / lmk_qblock_elems(fmt), bb = lmk_qblock_bytes(fmt);
    uint8_t *X = (uint8_t *)(uintptr_t)x, *W = w;  /* X is only read (to_file = 1) */
    for (int64_t g = 0; g < N / 16; g++)
        for (int64_t b = 0; b < nb; b++)
            for (int r = 0; r < 16; r++) x16_block(fmt, X16_BLOCK(X, g, b), FILE_BLOCK(W, g * 16 + r, b), r, 1);
    return LMK_OK;
}

lmk_status lmk_qrow_x16(lmk_qfmt fmt, const void *x, int64_t N, int64_t K, int64_t row, void *w_row) {
    lmk_status s = x16_args(fmt, x, w_row, N, K);
    if (s != LMK_OK) return s;
    if (row < 0 || row >= N) return LMK_ERR_ARG;
    const int64_t nb = K / lmk_qblock_elems(fmt), bb = lmk_qblock_bytes(fmt), g = row / 16;
    uint8_t *X = (uint8_t *)(uintptr_t)x, *W = w_row;
    for (int64_t b = 0; b < nb; b++) x16_block(fmt, X16_BLOCK(X, g, b), FILE_BLOCK(W, 0, b), (int)(row % 16), 1);
    return LMK_OK;
}

/* ---------------------------------------------------------------- activations */

static void prep_x16(const void *act, void *out, int64_t nb, int32_t off_per_sum, int want_sd) {
    const act_q8 *a = act;
    act_x16 *o = out;
    const int64_t padded = (nb + QP_GROUP - 1) / QP_GROUP * QP_GROUP;
    for (int64_t b = 0; b < padded; b++) {
        if (b >= nb) {
            memset(&o[b], 0, sizeof o[b]);
            continue;
        }
        memcpy(o[b].qs, a[b].qs, QK);
        o[b].d = a[b].d;
        o[b].sd = want_sd ? a[b].d * (float)a[b].sum : 0.0f;
        o[b].off = off_per_sum * a[b].sum;
        o[b].pad = 0;
    }
}

static void prep_q8_0(const void *act, void *out, int64_t nb) { prep_x16(act, out, nb, -128, 0); }
static void prep_q4_0(const void *act, void *out, int64_t nb) { prep_x16(act, out, nb, -8, 0); }
static void prep_q4_1(const void *act, void *out, int64_t nb) { prep_x16(act, out, nb, 0, 1); }
static void prep_q5_0(const void *act, void *out, int64_t nb) { prep_x16(act, out, nb, -16, 0); }
static void prep_iq4_nl(const void *act, void *out, int64_t nb) { prep_x16(act, out, nb, -128, 0); }

/* K-quants' bs (act_x16k), by what the format's tile reads: the sums of 32 (or of 16) as i16
 * pairs, or off times the sum of each group of 16 (or of 32) */
enum { BS_PAIRS_32, BS_PAIRS_16, BS_OFF_16, BS_OFF_32 };

static void prep_x16k(const void *act, void *out, int64_t nb, int bs, int32_t off) {
    const act_q8k *a = act;
    act_x16k *o = out;
    const int64_t padded = (nb + QP_GROUP - 1) / QP_GROUP * QP_GROUP;
    for (int64_t b = 0; b < padded; b++) {
        memset(&o[b], 0, sizeof o[b]);
        if (b >= nb) continue;
        memcpy(o[b].qs, a[b].qs, QK_K);
        o[b].d = a[b].d;
        const int16_t *g = a[b].bsums;   /* the sums of the 16 groups of 16 */
        switch (bs) {
        case BS_OFF_16:
            for (int j = 0; j < 16; j++) o[b].bs[j] = off * g[j];
            break;
        case BS_OFF_32:
            for (int s = 0; s < 8; s++) o[b].bs[s] = off * (g[2 * s] + g[2 * s + 1]);
            break;
        case BS_PAIRS_16:
            for (int p = 0; p < 8; p++) o[b].bs[p] = (int32_t)((uint32_t)(uint16_t)g[2 * p] | (uint32_t)(uint16_t)g[2 * p + 1] << 16);
            break;
        default:  /* BS_PAIRS_32; |Σ of 32| <= 32 · 127: an i16 */
            for (int p = 0; p < 4; p++) {
                const int32_t lo = g[4 * p] + g[4 * p + 1], hi = g[4 * p + 2] + g[4 * p + 3];
                o[b].bs[p] = (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
            }
        }
    }
}

static void prep_q2_k(const void *act, void *out, int64_t nb) { prep_x16k(act, out, nb, BS_PAIRS_16, 0); }
static void prep_q3_k(const void *act, void *out, int64_t nb) { prep_x16k(act, out, nb, BS_OFF_16, -4); }
static void prep_q4_k(const void *act, void *out, int64_t nb) { prep_x16k(act, out, nb, BS_PAIRS_32, 0); }
static void prep_q6_k(const void *act, void *out, int64_t nb) { prep_x16k(act, out, nb, BS_OFF_16, -32); }
static void prep_iq4_xs(const void *act, void *out, int64_t nb) { prep_x16k(act, out, nb, BS_OFF_32, -128); }

lmk_qprep_fn lmk_qx16_prep(lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q8_0: return prep_q8_0;
    case LMK_Q4_0: return prep_q4_0;
    case LMK_Q4_1: return prep_q4_1;
    case LMK_Q5_0: return prep_q5_0;
    case LMK_IQ4_NL: return prep_iq4_nl;
    case LMK_Q2_K: return prep_q2_k;
    case LMK_Q3_K: return prep_q3_k;
    case LMK_Q4_K:
    case LMK_Q5_K: return prep_q4_k;
    case LMK_Q6_K: return prep_q6_k;
    case LMK_IQ4_XS: return prep_iq4_xs;
    }
    return NULL;
}

int64_t lmk_qx16_prep_bytes(lmk_qfmt fmt) {
    return lmk_qblock_elems(fmt) == QK_K ? (int64_t)sizeof(act_x16k) : (int64_t)sizeof(act_x16);
}

/* ---------------------------------------------------------------- the generic tile */

/* The generic tiles read act_q8 / act_q8k (no prep): each row's block goes back to the file's
 * layout and through the format's generic dot, one block at a time, summed in block order. */
static void tile_generic(lmk_qfmt fmt, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                         int nr, int na, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    const int64_t ab = lmk_qblock_elems(fmt) == QK_K ? (int64_t)sizeof(act_q8k) : (int64_t)sizeof(act_q8);
    const lmk_qtile_fn dot = lmk_qkernels_generic(fmt).tile;  /* one block · one block here */
    uint8_t blk[sizeof(blk_q6_k)];                             /* the largest block of an x16 format */
    for (int r = 0; r < nr; r++)
        for (int i = 0; i < na; i++) {
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                float t;
                x16_block(fmt, (uint8_t *)(uintptr_t)(w + b * 16 * bb), blk, r, 1);
                dot(blk, bb, a + i * as + b * ab, ab, &t, 1, 1, 1, 1);
                s += t;
            }
            c[i * ldc + r] = s;
        }
}

#define X16_GENERIC(name, fmt)                                                                     \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                 \
        (void)ws;                                                                                  \
        tile_generic(fmt, w, a, as, c, ldc, nr, na, nb);                                           \
    }
X16_GENERIC(tile_q8_0, LMK_Q8_0)
X16_GENERIC(tile_q4_0, LMK_Q4_0)
X16_GENERIC(tile_q4_1, LMK_Q4_1)
X16_GENERIC(tile_q5_0, LMK_Q5_0)
X16_GENERIC(tile_iq4_nl, LMK_IQ4_NL)
X16_GENERIC(tile_q2_k, LMK_Q2_K)
X16_GENERIC(tile_q3_k, LMK_Q3_K)
X16_GENERIC(tile_q4_k, LMK_Q4_K)
X16_GENERIC(tile_q5_k, LMK_Q5_K)
X16_GENERIC(tile_q6_k, LMK_Q6_K)
X16_GENERIC(tile_iq4_xs, LMK_IQ4_XS)

static lmk_qkernels x16_generic(lmk_qfmt fmt) {
    static const lmk_qtiles tiles = {.q8_0 = tile_q8_0, .q4_0 = tile_q4_0, .q4_1 = tile_q4_1, .q5_0 = tile_q5_0,
                                     .iq4_nl = tile_iq4_nl, .q2_k = tile_q2_k, .q3_k = tile_q3_k, .q4_k = tile_q4_k,
                                     .q5_k = tile_q5_k, .q6_k = tile_q6_k, .iq4_xs = tile_iq4_xs};
    lmk_qkernels k = {.tile = NULL};
    k.tile = lmk_qtile_of(fmt, &tiles);
    return k;
}

/* ---------------------------------------------------------------- qmatmul */

/* The kernels a call takes on this CPU: native tiles, else the portable ones. */
static lmk_qkernels x16_kernels(lmk_qfmt fmt) {
    lmk_qkernels k;
    const lmk_qkernels *native = native_table(fmt, &k);
    return native ? *native : x16_generic(fmt);
}

/* The driver hands a tile whole panels of 16 rows (N % 16 == 0): w + n0 · row_bytes is then the
 * start of group n0 / 16, since a group holds 16 rows' bytes. */
lmk_status lmk_qmatmul_x16(lmk_qfmt fmt, const float *a, const void *x, float *c, int64_t M, int64_t N,
                           int64_t K) {
    return lmk_qmatmul_x16_many(fmt, a, M, K, 1, &x, &c, &N);
}

lmk_status lmk_qmatmul_x16_many(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *x,
                                float *const *c, const int64_t *N) {
    if (!lmk_qx16_supported(fmt) || n < 1 || n > LMK_QMATMUL_MANY || !N) return LMK_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (N[i] % 16) return LMK_ERR_ARG;
    return lmk_qmatmul_many_with(fmt, a, M, K, n, x, c, N, x16_kernels(fmt));
}

int64_t lmk_qmatmul_x16_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K) {
    if (!lmk_qx16_supported(fmt) || N % 16) return -1;
    return lmk_qmatmul_with_tmp_bytes(fmt, M, N, K, x16_kernels(fmt));
}
