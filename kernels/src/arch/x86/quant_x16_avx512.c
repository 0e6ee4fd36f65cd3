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

/* ggml's kvalues_iq4nl + 128 in each 128-bit lane: vpshufb turns IQ4_NL / IQ4_XS nibbles into
 * the unsigned levels vpdpbusd takes (the -128 · Σa comes back from the activation's prep) */
XV_INLINE __m512i iq4_levels_u8(void) {
    return _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153,
                                                (char)166, (char)181, (char)197, (char)217, (char)241));
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
        if (fmt == LMK_IQ4_NL) {
            W.q[k] = _mm512_shuffle_epi8(iq4_levels_u8(), W.q[k]);
            W.q[4 + k] = _mm512_shuffle_epi8(iq4_levels_u8(), W.q[4 + k]);
        }
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
X16_TILE(tile_iq4_nl, LMK_IQ4_NL)

/* ---------------------------------------------------------------- K-quants: Q2_K .. Q6_K, IQ4_XS */

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

/* Q4_K / Q5_K values 64ch + 4g.. (lo, sub-block 2ch) and 64ch + 32 + 4g.. (hi, 2ch + 1) of the
 * block at X: nibbles, with Q5_K's fifth bits; unpacked as vectors 16ch + 2g, + 1 */
XV_INLINE void xk4_values(const int q5, const uint8_t *X, const int ch, const int g, __m512i *lo, __m512i *hi) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(0x10);
    const uint8_t(*qs)[8][16][4] = q5 ? ((const x16_q5_k *)X)->qs : ((const x16_q4_k *)X)->qs;
    const __m512i v = _mm512_loadu_si512(qs[ch][g]);
    *lo = _mm512_and_si512(v, lo4), *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
    if (q5) {  /* bits 2ch, 2ch + 1 of the qh byte moved to bit 4: lo | (shifted & 0x10) */
        const __m512i qh = _mm512_loadu_si512(((const x16_q5_k *)X)->qh[g]);
        const __m512i b_lo = 2 * ch <= 4 ? _mm512_slli_epi16(qh, 4 - 2 * ch) : _mm512_srli_epi16(qh, 2 * ch - 4);
        const __m512i b_hi = 2 * ch + 1 <= 4 ? _mm512_slli_epi16(qh, 3 - 2 * ch) : _mm512_srli_epi16(qh, 2 * ch - 3);
        *lo = _mm512_ternarylogic_epi32(*lo, b_lo, sixteen, 0xF8);
        *hi = _mm512_ternarylogic_epi32(*hi, b_hi, sixteen, 0xF8);
    }
}

/* 16 rows (one Q4_K or Q5_K group) × C activation rows over nb super-blocks. Per chunk c of 64
 * values: eight vectors of nibbles (with Q5_K's fifth bits) make sub-blocks 2c and 2c + 1, each
 * summed in two chains per activation row. */
XV_INLINE void xk4_kern(const int q5, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                        const int C, int64_t nb) {
    const int64_t bb = q5 ? (int64_t)sizeof(x16_q5_k) : (int64_t)sizeof(x16_q4_k);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        if (C < 4) for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)(X + 2 * bb + l), _MM_HINT_T0);
        const x16_q4_k *X4 = (const x16_q4_k *)X;
        const xk4_scales S = xk4_scales_load(X, X4->sl, X4->ml, X4->sh);  /* Q5_K's begin the same */
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int ch = 0; ch < 4; ch++) {
            __m512i pe[QT_ACTS][2], po[QT_ACTS][2];
            for (int i = 0; i < C; i++)
                pe[i][0] = pe[i][1] = po[i][0] = po[i][1] = _mm512_setzero_si512();
            XV_UNROLL
            for (int g = 0; g < 8; g++) {
                __m512i lo, hi;
                xk4_values(q5, X, ch, g, &lo, &hi);
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
 * and two of ql make values 128n + 32h + 4g.. (h < 4), group 8n + 2h + g / 4 of 16. Steps g < 4
 * and g >= 4 feed different groups, so a quarter (n, e = g / 4) keeps only four chains per
 * activation row live, each started at its group's -32 · Σa and scaled as the quarter ends: with
 * four activation rows that is 16 chains, and the rows' sums wait in c (updated once per
 * super-block). */
XV_INLINE void xk6_values(const x16_q6_k *X, const int n, const int g, __m512i v[4]) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i H = _mm512_loadu_si512(X->qh[n][g]);
    const __m512i L0 = _mm512_loadu_si512(X->ql[n][0][g]), L1 = _mm512_loadu_si512(X->ql[n][1][g]);
    /* bit select (0xE4: lo4 ? first : second) = four low bits | the two high ones at 4, 5 */
    v[0] = _mm512_ternarylogic_epi32(L0, _mm512_and_si512(_mm512_slli_epi16(H, 4), m30), lo4, 0xE4);
    v[1] = _mm512_ternarylogic_epi32(L1, _mm512_and_si512(_mm512_slli_epi16(H, 2), m30), lo4, 0xE4);
    v[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(L0, 4), _mm512_and_si512(H, m30), lo4, 0xE4);
    v[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(L1, 4), _mm512_and_si512(_mm512_srli_epi16(H, 2), m30), lo4, 0xE4);
}

