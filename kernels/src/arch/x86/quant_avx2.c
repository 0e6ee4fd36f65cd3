/* Quant family, AVX2 + FMA + F16C: dequantize, and the int8 dot kernels behind lmk_qmatmul.
 *
 * Dots: weights are unpacked to unsigned bytes and multiplied with the signed 8-bit activations
 * by maddubs (u8 × s8 → adjacent pairs summed to i16), then madd widens to i32. Offsets such as
 * Q4_0's -8 or Q6_K's -32 are folded out with the activation sums; signed weights (Q8_0, the IQ4
 * levels) move their sign onto the activation. Every i16 stays below 2 · 127 · 127 = 32258, so
 * maddubs never saturates. Every GGUF format has a tile: 32-blocks 4 rows × 1 activation, K-quants
 * 1 row × up to 4 activations. */
#include <immintrin.h>

#include "../../quant_internal.h"
#include "vmath_avx2.h"

static inline float f16(uint16_t h) { return _cvtsh_ss(h); }

/* 16 packed bytes → 32 bytes: low nibbles (elements 0..15), then high nibbles (16..31). */
static inline __m256i nibbles_32(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* 32 bits → 32 bytes, 0xFF where the bit is set (byte i ↔ bit i). */
static inline __m256i bits_to_bytes(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)x), _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                      0x0101010101010101, 0x0000000000000000));
    /* byte i keeps every bit but bit (i % 8) set: all-ones iff that bit was set */
    const __m256i probe = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7FBFDFEFF7FBFDFELL));
    return _mm256_cmpeq_epi8(probe, _mm256_set1_epi64x(-1));
}

/* Σ over 4-byte groups of u (u8) × s (s8) → 8 × i32. */
static inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Same for two signed operands: move x's sign onto y so maddubs sees |x|. */
static inline __m256i dot_i8_i8(__m256i x, __m256i y) {
    return dot_u8_i8(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* 8 bytes (unsigned) → 8 floats */
static inline __m256 u8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }
static inline __m256 i8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

/* ---------------------------------------------------------------- dequantize */

/* 32 bytes of signed values → y[0..32) = d * v */
static inline void store_scaled_i8(float *y, __m256i v, __m256 d) {
    const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    _mm256_storeu_ps(y + 0, _mm256_mul_ps(d, i8x8_to_ps(lo)));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, i8x8_to_ps(_mm_srli_si128(lo, 8))));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(d, i8x8_to_ps(hi)));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(d, i8x8_to_ps(_mm_srli_si128(hi, 8))));
}

/* 32 bytes of unsigned values → y[0..32) = d * v - m (the product rounded first, as gguf-py) */
static inline void store_affine_u8(float *y, __m256i v, __m256 d, __m256 m, int add) {
    const __m128i half[2] = {_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)};
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 2; k++) {
            __m256 p = _mm256_mul_ps(d, u8x8_to_ps(k ? _mm_srli_si128(half[h], 8) : half[h]));
            LMK_ROUNDED(p);
            _mm256_storeu_ps(y + 16 * h + 8 * k, add ? _mm256_add_ps(p, m) : _mm256_sub_ps(p, m));
        }
}

