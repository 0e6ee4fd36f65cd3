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
/* every chain and register array indexed by loop constants: fully unrolled, they stay in
 * registers */
#define XV_UNROLL _Pragma("GCC unroll 16")
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

/* ---------------------------------------------------------------- K-quants: Q4_K, Q5_K, Q6_K */

/* The K-quants' x16 blocks (quant_internal.h) put the same four values of 16 rows in a vector
 * too, so their sums build as the 32-blocks' do, one chain per scale group; what differs is the
 * scales, applied to each group's integer sum per row lane (vpmulld) before one conversion per
 * super-block. All integers are exact (|Σ| < 2^31), so the float steps are the row tiles': d · d_a
 * · Σ sc·p, minus dmin · d_a · Σ mn·Σa for Q4_K / Q5_K. */

/* the activation's bytes at offset o, in every dword lane */
XV_INLINE __m512i bcast4k(const act_x16k *A, int o) {
    int32_t v;
    memcpy(&v, A->qs + o, 4);
    return _mm512_set1_epi32(v);
}

/* Q4_K / Q5_K: the 16 rows' six-bit scales and mins of sub-block j in dword lanes; the mins as
 * i16 pairs (sub-blocks 2p, 2p + 1) for vpdpwssd against act_x16k.bs. */
typedef struct {
    __m512i sc[8], mn2[4];
    __m512 d, dmin;
} xk4_scales;

XV_INLINE xk4_scales xk4_scales_load(const uint8_t *d, const uint8_t sl[4][16], const uint8_t ml[4][16],
                                     const uint32_t *sh) {
    const __m512i mF = _mm512_set1_epi32(0x0F), m30 = _mm512_set1_epi32(0x30);
    const __m512i H = _mm512_loadu_si512(sh);
    xk4_scales S;
    __m512i mn[8];
    for (int j = 0; j < 4; j++) {
        const __m512i B = _mm512_srli_epi32(H, 8 * j);
        const __m512i L = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)sl[j]));
        const __m512i M = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)ml[j]));
        /* bit select (0xE4: mF ? first : second): the low nibble | the top two bits at 4, 5 */
        S.sc[j] = _mm512_ternarylogic_epi32(L, _mm512_and_si512(B, m30), mF, 0xE4);
        S.sc[j + 4] = _mm512_or_si512(_mm512_srli_epi32(L, 4), _mm512_and_si512(_mm512_slli_epi32(B, 4), m30));
        mn[j] = _mm512_ternarylogic_epi32(M, _mm512_and_si512(_mm512_srli_epi32(B, 2), m30), mF, 0xE4);
        mn[j + 4] = _mm512_or_si512(_mm512_srli_epi32(M, 4), _mm512_and_si512(_mm512_slli_epi32(B, 2), m30));
    }
    for (int p = 0; p < 4; p++) S.mn2[p] = _mm512_or_si512(mn[2 * p], _mm512_slli_epi32(mn[2 * p + 1], 16));
    S.d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d));
    S.dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + 32)));
    return S;
}

/* 16 rows (one Q4_K or Q5_K group) × C activation rows over nb super-blocks. Per chunk c of 64
 * values: eight vectors of nibbles (with Q5_K's fifth bits) make sub-blocks 2c and 2c + 1, each
 * summed in two chains per activation row. */
XV_INLINE void xk4_kern(const int q5, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int C, int64_t nb) {
    const int64_t bb = q5 ? (int64_t)sizeof(x16_q5_k) : (int64_t)sizeof(x16_q4_k);
    const __m512i lo4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(0x10);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)(X + 2 * bb + l), _MM_HINT_T0);
        const x16_q4_k *X4 = (const x16_q4_k *)X;
        const x16_q5_k *X5 = (const x16_q5_k *)X;
        const xk4_scales S = xk4_scales_load(X, X4->sl, X4->ml, X4->sh);  /* Q5_K's begin the same */
        const uint8_t(*qs)[8][16][4] = q5 ? X5->qs : X4->qs;
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int ch = 0; ch < 4; ch++) {
            __m512i pe[QT_ACTS][2], po[QT_ACTS][2];
            for (int i = 0; i < C; i++)
                pe[i][0] = pe[i][1] = po[i][0] = po[i][1] = _mm512_setzero_si512();
            XV_UNROLL
            for (int g = 0; g < 8; g++) {
                const __m512i v = _mm512_loadu_si512(qs[ch][g]);
                __m512i lo = _mm512_and_si512(v, lo4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
                if (q5) {
                    const __m512i qh = _mm512_loadu_si512(X5->qh[g]);
                    lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(qh, _mm512_set1_epi8((char)(1 << (2 * ch)))), lo, sixteen);
                    hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(qh, _mm512_set1_epi8((char)(2 << (2 * ch)))), hi, sixteen);
                }
                for (int i = 0; i < C; i++) {
                    const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                    pe[i][g & 1] = _mm512_dpbusd_epi32(pe[i][g & 1], lo, bcast4k(A, 64 * ch + 4 * g));
                    po[i][g & 1] = _mm512_dpbusd_epi32(po[i][g & 1], hi, bcast4k(A, 64 * ch + 32 + 4 * g));
                }
            }
            for (int i = 0; i < C; i++) {
                isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(_mm512_add_epi32(pe[i][0], pe[i][1]), S.sc[2 * ch]));
                isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(_mm512_add_epi32(po[i][0], po[i][1]), S.sc[2 * ch + 1]));
            }
        }
        for (int i = 0; i < C; i++) {
            const act_x16k *A = (const act_x16k *)(a + i * as) + b;
            __m512i mins = _mm512_setzero_si512();
            for (int p = 0; p < 4; p++) mins = _mm512_dpwssd_epi32(mins, S.mn2[p], _mm512_set1_epi32(A->bs[p]));
            const __m512 ad = _mm512_set1_ps(A->d);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(S.d, ad), acc[i]);
            acc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(S.dmin, ad), acc[i]);
        }
    }
    for (int i = 0; i < C; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}