XV_INLINE void xk6_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C,
                        int64_t nb) {
    const int64_t bb = (int64_t)sizeof(x16_q6_k);
    for (int i = 0; i < C; i++) _mm512_storeu_ps(c + i * ldc, _mm512_setzero_ps());
    for (int64_t b = 0; b < nb; b++) {
        const x16_q6_k *X = (const x16_q6_k *)(w + b * bb);
        if (C < 4) for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)X + 2 * bb + l, _MM_HINT_T0);
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int q = 0; q < 4; q++) {
            const int n = q / 2, e = q % 2;
            __m512i p[QT_ACTS][4];  /* group 8n + 2h + e */
            for (int i = 0; i < C; i++) {
                const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                XV_UNROLL
                for (int h = 0; h < 4; h++) p[i][h] = _mm512_set1_epi32(A->bs[8 * n + 2 * h + e]);
            }
            XV_UNROLL
            for (int g = 4 * e; g < 4 * e + 4; g++) {
                __m512i v[4];
                xk6_values(X, n, g, v);
                for (int i = 0; i < C; i++) {
                    const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                    XV_UNROLL
                    for (int h = 0; h < 4; h++)
                        p[i][h] = _mm512_dpbusd_epi32(p[i][h], v[h], bcast4k(A, 128 * n + 32 * h + 4 * g));
                }
            }
            XV_UNROLL
            for (int h = 0; h < 4; h++) {
                const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)X->sc[8 * n + 2 * h + e]));
                for (int i = 0; i < C; i++) isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(p[i][h], sc));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X->d));
        for (int i = 0; i < C; i++) {
            const act_x16k *A = (const act_x16k *)(a + i * as) + b;
            const __m512 s = _mm512_mul_ps(d, _mm512_set1_ps(A->d));
            _mm512_storeu_ps(c + i * ldc, _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), s, _mm512_loadu_ps(c + i * ldc)));
        }
    }
}

/* Q3_K's six-bit scale of group g for 16 rows, in dword lanes (lmk_q3k_scales): the low four
 * bits are a nibble of scales[g % 8] (low for g < 8), the top two bits field g / 4 of
 * scales[8 + g % 4]; minus 32 */
XV_INLINE __m512i xk3_scale(const x16_q3_k *X, const int g) {
    const __m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X->sc[g % 8]));
    const __m512i hi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X->sc[8 + g % 4]));
    const __m512i low = g < 8 ? _mm512_and_si512(lo, _mm512_set1_epi32(0x0F)) : _mm512_srli_epi32(lo, 4);
    const __m512i top = _mm512_and_si512(_mm512_srli_epi32(hi, 2 * (g / 4)), _mm512_set1_epi32(3));
    return _mm512_sub_epi32(_mm512_or_si512(low, _mm512_slli_epi32(top, 4)), _mm512_set1_epi32(32));
}

/* 16 Q2_K or Q3_K rows × C activation rows over nb super-blocks. A quarter (half n, e) takes the
 * four vectors k = 4e.. of the half's two-bit values; their bit pairs j are groups 8n + 2j + e, one
 * chain each per activation row (Q3_K's third bit from hm, its -4 from the chain's start at
 * -4 · Σa), scaled per row as the quarter ends. Q2_K's mins: eight vpdpwssd of the rows' min
 * pairs against the activation's group sums. */