void lmk_dequantize_avx2(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; b++) {
        switch ((int)fmt) {
        case LMK_Q8_0: {
            const blk_q8_0 *x = (const blk_q8_0 *)q + b;
            store_scaled_i8(y, _mm256_loadu_si256((const __m256i *)x->qs), _mm256_set1_ps(f16(x->d)));
            y += QK;
        } break;
        case LMK_Q4_0: {
            const blk_q4_0 *x = (const blk_q4_0 *)q + b;
            store_scaled_i8(y, _mm256_sub_epi8(nibbles_32(x->qs), _mm256_set1_epi8(8)), _mm256_set1_ps(f16(x->d)));
            y += QK;
        } break;
        case LMK_Q4_1: {
            const blk_q4_1 *x = (const blk_q4_1 *)q + b;
            store_affine_u8(y, nibbles_32(x->qs), _mm256_set1_ps(f16(x->d)), _mm256_set1_ps(f16(x->m)), 1);
            y += QK;
        } break;
        case LMK_Q5_0: {
            const blk_q5_0 *x = (const blk_q5_0 *)q + b;
            const __m256i hi = _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10));
            const __m256i v = _mm256_sub_epi8(_mm256_or_si256(nibbles_32(x->qs), hi), _mm256_set1_epi8(16));
            store_scaled_i8(y, v, _mm256_set1_ps(f16(x->d)));
            y += QK;
        } break;
        case LMK_Q4_K: {
            const blk_q4_k *x = (const blk_q4_k *)q + b;
            const float d = f16(x->d), dmin = f16(x->dmin);
            uint8_t sc[8], mn[8];
            lmk_q4k_scales(x->scales, sc, mn);
            for (int c = 0; c < 4; c++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
                store_affine_u8(y, _mm256_and_si256(v, lo4), _mm256_set1_ps(d * (float)sc[2 * c]),
                                _mm256_set1_ps(dmin * (float)mn[2 * c]), 0);
                store_affine_u8(y + 32, _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4),
                                _mm256_set1_ps(d * (float)sc[2 * c + 1]), _mm256_set1_ps(dmin * (float)mn[2 * c + 1]), 0);
                y += 64;
            }
        } break;
        case LMK_Q6_K: {
            const blk_q6_k *x = (const blk_q6_k *)q + b;
            const float d = f16(x->d);
            const __m256i three = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
            for (int h = 0; h < 2; h++) {
                const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
                const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                const __m256i v[4] = {
                    _mm256_or_si256(_mm256_and_si256(ql0, lo4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
                    _mm256_or_si256(_mm256_and_si256(ql1, lo4),
                                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), lo4),
                                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), lo4),
                                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)),
                };
                const int8_t *sc = x->scales + 8 * h;
                for (int k = 0; k < 4; k++) {
                    const __m256i s = _mm256_sub_epi8(v[k], off);
                    const __m128i lo = _mm256_castsi256_si128(s), hi = _mm256_extracti128_si256(s, 1);
                    const __m256 d0 = _mm256_set1_ps(d * (float)sc[2 * k]), d1 = _mm256_set1_ps(d * (float)sc[2 * k + 1]);
                    _mm256_storeu_ps(y + 32 * k + 0, _mm256_mul_ps(d0, i8x8_to_ps(lo)));
                    _mm256_storeu_ps(y + 32 * k + 8, _mm256_mul_ps(d0, i8x8_to_ps(_mm_srli_si128(lo, 8))));
                    _mm256_storeu_ps(y + 32 * k + 16, _mm256_mul_ps(d1, i8x8_to_ps(hi)));
                    _mm256_storeu_ps(y + 32 * k + 24, _mm256_mul_ps(d1, i8x8_to_ps(_mm_srli_si128(hi, 8))));
                }
                y += 128;
            }
        } break;
        }
    }
}

/* ---------------------------------------------------------------- dots (weights · act) */

/* 32-block tiles: R weight rows × C activation rows, each block unpacked once for the C rows and
 * each activation block loaded once for the R rows. Every (row, activation) pair keeps its own
 * accumulator and runs the same operations in the same order whatever R and C are. */
#define QA_INLINE static inline __attribute__((always_inline))

typedef struct {
    __m256i u;    /* 32 values: unsigned (Q4_0, Q4_1, Q5_0, Q5_1: offset still in) or signed (Q8_0, IQ4_NL) */
    float d, m;   /* m: Q4_1's and Q5_1's min */
} wblk;

/* IQ4_NL's and IQ4_XS's 16 levels (ggml's kvalues_iq4nl), in both 128-bit lanes for vpshufb */
static inline __m256i iq4_levels(__m256i idx) {
    const __m128i t = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), idx);
}

