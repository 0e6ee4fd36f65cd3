/* Quant family, x16 layouts (lmk.h, quant_x16.c) on AVX-512 with VNNI: one vector holds the same
 * four values of 16 weight rows, so vpdpbusd against an activation's four bytes (broadcast from
 * memory) adds 64 products into 16 row sums at once. Per block and activation row: eight
 * vpdpbusd in four independent chains, one conversion, one scale multiply and one FMA (Q4_1:
 * two) serve 16 outputs; the weights are unpacked once per block for up to QT_ACTS activation
 * rows. quant_x16.c takes this table only where lmk_qx16_native (VNNI present). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif

#include <immintrin.h>

#include "../../quant_internal.h"

#define XV_INLINE static inline __attribute__((always_inline))
#define XV_AHEAD 4  /* blocks of 16 rows to prefetch ahead: 1.2-2.2 KB */

/* the activation's bytes 4k..4k+3 in every dword lane */
XV_INLINE __m512i bcast4(const act_x16 *A, int k) {
    int32_t v;
    memcpy(&v, A->qs + 4 * k, 4);
    return _mm512_set1_epi32(v);
}

/* One block of 16 rows, unpacked: q[k] holds values 4k..4k+3 of each row (unsigned), d the
 * rows' scales, m Q4_1's mins. */
typedef struct {
    __m512i q[8];
    __m512 d, m;
} xw;

XV_INLINE xw xw_load(const lmk_qfmt fmt, const uint8_t *X) {
    xw W;
    W.d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X));
    W.m = fmt == LMK_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(X + 32))) : _mm512_setzero_ps();
    if (fmt == LMK_Q8_0) {
        for (int k = 0; k < 8; k++) W.q[k] = _mm512_loadu_si512(X + 32 + 64 * k);
        return W;
    }
    const uint8_t *qs = X + (fmt == LMK_Q4_1 ? 64 : 32);
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; k++) {
        const __m512i v = _mm512_loadu_si512(qs + 64 * k);
        W.q[k] = _mm512_and_si512(v, lo4);
        W.q[4 + k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
    }
    if (fmt == LMK_Q5_0) {
        const uint64_t *qh = (const uint64_t *)(qs + 256);
        const __m512i sixteen = _mm512_set1_epi8(0x10);
        for (int k = 0; k < 8; k++) W.q[k] = _mm512_mask_add_epi8(W.q[k], (__mmask64)qh[k], W.q[k], sixteen);
    }
    return W;
}

/* acc + the block's 16 row sums against one activation block */
XV_INLINE __m512 xw_dot(const lmk_qfmt fmt, const xw *W, const act_x16 *A, __m512 acc) {
    __m512i p0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(A->off), W->q[0], bcast4(A, 0));
    __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W->q[1], bcast4(A, 1));
    __m512i p2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W->q[2], bcast4(A, 2));
    __m512i p3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W->q[3], bcast4(A, 3));
    p0 = _mm512_dpbusd_epi32(p0, W->q[4], bcast4(A, 4));
    p1 = _mm512_dpbusd_epi32(p1, W->q[5], bcast4(A, 5));
    p2 = _mm512_dpbusd_epi32(p2, W->q[6], bcast4(A, 6));
    p3 = _mm512_dpbusd_epi32(p3, W->q[7], bcast4(A, 7));
    const __m512i p = _mm512_add_epi32(_mm512_add_epi32(p0, p1), _mm512_add_epi32(p2, p3));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(W->d, _mm512_set1_ps(A->d)), acc);
    if (fmt == LMK_Q4_1) acc = _mm512_fmadd_ps(W->m, _mm512_set1_ps(A->sd), acc);
    return acc;
}

/* 16 rows (the group at w) × C activation rows (prepared, as bytes apart) over nb blocks */
XV_INLINE void x16_kern(const lmk_qfmt fmt, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int C, int64_t nb) {
    const int64_t bb = 16 * lmk_qblock_bytes(fmt);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        /* decode streams the weights from memory once per token: ask for them a few blocks
         * ahead (past the row group's end is the next group, read next) */
        for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)(w + (b + XV_AHEAD) * bb + l), _MM_HINT_T0);
        const xw W = xw_load(fmt, w + b * bb);
        for (int i = 0; i < C; i++) acc[i] = xw_dot(fmt, &W, (const act_x16 *)(a + i * as) + b, acc[i]);
    }
    for (int i = 0; i < C; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}

/* nr is always 16 here (quant_x16.c asks N % 16 == 0 and the driver's panels are 16 rows) */
#define X16_TILE(name, fmt)                                                                        \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                 \
        (void)ws, (void)nr;                                                                        \
        for (; na >= 4; na -= 4, a += 4 * as, c += 4 * ldc) x16_kern(fmt, w, a, as, c, ldc, 4, nb); \
        if (na == 3) x16_kern(fmt, w, a, as, c, ldc, 3, nb);                                       \
        if (na == 2) x16_kern(fmt, w, a, as, c, ldc, 2, nb);                                       \
        if (na == 1) x16_kern(fmt, w, a, as, c, ldc, 1, nb);                                       \
    }
X16_TILE(tile_q8_0, LMK_Q8_0)
X16_TILE(tile_q4_0, LMK_Q4_0)
X16_TILE(tile_q4_1, LMK_Q4_1)
X16_TILE(tile_q5_0, LMK_Q5_0)

lmk_qkernels lmk_qkernels_x16_avx512vnni(lmk_qfmt fmt) {
    lmk_qkernels k = {NULL, lmk_act_q8_avx512, lmk_qx16_prep(fmt), sizeof(act_x16)};
    k.tile = lmk_qtile_pick(fmt, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, NULL, NULL);
    return k;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