/* Q2_K / Q3_K values 128n + 32j + 4k.. (j < 4) of the block at X, unpacked as vectors 32n + 4k + j */
XV_INLINE void xk23_values(const int q3, const uint8_t *X, const int n, const int k, __m512i v[4]) {
    const __m512i m3 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(4);
    const x16_q3_k *X3 = (const x16_q3_k *)X;
    const __m512i q = _mm512_loadu_si512(q3 ? X3->qs[n][k] : ((const x16_q2_k *)X)->qs[n][k]);
    const __m512i H = q3 ? _mm512_loadu_si512(X3->hm[k]) : _mm512_setzero_si512();
    XV_UNROLL
    for (int j = 0; j < 4; j++) {
        v[j] = _mm512_and_si512(j ? _mm512_srli_epi16(q, 2 * j) : q, m3);
        if (q3) {  /* bit 4n + j of the hmask byte, at bit 2 */
            const int t = 4 * n + j - 2;
            const __m512i h = t > 0 ? _mm512_srli_epi16(H, t) : t < 0 ? _mm512_slli_epi16(H, -t) : H;
            v[j] = _mm512_ternarylogic_epi32(v[j], h, m4, 0xF8);   /* v | (h & m4) */
        }
    }
}

XV_INLINE void xk23_kern(const int q3, const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc,
                         const int C, int64_t nb) {
    const int64_t bb = q3 ? (int64_t)sizeof(x16_q3_k) : (int64_t)sizeof(x16_q2_k);
    const __m512i mF = _mm512_set1_epi32(0x0F);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        const x16_q2_k *X2 = (const x16_q2_k *)X;
        const x16_q3_k *X3 = (const x16_q3_k *)X;
        if (C < 4) for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)X + 2 * bb + l, _MM_HINT_T0);
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int q = 0; q < 4; q++) {
            const int n = q / 2, e = q % 2;
            __m512i p[QT_ACTS][4];  /* group 8n + 2j + e */
            for (int i = 0; i < C; i++) {
                const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                XV_UNROLL
                for (int j = 0; j < 4; j++) p[i][j] = q3 ? _mm512_set1_epi32(A->bs[8 * n + 2 * j + e]) : _mm512_setzero_si512();
            }
            XV_UNROLL
            for (int k = 4 * e; k < 4 * e + 4; k++) {
                __m512i v[4];
                xk23_values(q3, X, n, k, v);
                XV_UNROLL
                for (int j = 0; j < 4; j++)
                    for (int i = 0; i < C; i++) {
                        const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                        p[i][j] = _mm512_dpbusd_epi32(p[i][j], v[j], bcast4k(A, 128 * n + 32 * j + 4 * k));
                    }
            }
            XV_UNROLL
            for (int j = 0; j < 4; j++) {
                const int g = 8 * n + 2 * j + e;
                const __m512i sc = q3 ? xk3_scale(X3, g)
                                      : _mm512_and_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[g])), mF);
                for (int i = 0; i < C; i++) isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(p[i][j], sc));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X));
        __m512i mn2[8];
        if (!q3)
            for (int pr = 0; pr < 8; pr++) {
                const __m512i m0 = _mm512_srli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[2 * pr])), 4);
                const __m512i m1 = _mm512_srli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[2 * pr + 1])), 4);
                mn2[pr] = _mm512_or_si512(m0, _mm512_slli_epi32(m1, 16));
            }
        for (int i = 0; i < C; i++) {
            const act_x16k *A = (const act_x16k *)(a + i * as) + b;
            const __m512 ad = _mm512_set1_ps(A->d);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(d, ad), acc[i]);
            if (!q3) {
                __m512i mins = _mm512_setzero_si512();
                for (int pr = 0; pr < 8; pr++) mins = _mm512_dpwssd_epi32(mins, mn2[pr], _mm512_set1_epi32(A->bs[pr]));
                const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X2->dmin));
                acc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(dmin, ad), acc[i]);
            }
        }
    }
    for (int i = 0; i < C; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}


/* 16 IQ4_XS rows × C activation rows over nb super-blocks. A nibble picks its level (ggml's
 * kvalues_iq4nl) by vpshufb, as the unsigned level + 128 vpdpbusd takes; each sub-block's two
 * chains per activation row start at -128 · Σa (act_x16k.bs), so their sum is Σ level · a, then
 * scaled by the rows' six-bit scale - 32. */
XV_INLINE void xiq4xs_values(const x16_iq4_xs *X, const int s, const int g, __m512i *lo, __m512i *hi) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), levels = iq4_levels_u8();
    const __m512i v = _mm512_loadu_si512(X->qs[s][g]);
    *lo = _mm512_shuffle_epi8(levels, _mm512_and_si512(v, lo4));
    *hi = _mm512_shuffle_epi8(levels, _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
}

/* the 16 rows' scales of the eight sub-blocks, minus 32: sub-block 2j's is scales_l[j]'s low
 * nibble | bits 4j, 4j + 1 of scales_h at 4, 5; 2j + 1's the high nibble | bits 4j + 2, 4j + 3 */