QA_INLINE wblk wblk_load(const lmk_qfmt fmt, const uint8_t *p) {
    wblk W;
    W.m = 0.0f;
    switch ((int)fmt) {
    case LMK_Q8_0: {
        const blk_q8_0 *x = (const blk_q8_0 *)p;
        W.u = _mm256_loadu_si256((const __m256i *)x->qs), W.d = f16(x->d);
    } break;
    case LMK_Q4_0: {
        const blk_q4_0 *x = (const blk_q4_0 *)p;
        W.u = nibbles_32(x->qs), W.d = f16(x->d);
    } break;
    case LMK_Q4_1: {
        const blk_q4_1 *x = (const blk_q4_1 *)p;
        W.u = nibbles_32(x->qs), W.d = f16(x->d), W.m = f16(x->m);
    } break;
    case LMK_Q5_1: {
        const blk_q5_1 *x = (const blk_q5_1 *)p;
        W.u = _mm256_or_si256(nibbles_32(x->qs), _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10)));
        W.d = f16(x->d), W.m = f16(x->m);
    } break;
    case LMK_IQ4_NL: {
        const blk_iq4_nl *x = (const blk_iq4_nl *)p;
        W.u = iq4_levels(nibbles_32(x->qs)), W.d = f16(x->d);
    } break;
    default: {  /* Q5_0 */
        const blk_q5_0 *x = (const blk_q5_0 *)p;
        W.u = _mm256_or_si256(nibbles_32(x->qs), _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10)));
        W.d = f16(x->d);
    }
    }
    return W;
}

QA_INLINE void tile32(const lmk_qfmt fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                      int64_t ldc, const int R, const int C, int64_t nb) {
    const int64_t bb = lmk_qblock_bytes(fmt);
    const int signed_w = fmt == LMK_Q8_0 || fmt == LMK_IQ4_NL, affine = fmt == LMK_Q4_1 || fmt == LMK_Q5_1;
    __m256 acc[4][4];  /* [act][row]: a dispatch may name C up to 4 */
    float off[4][4];  /* Q4_0, Q5_0: Σ d · Σa (the offset times it comes off at the end); Q4_1, Q5_1: Σ m · d_a · Σa */
    for (int i = 0; i < C; i++)
        for (int r = 0; r < R; r++) acc[i][r] = _mm256_setzero_ps(), off[i][r] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        wblk W[4];
        for (int r = 0; r < R; r++) W[r] = wblk_load(fmt, w + r * ws + b * bb);
        for (int i = 0; i < C; i++) {
            const act_q8 *A = (const act_q8 *)(a + i * as) + b;
            const __m256i q = _mm256_loadu_si256((const __m256i *)A->qs);
            for (int r = 0; r < R; r++) {
                const __m256i p = signed_w ? dot_i8_i8(W[r].u, q) : dot_u8_i8(W[r].u, q);
                const float d = W[r].d * A->d;
                acc[i][r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(p), acc[i][r]);
                if (fmt == LMK_Q4_0 || fmt == LMK_Q5_0) off[i][r] += d * (float)A->sum;
                if (affine) off[i][r] += W[r].m * A->d * (float)A->sum;
            }
        }
    }
    const float k = fmt == LMK_Q4_0 ? -8.0f : fmt == LMK_Q5_0 ? -16.0f : 1.0f;
    for (int i = 0; i < C; i++)
        for (int r = 0; r < R; r++) c[i * ldc + r] = lmk_hsum_avx2(acc[i][r]) + k * off[i][r];
}

