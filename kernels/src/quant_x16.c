/* Row-interleaved weights ("x16", lmk.h): repacking to and from the file's layout, the prep of
 * the activations the x16 tiles read, a generic tile (the reference every x16 kernel is tested
 * against, and the path on ISAs without one), and the qmatmul entry point.
 *
 * The generic tile gathers a row's block back into the file's layout and runs the format's
 * generic dot, block by block in the same order, so it gives the generic qmatmul's bits. */
#include "quant_internal.h"

int lmk_qx16_supported(lmk_qfmt fmt) {
    return fmt == LMK_Q8_0 || fmt == LMK_Q4_0 || fmt == LMK_Q4_1 || fmt == LMK_Q5_0;
}

int lmk_qx16_native(lmk_qfmt fmt) {
#if LMK_X86
    return lmk_qx16_supported(fmt) && lmk_isa_active() == LMK_ISA_AVX512 && lmk_cpu_avx512vnni();
#elif LMK_ARM
    return lmk_qx16_supported(fmt) && lmk_isa_active() == LMK_ISA_NEON && lmk_cpu_dotprod();
#else
    (void)fmt;
    return 0;
#endif
}

/* ---------------------------------------------------------------- one block of 16 rows */

/* row r's block (file layout, at blk) → its place in the x16 block X, or back (to_file) */
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
    case LMK_Q4_0: {
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
    }
#undef MOVE
}

static lmk_status x16_args(lmk_qfmt fmt, const void *src, const void *dst, int64_t N, int64_t K) {
    if (!lmk_qx16_supported(fmt) || N < 0 || K < 0 || N % 16 || K % QK || !lmk_dims_ok(N, K)) return LMK_ERR_ARG;
    return N && K && (!src || !dst) ? LMK_ERR_ARG : LMK_OK;
}

/* The row blocks of group g, block b, in both layouts: the x16 block, and row r's file block. */
#define X16_BLOCK(x, g, b) ((x) + ((g) * nb + (b)) * 16 * bb)
#define FILE_BLOCK(w, row, b) ((w) + ((row) * nb + (b)) * bb)

lmk_status lmk_qrepack_x16(lmk_qfmt fmt, const void *w, void *x, int64_t N, int64_t K) {
    lmk_status s = x16_args(fmt, w, x, N, K);
    if (s != LMK_OK) return s;
    const int64_t nb = K / QK, bb = lmk_qblock_bytes(fmt);
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
    const int64_t nb = K / QK, bb = lmk_qblock_bytes(fmt);
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
    const int64_t nb = K / QK, bb = lmk_qblock_bytes(fmt), g = row / 16;
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

lmk_qprep_fn lmk_qx16_prep(lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q8_0: return prep_q8_0;
    case LMK_Q4_0: return prep_q4_0;
    case LMK_Q4_1: return prep_q4_1;
    case LMK_Q5_0: return prep_q5_0;
    }
    return NULL;
}

/* ---------------------------------------------------------------- the generic tile */

/* The generic tiles read act_q8 (no prep): each row's block goes back to the file's layout and
 * through the format's generic dot, one block at a time, summed in block order. */
static void tile_generic(lmk_qfmt fmt, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                         int nr, int na, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    uint8_t blk[sizeof(blk_q8_0)];
    for (int r = 0; r < nr; r++)
        for (int i = 0; i < na; i++) {
            const act_q8 *A = (const act_q8 *)(a + i * as);
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                x16_block(fmt, (uint8_t *)(uintptr_t)(w + b * 16 * bb), blk, r, 1);
                s += lmk_qdot_generic(fmt, blk, &A[b], 1);
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

static lmk_qkernels x16_generic(lmk_qfmt fmt) {
    lmk_qkernels k = {NULL, NULL, NULL, 0};
    k.tile = lmk_qtile_pick(fmt, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, NULL, NULL);
    return k;
}

/* ---------------------------------------------------------------- qmatmul */

/* The driver hands a tile whole panels of 16 rows (N % 16 == 0): w + n0 · row_bytes is then the
 * start of group n0 / 16, since a group holds 16 rows' bytes. */
lmk_status lmk_qmatmul_x16(lmk_qfmt fmt, const float *a, const void *x, float *c, int64_t M, int64_t N,
                           int64_t K) {
    if (!lmk_qx16_supported(fmt) || N % 16) return LMK_ERR_ARG;
#if LMK_X86
    if (lmk_qx16_native(fmt)) return lmk_qmatmul_with(fmt, a, x, c, M, N, K, lmk_qkernels_x16_avx512vnni(fmt));
#elif LMK_ARM
    if (lmk_qx16_native(fmt)) return lmk_qmatmul_with(fmt, a, x, c, M, N, K, lmk_qkernels_x16_neondot(fmt));
#endif
    return lmk_qmatmul_with(fmt, a, x, c, M, N, K, x16_generic(fmt));
}