XV_INLINE void xiq4xs_scales(const x16_iq4_xs *X, __m512i sc[8]) {
    const __m512i mF = _mm512_set1_epi32(0x0F), m30 = _mm512_set1_epi32(0x30), k32 = _mm512_set1_epi32(32);
    const __m512i H = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)X->sh));
    XV_UNROLL
    for (int j = 0; j < 4; j++) {
        const __m512i L = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X->sl[j]));
        const __m512i B = j ? _mm512_srli_epi32(H, 4 * j) : H;
        /* bit select (0xE4: mF ? first : second): the low nibble | the top two bits at 4, 5 */
        sc[2 * j] = _mm512_sub_epi32(_mm512_ternarylogic_epi32(L, _mm512_and_si512(_mm512_slli_epi32(B, 4), m30), mF, 0xE4), k32);
        sc[2 * j + 1] = _mm512_sub_epi32(
            _mm512_or_si512(_mm512_srli_epi32(L, 4), _mm512_and_si512(_mm512_slli_epi32(B, 2), m30)), k32);
    }
}

XV_INLINE void xiq4xs_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C,
                           int64_t nb) {
    const int64_t bb = (int64_t)sizeof(x16_iq4_xs);
    __m512 acc[QT_ACTS];
    for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const x16_iq4_xs *X = (const x16_iq4_xs *)(w + b * bb);
        if (C < 4) for (int64_t l = 0; l < bb; l += 64) _mm_prefetch((const char *)X + 2 * bb + l, _MM_HINT_T0);
        __m512i sc[8];
        xiq4xs_scales(X, sc);
        __m512i isum[QT_ACTS];
        for (int i = 0; i < C; i++) isum[i] = _mm512_setzero_si512();
        XV_UNROLL
        for (int s = 0; s < 8; s++) {
            __m512i p[QT_ACTS][2];
            for (int i = 0; i < C; i++) {
                p[i][0] = _mm512_set1_epi32(((const act_x16k *)(a + i * as) + b)->bs[s]);
                p[i][1] = _mm512_setzero_si512();
            }
            XV_UNROLL
            for (int g = 0; g < 4; g++) {
                __m512i lo, hi;
                xiq4xs_values(X, s, g, &lo, &hi);
                for (int i = 0; i < C; i++) {
                    const act_x16k *A = (const act_x16k *)(a + i * as) + b;
                    p[i][0] = _mm512_dpbusd_epi32(p[i][0], lo, bcast4k(A, 32 * s + 4 * g));
                    p[i][1] = _mm512_dpbusd_epi32(p[i][1], hi, bcast4k(A, 32 * s + 16 + 4 * g));
                }
            }
            for (int i = 0; i < C; i++)
                isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(_mm512_add_epi32(p[i][0], p[i][1]), sc[s]));
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)X->d));
        for (int i = 0; i < C; i++) {
            const __m512 ad = _mm512_set1_ps(((const act_x16k *)(a + i * as) + b)->d);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(d, ad), acc[i]);
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
XV_INLINE void q2k_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C, int64_t nb) {
    xk23_kern(0, w, a, as, c, ldc, C, nb);
}
XV_INLINE void q3k_kern(const uint8_t *w, const uint8_t *a, int64_t as, float *c, int64_t ldc, const int C, int64_t nb) {
    xk23_kern(1, w, a, as, c, ldc, C, nb);
}

/* activation rows four at a time (prefill: the weights' unpacking and scale loads serve four),
 * then two, then one */
#define X16K_TILE(name, kern)                                                                     \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                 \
        (void)ws, (void)nr;                                                                        \
        for (; na >= 4; na -= 4, a += 4 * as, c += 4 * ldc) kern(w, a, as, c, ldc, 4, nb);       \
        if (na >= 2) {                                                                             \
            kern(w, a, as, c, ldc, 2, nb);                                                         \
            na -= 2, a += 2 * as, c += 2 * ldc;                                                    \
        }                                                                                          \
        if (na == 1) kern(w, a, as, c, ldc, 1, nb);                                                \
    }
X16K_TILE(tile_q4_k, q4k_kern)
X16K_TILE(tile_q5_k, q5k_kern)
X16K_TILE(tile_q6_k, xk6_kern)
X16K_TILE(tile_iq4_xs, xiq4xs_kern)
X16K_TILE(tile_q2_k, q2k_kern)
X16K_TILE(tile_q3_k, q3k_kern)

/* ---------------------------------------------------------------- K-quant prefill, unpacked */

