/* Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS on AVX-512 (F, BW): the integer dots of quant_unpack.h,
 * 64 values a step. AVX-512 has no byte sign instruction: the activations are negated under the
 * mask of q's sign bits instead, and maddubs sees |q| (pairs stay below i16 saturation). */
#include <immintrin.h>
#include <stdint.h>

static inline __m512i qu_pairs64(const int8_t *q, const int8_t *a) {
    const __m512i vq = _mm512_loadu_si512(q), va = _mm512_loadu_si512(a);
    const __m512i sa = _mm512_mask_sub_epi8(va, _mm512_movepi8_mask(vq), _mm512_setzero_si512(), va);
    return _mm512_maddubs_epi16(_mm512_abs_epi8(vq), sa);
}

static inline int32_t qu_dot32(const int8_t *q, const int8_t *a) {
    const __m256i vq = _mm256_loadu_si256((const __m256i *)q), va = _mm256_loadu_si256((const __m256i *)a);
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(vq), _mm256_sign_epi8(va, vq));
    return _mm512_reduce_add_epi32(_mm512_zextsi256_si512(_mm256_madd_epi16(p, _mm256_set1_epi16(1))));
}

/* Group 4k + L's i16 pair sums sit in 128-bit lane L: madd against sc[4k + L] in that lane. */
static inline int32_t qu_dotk(const int8_t *q, const int16_t *sc, const int8_t *a) {
    const __m512i scales = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)sc));
    const __m512i lane = _mm512_setr_epi32(0, 0, 0, 0, 0x00010001, 0x00010001, 0x00010001, 0x00010001,
                                           0x00020002, 0x00020002, 0x00020002, 0x00020002,
                                           0x00030003, 0x00030003, 0x00030003, 0x00030003);
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < 4; k++) {
        const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16((short)(4 * k))), scales);
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(qu_pairs64(q + 64 * k, a + 64 * k), s));
    }
    return _mm512_reduce_add_epi32(acc);
}

#include "../../quant_unpack.h"

LMK_QU_TABLE(lmk_qkernels_unpacked_avx512)
