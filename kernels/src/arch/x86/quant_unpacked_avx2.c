/* Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS on AVX2: the integer dots of quant_unpack.h. Values are
 * signed (IQ4's levels reach -127), so maddubs sees |q| and the activations take q's sign; a pair
 * of products is at most 2 · 127 · 127 = 32258, below i16 saturation. */
#include <immintrin.h>
#include <stdint.h>

/* Σ over 16-bit pairs of (|q|, sign(a, q)) products → 16 × i16 (pairs summed) */
static inline __m256i qu_pairs(const int8_t *q, const int8_t *a) {
    const __m256i vq = _mm256_loadu_si256((const __m256i *)q), va = _mm256_loadu_si256((const __m256i *)a);
    return _mm256_maddubs_epi16(_mm256_abs_epi8(vq), _mm256_sign_epi8(va, vq));
}

static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static inline int32_t qu_dot32(const int8_t *q, const int8_t *a) {
    return hsum_i32(_mm256_madd_epi16(qu_pairs(q, a), _mm256_set1_epi16(1)));
}

/* 32 values (groups 2k, 2k + 1) per step; the i16 pair sums of group 2k sit in the low 128-bit
 * lane, those of 2k + 1 in the high one, so madd against (sc[2k] × 8 | sc[2k + 1] × 8) scales them. */
static inline int32_t qu_dotk(const int8_t *q, const int16_t *sc, const int8_t *a) {
    const __m256i scales = _mm256_loadu_si256((const __m256i *)sc);  /* dword k: sc[2k], sc[2k + 1] */
    const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                            2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    __m256i acc = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const __m256i s = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(scales, _mm256_set1_epi32(k)), spread);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(qu_pairs(q + 32 * k, a + 32 * k), s));
    }
    return hsum_i32(acc);
}

#include "../../quant_unpack.h"

LMK_QU_TABLE(lmk_qkernels_unpacked_avx2)