/* A K-quant block of 16 rows unpacked once per call (LMK_QU_BYTES): every value as the tile
 * builds it, in order (q[v]: values 4v..4v+3 of each row), the scale of each group of G values
 * (G = 16 or 32 by format) in dword lanes, the mins as i16 pairs (Q2_K: groups 2p, 2p + 1;
 * Q4_K / Q5_K: sub-blocks 2p, 2p + 1) and the rows' d and dmin as floats. One kernel then serves
 * every K-quant, with no bit work left in its loop: per group it runs G / 4 vpdpbusd per row
 * panel and activation row, over two panels (32 weight rows) so one broadcast of the
 * activation's four bytes feeds two of them. */
typedef struct {
    uint8_t q[64][64];
    int32_t sc[16][16], mn2[8][16];
    float d[16], dmin[16];
} xu_block;
typedef char lmk_assert_xu[sizeof(xu_block) == LMK_QU_BYTES ? 1 : -1];

XV_INLINE void xu_put(xu_block *U, int v, __m512i x) { _mm512_store_si512(U->q[v], x); }
XV_INLINE void xu_scale(xu_block *U, int g, __m512i x) { _mm512_store_si512(U->sc[g], x); }
XV_INLINE void xu_d(xu_block *U, const uint16_t *d, const uint16_t *dmin) {
    _mm512_store_ps(U->d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));
    _mm512_store_ps(U->dmin, dmin ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dmin)) : _mm512_setzero_ps());
}

XV_INLINE void xu_unpack_k4(const int q5, const uint8_t *w, uint8_t *u, int64_t nb) {
    const int64_t bb = q5 ? (int64_t)sizeof(x16_q5_k) : (int64_t)sizeof(x16_q4_k);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        const x16_q4_k *X4 = (const x16_q4_k *)X;
        xu_block *U = (xu_block *)u + b;
        XV_UNROLL
        for (int v = 0; v < 32; v++) {  /* chunk ch = v / 8: values 64ch + 4g.. and 64ch + 32 + 4g.. */
            __m512i lo, hi;
            xk4_values(q5, X, v / 8, v % 8, &lo, &hi);
            xu_put(U, 16 * (v / 8) + v % 8, lo), xu_put(U, 16 * (v / 8) + 8 + v % 8, hi);
        }
        const xk4_scales S = xk4_scales_load(X, X4->sl, X4->ml, X4->sh);
        for (int j = 0; j < 8; j++) xu_scale(U, j, S.sc[j]);
        for (int p = 0; p < 4; p++) _mm512_store_si512(U->mn2[p], S.mn2[p]);
        xu_d(U, X4->d, X4->dmin);
    }
}
static void unpack_q4_k(const uint8_t *w, uint8_t *u, int64_t nb) { xu_unpack_k4(0, w, u, nb); }
static void unpack_q5_k(const uint8_t *w, uint8_t *u, int64_t nb) { xu_unpack_k4(1, w, u, nb); }

static void unpack_q6_k(const uint8_t *w, uint8_t *u, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const x16_q6_k *X = (const x16_q6_k *)w + b;
        xu_block *U = (xu_block *)u + b;
        XV_UNROLL
        for (int v = 0; v < 16; v++) {  /* half n = v / 8, step g: values 128n + 32h + 4g.. */
            __m512i x[4];
            xk6_values(X, v / 8, v % 8, x);
            for (int h = 0; h < 4; h++) xu_put(U, 32 * (v / 8) + 8 * h + v % 8, x[h]);
        }
        for (int g = 0; g < 16; g++) xu_scale(U, g, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)X->sc[g])));
        xu_d(U, X->d, NULL);
    }
}

XV_INLINE void xu_unpack_k23(const int q3, const uint8_t *w, uint8_t *u, int64_t nb) {
    const int64_t bb = q3 ? (int64_t)sizeof(x16_q3_k) : (int64_t)sizeof(x16_q2_k);
    const __m512i mF = _mm512_set1_epi32(0x0F);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *X = w + b * bb;
        const x16_q2_k *X2 = (const x16_q2_k *)X;
        xu_block *U = (xu_block *)u + b;
        XV_UNROLL
        for (int v = 0; v < 16; v++) {  /* half n = v / 8, step k: values 128n + 32j + 4k.. */
            __m512i x[4];
            xk23_values(q3, X, v / 8, v % 8, x);
            for (int j = 0; j < 4; j++) xu_put(U, 32 * (v / 8) + 8 * j + v % 8, x[j]);
        }
        for (int g = 0; g < 16; g++)
            xu_scale(U, g, q3 ? xk3_scale((const x16_q3_k *)X, g)
                              : _mm512_and_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[g])), mF));
        if (!q3)
            for (int p = 0; p < 8; p++) {
                const __m512i m0 = _mm512_srli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[2 * p])), 4);
                const __m512i m1 = _mm512_srli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)X2->sc[2 * p + 1])), 4);
                _mm512_store_si512(U->mn2[p], _mm512_or_si512(m0, _mm512_slli_epi32(m1, 16)));
            }
        xu_d(U, (const uint16_t *)X, q3 ? NULL : X2->dmin);
    }
}
static void unpack_q2_k(const uint8_t *w, uint8_t *u, int64_t nb) { xu_unpack_k23(0, w, u, nb); }
static void unpack_q3_k(const uint8_t *w, uint8_t *u, int64_t nb) { xu_unpack_k23(1, w, u, nb); }

