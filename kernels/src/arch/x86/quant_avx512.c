/* Quant family, AVX-512 (F, BW, DQ, VL): the int8 dot kernels on 512-bit registers.
 *
 * The 32-blocks go two at a time (one block per 256-bit half); the K-quants take 64 elements
 * per step. Same arithmetic as quant_avx2.c: maddubs (u8 × s8 → i16 pairs) then madd to i32,
 * offsets folded out with the activation sums. Dequantize is store-bound, so it reuses the
 * AVX2 kernel (AVX-512 implies AVX2 in cpu.c's check). */
#include <immintrin.h>

#include "../../quant_internal.h"
#include "vmath_avx2.h"

static inline float f16(uint16_t h) { return _cvtsh_ss(h); }

void lmk_dequantize_avx512(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    lmk_dequantize_avx2(fmt, q, y, nb);
}

static inline __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline __m512 join_ps(float lo, float hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(lo)), _mm256_set1_ps(hi), 1);
}

/* 16 packed bytes → 32 bytes: low nibbles (elements 0..15), then high nibbles (16..31). */
static inline __m256i nibbles_32(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
}

/* 32 bits → 32 bytes: 0x10 where bit i is set (Q5_0's fifth bit). */
static inline __m256i high_bits_32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    return _mm256_maskz_mov_epi8((__mmask32)x, _mm256_set1_epi8(0x10));
}

static inline __m512i dot_u8_i8(__m512i u, __m512i s) {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
}

/* two signed operands: |x| times y with x's sign (AVX-512 has no vpsignb) */
static inline __m512i dot_i8_i8(__m512i x, __m512i y) {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    return dot_u8_i8(_mm512_abs_epi8(x), _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y));
}

static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* ---------------------------------------------------------------- 32-blocks, two per step */

/* Weight bytes of block b as 32 unsigned (or, for Q8_0, signed) values. */
static inline __m256i q8_0_vals(const void *w, int64_t b) { return load256(((const blk_q8_0 *)w)[b].qs); }
static inline __m256i q4_0_vals(const void *w, int64_t b) { return nibbles_32(((const blk_q4_0 *)w)[b].qs); }
static inline __m256i q4_1_vals(const void *w, int64_t b) { return nibbles_32(((const blk_q4_1 *)w)[b].qs); }
static inline __m256i q5_0_vals(const void *w, int64_t b) {
    const blk_q5_0 *x = (const blk_q5_0 *)w + b;
    return _mm256_or_si256(nibbles_32(x->qs), high_bits_32(x->qh));
}

static float dot_q8_0(const void *vw, const void *va, int64_t nb) {
    const blk_q8_0 *w = vw;
    const act_q8 *a = va;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        const __m512i p = dot_i8_i8(join(q8_0_vals(w, b), q8_0_vals(w, b + 1)), join(load256(a[b].qs), load256(a[b + 1].qs)));
        acc = _mm512_fmadd_ps(join_ps(f16(w[b].d) * a[b].d, f16(w[b + 1].d) * a[b + 1].d), _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    if (b < nb) {  /* odd block count: the last one on 256 bits */
        const __m256i x = q8_0_vals(w, b), y = load256(a[b].qs);
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x)),
                                            _mm256_set1_epi16(1));
        s += f16(w[b].d) * a[b].d * lmk_hsum_avx2(_mm256_cvtepi32_ps(p));
    }
    return s;
}

/* Q4_0, Q4_1, Q5_0: Σ_b d_b · (Σ u·a) plus a per-block offset term built from a's sum. */
#define DOT_OFFSET_FORMAT(name, blk, vals, wscale, offterm, final)                                 \
    static float name(const void *vw, const void *va, int64_t nb) {                                \
        const blk *w = vw;                                                                          \
        const act_q8 *a = va;                                                                       \
        __m512 acc = _mm512_setzero_ps();                                                           \
        float off = 0.0f;                                                                           \
        int64_t b = 0;                                                                              \
        for (; b + 1 < nb; b += 2) {                                                                \
            const __m512i p = dot_u8_i8(join(vals(w, b), vals(w, b + 1)),                          \
                                        join(load256(a[b].qs), load256(a[b + 1].qs)));             \
            acc = _mm512_fmadd_ps(join_ps(wscale(b), wscale(b + 1)), _mm512_cvtepi32_ps(p), acc);   \
            off += offterm(b) + offterm(b + 1);                                                     \
        }                                                                                           \
        float s = _mm512_reduce_add_ps(acc);                                                        \
        if (b < nb) {                                                                               \
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(vals(w, b), load256(a[b].qs)), \
                                                _mm256_set1_epi16(1));                              \
            s += wscale(b) * lmk_hsum_avx2(_mm256_cvtepi32_ps(p));                                  \
            off += offterm(b);                                                                      \
        }                                                                                           \
        return final;                                                                               \
    }