#define QA_TILE32(name, fmt)                                                                           \
    QA_INLINE void name##_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                               const int R, const int C, int64_t nb) {                                 \
        tile32(fmt, w, ws, a, as, c, ldc, R, C, nb);                                                   \
    }                                                                                                  \
    LMK_QTILE_DISPATCH(name, name##_kern, 0, 0)  /* 4 rows × 1: more accumulators would spill */
QA_TILE32(tile_q8_0, LMK_Q8_0)
QA_TILE32(tile_q4_0, LMK_Q4_0)
QA_TILE32(tile_q4_1, LMK_Q4_1)
QA_TILE32(tile_q5_0, LMK_Q5_0)
QA_TILE32(tile_q5_1, LMK_Q5_1)
QA_TILE32(tile_iq4_nl, LMK_IQ4_NL)

/* K-quant tiles: one weight row × C <= 4 activation rows. Each piece of a super-block is
 * unpacked once for the C rows; every (row, activation) pair has its own integer and float
 * accumulators and sees the same operations whatever C is (the tile contract). */
#define QA_ACTS(i) ((const act_q8k *)(a + (i) * as) + b)

/* Group g's scale (i16) in every word of the low 128-bit lane and group g + 1's in the high one. */
static inline __m256i scale_pair(__m256i sc16, int g) {
    const __m256i dw = _mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(g / 2));  /* sc[g], sc[g + 1] (g even) */
    return _mm256_shuffle_epi8(dw, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                                     2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
}

static inline int32_t hsum_epi32(__m256i v) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1)));
}

/* Q4_K and Q5_K (its fifth bit for sub-block s in bit s of qh[l]): 32 bytes of qs hold
 * sub-blocks 2c (low nibbles) and 2c + 1 (high). */
QA_INLINE void kern_q45_k(const int q5, const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c,
                          int64_t ldc, int64_t nb) {
    const int64_t bb = q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k);
    const __m256i lo4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc[4];
    float off[4];  /* Σ dmin · d_a · Σ_j mn_j · (sum of sub-block j) */
    for (int i = 0; i < C; i++) acc[i] = _mm256_setzero_ps(), off[i] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *x = w + b * bb;  /* d, dmin, scales[12] lead both layouts */
        const uint8_t *qs = q5 ? ((const blk_q5_k *)x)->qs : ((const blk_q4_k *)x)->qs;
        uint8_t sc[8], mn[8];
        lmk_q4k_scales(x + 4, sc, mn);
        const __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)((const blk_q5_k *)x)->qh) : _mm256_setzero_si256();
        __m256i isum[4];
        for (int i = 0; i < C; i++) isum[i] = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
            __m256i u0 = _mm256_and_si256(v, lo4), u1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
            if (q5) {  /* bit 2k (2k + 1) of each byte, moved to bit 4 */
                u0 = _mm256_or_si256(u0, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one), 4));
                u1 = _mm256_or_si256(u1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one), 4));
            }
            const __m256i s0 = _mm256_set1_epi16(sc[2 * k]), s1 = _mm256_set1_epi16(sc[2 * k + 1]);
            for (int i = 0; i < C; i++) {
                const int8_t *q = QA_ACTS(i)->qs + 64 * k;
                const __m256i p0 = _mm256_maddubs_epi16(u0, _mm256_loadu_si256((const __m256i *)q));
                const __m256i p1 = _mm256_maddubs_epi16(u1, _mm256_loadu_si256((const __m256i *)(q + 32)));
                isum[i] = _mm256_add_epi32(isum[i], _mm256_add_epi32(_mm256_madd_epi16(p0, s0), _mm256_madd_epi16(p1, s1)));
            }
        }
        uint16_t d, dmin;
        memcpy(&d, x, 2), memcpy(&dmin, x + 2, 2);
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mn));
        for (int i = 0; i < C; i++) {
            const act_q8k *A = QA_ACTS(i);
            /* Σ_j mn_j · (bsums[2j] + bsums[2j + 1]) */
            const __m256i bpair = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)A->bsums), _mm256_set1_epi16(1));
            const int32_t imin = hsum_epi32(_mm256_mullo_epi32(bpair, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(mn16))));
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(f16(d) * A->d), _mm256_cvtepi32_ps(isum[i]), acc[i]);
            off[i] += f16(dmin) * A->d * (float)imin;
        }
    }
    for (int i = 0; i < C; i++) c[i * ldc] = lmk_hsum_avx2(acc[i]) - off[i];
}