static void unpack_iq4_xs(const uint8_t *w, uint8_t *u, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const x16_iq4_xs *X = (const x16_iq4_xs *)w + b;
        xu_block *U = (xu_block *)u + b;
        XV_UNROLL
        for (int v = 0; v < 32; v++) {  /* sub-block s = v / 4: values 32s + 4g.. and 32s + 16 + 4g.. */
            __m512i lo, hi;
            xiq4xs_values(X, v / 4, v % 4, &lo, &hi);
            xu_put(U, 8 * (v / 4) + v % 4, lo), xu_put(U, 8 * (v / 4) + 4 + v % 4, hi);
        }
        __m512i sc[8];
        xiq4xs_scales(X, sc);
        for (int s = 0; s < 8; s++) xu_scale(U, s, sc[s]);
        xu_d(U, X->d, NULL);
    }
}

/* acc + x · the four bytes at a in every dword lane, the broadcast folded into vpdpbusd's memory
 * operand (the asm keeps the compiler from hoisting it into a register of its own) */
XV_INLINE __m512i xu_dpbusd_bcast(__m512i acc, __m512i x, const int8_t *a) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const int32_t *)a));
    return acc;
}

/* One step of four activation rows (their four bytes at b, b + as, b + 2as and b3) against
 * one or two panels' values x0, x1, into the chains ch[p][i], written out so that the compiler
 * cannot rearrange it. Two panels: each activation dword is broadcast once into a register and
 * feeds both (6 loads for 8 vpdpbusd; the loop had been bound by the load ports at 10); one
 * panel: the broadcast rides in vpdpbusd's memory operand. The addresses are the CPU's own
 * base + index·scale forms: left to the compiler, four row pointers and their offsets took an
 * lea per vpdpbusd. One thread, 2816 x 1024, 256 rows, A/B in one session: Q6_K 2.50 -> 2.18 ms,
 * Q3_K 2.42 -> 2.09, Q4_K and Q5_K 2.35 -> 2.13. The activations are written before the kernel
 * is called (another translation unit), so the asm reads them without a memory clobber. */
#define XU_DP(mem, x, c) "vpdpbusd " mem "%{1to16%}, %[" x "], %[" c "]\n\t"
XV_INLINE void xu_dp4x2(__m512i ch[2][QT_ACTS], __m512i x0, __m512i x1, const int8_t *b, int64_t as,
                        const int8_t *b3) {
    __m512i t0, t1, t2, t3;
    __asm__("vpbroadcastd (%[b]), %[t0]\n\t"
            "vpbroadcastd (%[b],%[s],1), %[t1]\n\t"
            "vpbroadcastd (%[b],%[s],2), %[t2]\n\t"
            "vpbroadcastd (%[b3]), %[t3]\n\t"
            "vpdpbusd %[t0], %[x0], %[c00]\n\t" "vpdpbusd %[t0], %[x1], %[c10]\n\t"
            "vpdpbusd %[t1], %[x0], %[c01]\n\t" "vpdpbusd %[t1], %[x1], %[c11]\n\t"
            "vpdpbusd %[t2], %[x0], %[c02]\n\t" "vpdpbusd %[t2], %[x1], %[c12]\n\t"
            "vpdpbusd %[t3], %[x0], %[c03]\n\t" "vpdpbusd %[t3], %[x1], %[c13]"
            : [c00] "+v"(ch[0][0]), [c01] "+v"(ch[0][1]), [c02] "+v"(ch[0][2]), [c03] "+v"(ch[0][3]),
              [c10] "+v"(ch[1][0]), [c11] "+v"(ch[1][1]), [c12] "+v"(ch[1][2]), [c13] "+v"(ch[1][3]),
              [t0] "=&v"(t0), [t1] "=&v"(t1), [t2] "=&v"(t2), [t3] "=&v"(t3)
            : [x0] "v"(x0), [x1] "v"(x1), [b] "r"(b), [s] "r"(as), [b3] "r"(b3));
}
XV_INLINE void xu_dp4x1(__m512i ch[2][QT_ACTS], __m512i x0, const int8_t *b, int64_t as, const int8_t *b3) {
    __asm__(XU_DP("(%[b])", "x0", "c00") XU_DP("(%[b],%[s],1)", "x0", "c01")
            XU_DP("(%[b],%[s],2)", "x0", "c02") XU_DP("(%[b3])", "x0", "c03")
            : [c00] "+v"(ch[0][0]), [c01] "+v"(ch[0][1]), [c02] "+v"(ch[0][2]), [c03] "+v"(ch[0][3])
            : [x0] "v"(x0), [b] "r"(b), [s] "r"(as), [b3] "r"(b3));
}