#define DA(b) (f16(w[b].d) * a[b].d)
#define SUM_DA(b) (f16(w[b].d) * a[b].d * (float)a[b].sum)
#define MIN_DA(b) (f16(w[b].m) * a[b].d * (float)a[b].sum)
DOT_OFFSET_FORMAT(dot_q4_0, blk_q4_0, q4_0_vals, DA, SUM_DA, s - 8.0f * off)
DOT_OFFSET_FORMAT(dot_q4_1, blk_q4_1, q4_1_vals, DA, MIN_DA, s + off)
DOT_OFFSET_FORMAT(dot_q5_0, blk_q5_0, q5_0_vals, DA, SUM_DA, s - 16.0f * off)
#undef DA
#undef SUM_DA
#undef MIN_DA

/* ---------------------------------------------------------------- K-quants */

static float dot_q4_k(const void *vw, const void *va, int64_t nb) {
    const blk_q4_k *w = vw;
    const act_q8k *a = va;
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    __m512 acc = _mm512_setzero_ps();
    float off = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[8], mn[8];
        lmk_q4k_scales(w[b].scales, sc, mn);
        __m512i isum = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {  /* 64 elements: sub-blocks 2c (low nibbles), 2c+1 (high) */
            const __m256i v = load256(w[b].qs + 32 * c);
            const __m512i u = join(_mm256_and_si256(v, lo4), _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4));
            const __m512i p = _mm512_maddubs_epi16(u, _mm512_loadu_si512(a[b].qs + 64 * c));
            const __m512i s16 = join(_mm256_set1_epi16(sc[2 * c]), _mm256_set1_epi16(sc[2 * c + 1]));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, s16));
        }
        int32_t imin = 0;
        for (int j = 0; j < 8; j++) imin += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(w[b].d) * a[b].d), _mm512_cvtepi32_ps(isum), acc);
        off += f16(w[b].dmin) * a[b].d * (float)imin;
    }
    return _mm512_reduce_add_ps(acc) - off;
}

static float dot_q6_k(const void *vw, const void *va, int64_t nb) {
    const blk_q6_k *w = vw;
    const act_q8k *a = va;
    const __m512i lo4 = _mm512_set1_epi8(0x0F), three = _mm512_set1_epi8(3);
    /* per 256-bit half, the qh shift of its 32 values: (0 | 2) for q1|q2, (4 | 6) for q3|q4 */
    const __m512i sh12 = join(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh34 = join(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    /* scale shuffle: 128-bit lane k of the i16 vector holds scale (g + k), 8 copies */
    const __m256i quad = _mm256_set_epi8(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                         1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)w[b].scales);
        const __m256i sc2 = _mm256_broadcastsi128_si256(sc);
        /* the -32 offset, as in the AVX2 kernel */
        const __m256i corr = _mm256_madd_epi16(load256(a[b].bsums), _mm256_cvtepi8_epi16(sc));
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512i ql = _mm512_loadu_si512(w[b].ql + 64 * h);
            const __m512i qh = _mm512_broadcast_i64x4(load256(w[b].qh + 32 * h));
            const __m512i v[2] = {
                _mm512_or_si512(_mm512_and_si512(ql, lo4),
                                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh12), three), 4)),
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4),
                                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh34), three), 4)),
            };
            for (int k = 0; k < 2; k++) {
                const int g = 8 * h + 4 * k;  /* groups g .. g+3 of 16 */
                const __m512i s16 = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(sc2, _mm256_add_epi8(quad, _mm256_set1_epi8((char)g))));
                const __m512i p = _mm512_maddubs_epi16(v[k], _mm512_loadu_si512(a[b].qs + 16 * g));
                isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, s16));
            }
        }
        isum = _mm512_sub_epi32(isum, join(_mm256_slli_epi32(corr, 5), _mm256_setzero_si256()));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(w[b].d) * a[b].d), _mm512_cvtepi32_ps(isum), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

lmk_qdot_fn lmk_qdot_avx512(lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q8_0: return dot_q8_0;
    case LMK_Q4_0: return dot_q4_0;
    case LMK_Q4_1: return dot_q4_1;
    case LMK_Q5_0: return dot_q5_0;
    case LMK_Q4_K: return dot_q4_k;
    case LMK_Q6_K: return dot_q6_k;
    default: return NULL;
    }
}