/* Q2_K, Q3_K: value 128n + 32j + l is bits 2j, 2j + 1 of qs[32n + l], 16 groups of 16 in natural
 * order (two groups per 32 values). Q2_K: unsigned, a min per group (scale low nibble, min high);
 * Q3_K: its third bit (bit 4n + j of hmask[l]) added as 4, the -4 taken out as 4 · Σ_g sc_g · Σa_g. */
QA_INLINE void kern_q23_k(const int q3, const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c,
                          int64_t ldc, int64_t nb) {
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc[4];
    float off[4];  /* Q2_K: Σ dmin · d_a · Σ_g mn_g · Σa_g */
    for (int i = 0; i < C; i++) acc[i] = _mm256_setzero_ps(), off[i] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qs;
        __m256i sc16, mn16 = _mm256_setzero_si256(), hm = _mm256_setzero_si256();
        float d, dmin = 0.0f;
        if (q3) {
            const blk_q3_k *x = (const blk_q3_k *)w + b;
            int8_t sc[16];
            lmk_q3k_scales(x->scales, sc);
            sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
            qs = x->qs, hm = _mm256_loadu_si256((const __m256i *)x->hmask), d = f16(x->d);
        } else {
            const blk_q2_k *x = (const blk_q2_k *)w + b;
            const __m128i s = _mm_loadu_si128((const __m128i *)x->scales);
            sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(0x0F)));
            mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
            qs = x->qs, d = f16(x->d), dmin = f16(x->dmin);
        }
        __m256i isum[4];
        for (int i = 0; i < C; i++) {
            const __m256i bs = _mm256_loadu_si256((const __m256i *)QA_ACTS(i)->bsums);
            isum[i] = q3 ? _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 2))
                         : _mm256_setzero_si256();
            if (!q3) off[i] += dmin * QA_ACTS(i)->d * (float)hsum_epi32(_mm256_madd_epi16(bs, mn16));
        }
        for (int n = 0; n < 2; n++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * n));
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
                if (q3) v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * n + j), one), 2));
                const int g = 8 * n + 2 * j;
                const __m256i s = scale_pair(sc16, g);
                for (int i = 0; i < C; i++) {
                    const __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(QA_ACTS(i)->qs + 16 * g)));
                    isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(p, s));
                }
            }
        }
        for (int i = 0; i < C; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(d * QA_ACTS(i)->d), _mm256_cvtepi32_ps(isum[i]), acc[i]);
    }
    for (int i = 0; i < C; i++) c[i * ldc] = lmk_hsum_avx2(acc[i]) - off[i];
}

/* IQ4_XS: sub-block s is IQ4_NL's block layout (16 bytes: values 32s.. low, 32s + 16.. high)
 * under the scale d · (ls_s - 32). */
QA_INLINE void kern_iq4_xs(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc,
                           int64_t nb) {
    __m256 acc[4];
    for (int i = 0; i < C; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const blk_iq4_xs *x = (const blk_iq4_xs *)w + b;
        const float d = f16(x->d);
        for (int s = 0; s < 8; s++) {
            const int ls = ((x->scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | ((x->scales_h >> (2 * s)) & 3) << 4;
            const __m256i v = iq4_levels(nibbles_32(x->qs + 16 * s)), u = _mm256_abs_epi8(v);
            const float ds = d * (float)(ls - 32);
            for (int i = 0; i < C; i++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(QA_ACTS(i)->qs + 32 * s));
                const __m256i p = dot_u8_i8(u, _mm256_sign_epi8(q, v));
                acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(ds * QA_ACTS(i)->d), _mm256_cvtepi32_ps(p), acc[i]);
            }
        }
    }
    for (int i = 0; i < C; i++) c[i * ldc] = lmk_hsum_avx2(acc[i]);
}

/* Q6_K: 64 bytes of ql and 32 of qh per half make values 128h .. 128h + 128 in natural order;
 * the -32 offset leaves as 32 · Σ_g sc_g · Σa_g. */