/* group g (G values) of P panels' blocks U against C activations' blocks A: each chain starts at
 * the group's offset (or 0 where the format has mins), is multiplied by the rows' scales and
 * added to isum */
XV_INLINE void xu_group(const int G, const int mins, const int P, const int C, const xu_block *const *U,
                        const act_x16k *const *A, const int g, __m512i isum[2][QT_ACTS]) {
    __m512i ch[2][QT_ACTS];
    for (int i = 0; i < C; i++) {
        const __m512i start = mins ? _mm512_setzero_si512() : _mm512_set1_epi32(A[i]->bs[g]);
        for (int p = 0; p < P; p++) ch[p][i] = start;
    }
    const uint8_t (*q[2])[64] = {U[0]->q + (int64_t)g * G / 4, U[P - 1]->q + (int64_t)g * G / 4};
    if (C == 4) {
        /* four activation rows as, in bytes, apart: their bytes at b, b + as, b + 2as, b3 */
        const int8_t *b = A[0]->qs + (int64_t)g * G, *b3 = A[3]->qs + (int64_t)g * G;
        const int64_t as = (const char *)A[1] - (const char *)A[0];
        XV_UNROLL
        for (int64_t j = 0; j < G / 4; j++, b += 4, b3 += 4) {
            const __m512i x0 = _mm512_load_si512(q[0][j]);
            if (P == 2) xu_dp4x2(ch, x0, _mm512_load_si512(q[1][j]), b, as, b3);
            else xu_dp4x1(ch, x0, b, as, b3);
        }
    } else {
        const int8_t *qa[QT_ACTS];
        for (int i = 0; i < C; i++) qa[i] = A[i]->qs + (int64_t)g * G;
        XV_UNROLL
        for (int64_t j = 0; j < G / 4; j++) {
            __m512i x[2];
            for (int p = 0; p < P; p++) x[p] = _mm512_load_si512(q[p][j]);
            for (int i = 0; i < C; i++)
                for (int p = 0; p < P; p++) ch[p][i] = xu_dpbusd_bcast(ch[p][i], x[p], qa[i] + 4 * j);
        }
    }
    for (int p = 0; p < P; p++) {
        const __m512i sc = _mm512_load_si512(U[p]->sc[g]);
        for (int i = 0; i < C; i++) isum[p][i] = _mm512_add_epi32(isum[p][i], _mm512_mullo_epi32(ch[p][i], sc));
    }
}

/* P panels of unpacked blocks (u[p], P · 16 weight rows, the outputs c + 16p) × C activation rows
 * over nb blocks, adding to c if more. G: the values per scale group; mins: the format has mins
 * (Q2_K, Q4_K, Q5_K: their pairs against act_x16k.bs) rather than an offset (Q3_K, Q6_K,
 * IQ4_XS: each group's chain starts at its bs). The float steps are each tile's, in its order. */