/* 16 Q6_K rows × C activation rows over nb super-blocks. Per half n and step g: the qh vector
 * and two of ql make values 128n + 32h + 4g.. (h < 4), group 8n + 2h + g / 4 of 16; each group
 * is one chain per activation row, started at its -32 · Σa. */
XV_INLINE void xk6_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C,
                        int64_t nb) {
    const int64_t bb = (int64_t)sizeof(x16_q6_k);
    const __m512i lo4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const x16_q6_k *X = (const x16_q6_k *)(w + b * bb);
        for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)X + 2 * bb + l, _MM_HINT_T0);
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int n = 0; n < 2; n++) {
            __m512i p[QT_ACTS][8];  /* group 8n + j */
            for (int i = 0; i < C; i++) {
                const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                XV_UNROLL
                for (int j = 0; j < 8; j++) p[i][j] = _mm512_set1_epi32(A->bs[8 * n + j]);
            }
            XV_UNROLL
            for (int g = 0; g < 8; g++) {
                const __m512i H = _mm512_loadu_si512(X->qh[n][g]);
                const __m512i L0 = _mm512_loadu_si512(X->ql[n][0][g]), L1 = _mm512_loadu_si512(X->ql[n][1][g]);
                /* bit select (0xE4: lo4 ? first : second) = four low bits | the two high ones at 4, 5 */
                const __m512i v[4] = {
                    _mm512_ternarylogic_epi32(L0, _mm512_and_si512(_mm512_slli_epi16(H, 4), m30), lo4, 0xE4),
                    _mm512_ternarylogic_epi32(L1, _mm512_and_si512(_mm512_slli_epi16(H, 2), m30), lo4, 0xE4),
                    _mm512_ternarylogic_epi32(_mm512_srli_epi16(L0, 4), _mm512_and_si512(H, m30), lo4, 0xE4),
                    _mm512_ternarylogic_epi32(_mm512_srli_epi16(L1, 4), _mm512_and_si512(_mm512_srli_epi16(H, 2), m30), lo4, 0xE4),
                };
                for (int i = 0; i < C; i++) {
                    const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                    XV_UNROLL
                    for (int h = 0; h < 4; h++)
                        p[i][2 * h + g / 4] = _mm512_dpbusd_epi32(p[i][2 * h + g / 4], v[h], bcast4k(A, 128 * n + 32 * h + 4 * g));
                }
            }
            XV_UNROLL
            for (int j = 0; j < 8; j++) {
                const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)X->sc[8 * n + j]));
                for (int i = 0; i < C; i++) isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(p[i][j], sc));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X->d));
        for (int i = 0; i < C; i++) {
            const act_x16k *A = (const act_x16k *)(a + i * as) + b;
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(d, _mm512_set1_ps(A->d)), acc[i]);
        }
    }
    for (int i = 0; i < C; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}

XV_INLINE void q4k_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C, int64_t nb) {
    xk4_kern(0, w, a, as, c, ldc, C, nb);
}
XV_INLINE void q5k_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C, int64_t nb) {
    xk4_kern(1, w, a, as, c, ldc, C, nb);
}

/* activation rows two at a time (a K-quant group's chains take 8 registers per row), then one */
#define X16K_TILE(name, kern)                                                                          static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc,                      int nr, int na, int64_t nb) {                                                         (void)ws, (void)nr;                                                                                for (; na >= 2; na -= 2, a += 2 * as, c += 2 * ldc) kern(w, a, as, c, ldc, 2, nb);                 if (na == 1) kern(w, a, as, c, ldc, 1, nb);                                                    }
X16K_TILE(tile_q4_k, q4k_kern)
X16K_TILE(tile_q5_k, q5k_kern)
X16K_TILE(tile_q6_k, xk6_kern)

lmk_qkernels lmk_qkernels_x16_avx512vnni(lmk_qfmt fmt) {
    const int kquant = lmk_qblock_elems(fmt) == QK_K;
    lmk_qkernels k = {NULL, kquant ? lmk_act_q8k_avx512 : lmk_act_q8_avx512, lmk_qx16_prep(fmt), lmk_qx16_prep_bytes(fmt)};
    k.tile = fmt == LMK_Q5_K ? tile_q5_k : lmk_qtile_pick(fmt, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, tile_q4_k, tile_q6_k);
    return k;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