QA_INLINE void kern_q6_k(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc,
                         int64_t nb) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
    __m256 acc[4];
    for (int i = 0; i < C; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const blk_q6_k *x = (const blk_q6_k *)w + b;
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        __m256i isum[4];
        for (int i = 0; i < C; i++)
            isum[i] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(
                _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)QA_ACTS(i)->bsums), sc16), 5));
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
            const __m256i v[4] = {
                _mm256_or_si256(_mm256_and_si256(ql0, lo4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
                _mm256_or_si256(_mm256_and_si256(ql1, lo4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), lo4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), lo4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)),
            };
            for (int k = 0; k < 4; k++) {
                const int g = 8 * h + 2 * k;  /* groups g, g+1 of 16 */
                const __m256i s = scale_pair(sc16, g);
                for (int i = 0; i < C; i++) {
                    const __m256i p = _mm256_maddubs_epi16(v[k], _mm256_loadu_si256((const __m256i *)(QA_ACTS(i)->qs + 16 * g)));
                    isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(p, s));
                }
            }
        }
        for (int i = 0; i < C; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(f16(x->d) * QA_ACTS(i)->d), _mm256_cvtepi32_ps(isum[i]), acc[i]);
    }
    for (int i = 0; i < C; i++) c[i * ldc] = lmk_hsum_avx2(acc[i]);
}
#undef QA_ACTS

/* A K-quant tile from its kernel: each weight row against the activation rows four at a time
 * (the kernel inlined for each count, so its arrays stay in registers). */
#define QA_TILEK(name, ...)                                                                              \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, int nr, \
                     int na, int64_t nb) {                                                               \
        for (int r = 0; r < nr; r++)                                                                     \
            for (int i = 0; i < na; i += 4) {                                                            \
                const uint8_t *wr = w + r * ws, *ai = a + i * as;                                        \
                float *ci = c + i * ldc + r;                                                             \
                switch (LMK_MIN(4, na - i)) {                                                            \
                case 4: __VA_ARGS__(wr, ai, as, 4, ci, ldc, nb); break;                                  \
                case 3: __VA_ARGS__(wr, ai, as, 3, ci, ldc, nb); break;                                  \
                case 2: __VA_ARGS__(wr, ai, as, 2, ci, ldc, nb); break;                                  \
                default: __VA_ARGS__(wr, ai, as, 1, ci, ldc, nb);                                        \
                }                                                                                        \
            }                                                                                            \
    }
QA_INLINE void kern_q4_k(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc, int64_t nb) {
    kern_q45_k(0, w, a, as, C, c, ldc, nb);
}
QA_INLINE void kern_q5_k(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc, int64_t nb) {
    kern_q45_k(1, w, a, as, C, c, ldc, nb);
}
QA_INLINE void kern_q2_k(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc, int64_t nb) {
    kern_q23_k(0, w, a, as, C, c, ldc, nb);
}
QA_INLINE void kern_q3_k(const uint8_t *w, const uint8_t *a, int64_t as, const int C, float *c, int64_t ldc, int64_t nb) {
    kern_q23_k(1, w, a, as, C, c, ldc, nb);
}
QA_TILEK(tile_q4_k, kern_q4_k)
QA_TILEK(tile_q5_k, kern_q5_k)
QA_TILEK(tile_q6_k, kern_q6_k)
QA_TILEK(tile_q2_k, kern_q2_k)
QA_TILEK(tile_q3_k, kern_q3_k)
QA_TILEK(tile_iq4_xs, kern_iq4_xs)

lmk_qkernels lmk_qkernels_avx2(lmk_qfmt fmt) {
    static const lmk_qtiles tiles = {tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, tile_q5_1, tile_iq4_nl,
                                     tile_q2_k, tile_q3_k, tile_q4_k, tile_q5_k, tile_q6_k, tile_iq4_xs};
    lmk_qkernels k = {.tile = NULL};
    k.tile = lmk_qtile_of(fmt, &tiles);
    return k;
}