XV_INLINE void xu_kern(const int G, const int mins, const int P, const uint8_t *const *u, const uint8_t *a,
                       int64_t as, float *c, int64_t ldc, const int C, int64_t nb, int more) {
    if (!more)
        for (int i = 0; i < C; i++)
            for (int p = 0; p < P; p++) _mm512_storeu_ps(c + i * ldc + 16 * p, _mm512_setzero_ps());
    for (int64_t b = 0; b < nb; b++) {
        const xu_block *U[2] = {(const xu_block *)u[0] + b, (const xu_block *)u[P - 1] + b};
        const act_x16k *A[QT_ACTS];
        for (int i = 0; i < C; i++) A[i] = (const act_x16k *)(a + i * as) + b;
        __m512i isum[2][QT_ACTS];
        for (int p = 0; p < P; p++)
            for (int i = 0; i < C; i++) isum[p][i] = _mm512_setzero_si512();
        /* the groups two at a time: unrolled whole, every group's loads go in flight at once and
         * the chains spill (Q6_K 3.8 -> 2.5 ms, one thread, 2816 x 1024, 256 rows); Q2_K's sixteen
         * groups, whose mins leave fewer registers live, still gain from the whole unroll */
        if (mins && G == 16) {
            XV_UNROLL
            for (int g = 0; g < 256 / G; g++) xu_group(G, mins, P, C, U, A, g, isum);
        } else {
            _Pragma("GCC unroll 2")
            for (int g = 0; g < 256 / G; g++) xu_group(G, mins, P, C, U, A, g, isum);
        }
        for (int p = 0; p < P; p++) {
            const __m512 d = _mm512_load_ps(U[p]->d);
            for (int i = 0; i < C; i++) {
                const __m512 ad = _mm512_set1_ps(A[i]->d);
                float *ci = c + i * ldc + 16 * p;
                __m512 acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[p][i]), _mm512_mul_ps(d, ad), _mm512_loadu_ps(ci));
                if (mins) {
                    __m512i m = _mm512_setzero_si512();
                    for (int q = 0; q < 128 / G; q++)
                        m = _mm512_dpwssd_epi32(m, _mm512_load_si512(U[p]->mn2[q]), _mm512_set1_epi32(A[i]->bs[q]));
                    acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(_mm512_load_ps(U[p]->dmin), ad), acc);
                }
                _mm512_storeu_ps(ci, acc);
            }
        }
    }
}

/* activation rows four at a time, then two, then one, over np (1 or 2) panels */
#define XU_TILE(name, G, mins)                                                                     \
    static void name(const uint8_t *const *u, int np, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int64_t na, int64_t nb, int more) {                                           \
        if (np == 2) {                                                                             \
            for (; na >= 4; na -= 4, a += 4 * as, c += 4 * ldc) xu_kern(G, mins, 2, u, a, as, c, ldc, 4, nb, more); \
            for (; na >= 1; na -= 1, a += as, c += ldc) xu_kern(G, mins, 2, u, a, as, c, ldc, 1, nb, more); \
        } else {                                                                                   \
            for (; na >= 4; na -= 4, a += 4 * as, c += 4 * ldc) xu_kern(G, mins, 1, u, a, as, c, ldc, 4, nb, more); \
            for (; na >= 1; na -= 1, a += as, c += ldc) xu_kern(G, mins, 1, u, a, as, c, ldc, 1, nb, more); \
        }                                                                                          \
    }
XU_TILE(utile_g16, 16, 0)       /* Q3_K, Q6_K */
XU_TILE(utile_g16_mins, 16, 1)  /* Q2_K */
XU_TILE(utile_g32, 32, 0)       /* IQ4_XS */
XU_TILE(utile_g32_mins, 32, 1)  /* Q4_K, Q5_K */

lmk_qkernels lmk_qkernels_x16_avx512vnni(lmk_qfmt fmt) {
    const int kquant = lmk_qblock_elems(fmt) == QK_K;
    lmk_qkernels k = {.act = kquant ? lmk_act_q8k_avx512 : lmk_act_q8_avx512, .prep = lmk_qx16_prep(fmt),
                      .prep_bytes = lmk_qx16_prep_bytes(fmt)};
    static const lmk_qtiles tiles = {.q8_0 = tile_q8_0, .q4_0 = tile_q4_0, .q4_1 = tile_q4_1, .q5_0 = tile_q5_0,
                                     .iq4_nl = tile_iq4_nl, .q2_k = tile_q2_k, .q3_k = tile_q3_k, .q4_k = tile_q4_k,
                                     .q5_k = tile_q5_k, .q6_k = tile_q6_k, .iq4_xs = tile_iq4_xs};
    k.tile = lmk_qtile_of(fmt, &tiles);
    switch ((int)fmt) {
    case LMK_Q2_K: k.unpack = unpack_q2_k, k.utile = utile_g16_mins; break;
    case LMK_Q3_K: k.unpack = unpack_q3_k, k.utile = utile_g16; break;
    case LMK_Q4_K: k.unpack = unpack_q4_k, k.utile = utile_g32_mins; break;
    case LMK_Q5_K: k.unpack = unpack_q5_k, k.utile = utile_g32_mins; break;
    case LMK_Q6_K: k.unpack = unpack_q6_k, k.utile = utile_g16; break;
    case LMK_IQ4_XS: k.unpack = unpack_iq4_xs, k.utile = utile_g32; break;
    }
    return k;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
