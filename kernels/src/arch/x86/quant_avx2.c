/* Quant family, AVX2 + FMA + F16C: dequantize, and the int8 dot kernels behind lmk_qmatmul.
 *
 * Dots: weights are unpacked to unsigned bytes and multiplied with the signed 8-bit activations
 * by maddubs (u8 × s8 → adjacent pairs summed to i16), then madd widens to i32. Offsets such as
 * Q4_0's -8 or Q6_K's -32 are folded out with the activation sums. Every i16 stays below
 * 2 · 63 · 127 = 16002, so maddubs never saturates. */
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
    __m256i u;    /* 32 values: unsigned (Q4_0, Q4_1, Q5_0: offset still in) or signed (Q8_0) */
    float d, m;   /* m: Q4_1's min */
} wblk;

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
    const int64_t bb = fmt == LMK_Q8_0 ? 34 : fmt == LMK_Q4_0 ? 18 : fmt == LMK_Q4_1 ? 20 : 22;
    __m256 acc[4][4];  /* [act][row]: a dispatch may name C up to 4 */
    float off[4][4];  /* Q4_0, Q5_0: Σ d · Σa (the offset times it comes off at the end); Q4_1: Σ m · d_a · Σa */
    for (int i = 0; i < C; i++)
        for (int r = 0; r < R; r++) acc[i][r] = _mm256_setzero_ps(), off[i][r] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        wblk W[4];
        for (int r = 0; r < R; r++) W[r] = wblk_load(fmt, w + r * ws + b * bb);
        for (int i = 0; i < C; i++) {
            const act_q8 *A = (const act_q8 *)(a + i * as) + b;
            const __m256i q = _mm256_loadu_si256((const __m256i *)A->qs);
            for (int r = 0; r < R; r++) {
                const __m256i p = fmt == LMK_Q8_0 ? dot_i8_i8(W[r].u, q) : dot_u8_i8(W[r].u, q);
                const float d = W[r].d * A->d;
                acc[i][r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(p), acc[i][r]);
                if (fmt == LMK_Q4_0 || fmt == LMK_Q5_0) off[i][r] += d * (float)A->sum;
                if (fmt == LMK_Q4_1) off[i][r] += W[r].m * A->d * (float)A->sum;
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

static float dot_q4_k(const void *vw, const void *va, int64_t nb) {
    const blk_q4_k *w = vw;
    const act_q8k *a = va;
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    float off = 0.0f;  /* Σ dmin · d_a · Σ_j mn_j · (sum of sub-block j) */
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[8], mn[8];
        lmk_q4k_scales(w[b].scales, sc, mn);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * c));
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(v, lo4),
                                                    _mm256_loadu_si256((const __m256i *)(a[b].qs + 64 * c)));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), lo4),
                                                    _mm256_loadu_si256((const __m256i *)(a[b].qs + 64 * c + 32)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        int32_t imin = 0;
        for (int j = 0; j < 8; j++) imin += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
        off += f16(w[b].dmin) * a[b].d * (float)imin;
    }
    return lmk_hsum_avx2(acc) - off;
}

static float dot_q6_k(const void *vw, const void *va, int64_t nb) {
    const blk_q6_k *w = vw;
    const act_q8k *a = va;
    const __m256i lo4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
    /* shuffle pattern: 8 copies of scale 0, then 8 of scale 1 (i16 lanes after widening) */
    const __m128i pair = _mm_set_epi8(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)w[b].scales);  /* 16 × i8 */
        /* the -32 offset: Σ_g sc_g · bsum_g, taken out of the unsigned products */
        __m256i isum = _mm256_slli_epi32(
            _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums), _mm256_cvtepi8_epi16(sc)), 5);
        isum = _mm256_sub_epi32(_mm256_setzero_si256(), isum);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w[b].ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w[b].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h));
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
                const __m256i s16 = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_add_epi8(pair, _mm_set1_epi8((char)g))));
                const __m256i p = _mm256_maddubs_epi16(v[k], _mm256_loadu_si256((const __m256i *)(a[b].qs + 16 * g)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s16));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return lmk_hsum_avx2(acc);
}

LMK_QTILE_FROM_DOT(tile_q4_k, dot_q4_k)
LMK_QTILE_FROM_DOT(tile_q6_k, dot_q6_k)

lmk_qkernels lmk_qkernels_avx2(lmk_qfmt fmt) {
    lmk_qkernels k = {NULL, NULL, NULL, 0};
    k.tile = lmk_qtile_pick(fmt, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, tile_q4_k, tile_q6_k);
    return k.tile ? k : lmk_qkernels_unpacked_avx2(fmt);
}
