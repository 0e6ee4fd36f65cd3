/* float16 / FP8 E4M3FN conversions, AVX-512: sixteen lanes, the bit algorithms of fp8.c. */
#include "fp8.h"

#include <immintrin.h>

static void f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    lmk_f32_to_f16_scalar(x + i, y + i, n - i);
}

static void f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    lmk_f16_to_f32_scalar(x + i, y + i, n - i);
}

/* Sixteen floats -> sixteen E4M3 codes. */
static inline __m128i encode16(__m512 x) {
    __m512i b = _mm512_castps_si512(x);
    __m512i sign = _mm512_and_si512(_mm512_srli_epi32(b, 24), _mm512_set1_epi32(0x80));
    __m512i a = _mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff));
    __mmask16 nan = _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7f800000));
    a = _mm512_min_epi32(a, _mm512_set1_epi32(0x43e00000));   /* saturate to 448 (inf too) */
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(a, 20), _mm512_set1_epi32(1));
    __m512i code = _mm512_add_epi32(a, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff), odd));
    code = _mm512_sub_epi32(_mm512_srli_epi32(code, 20), _mm512_set1_epi32(120 << 3));
    __mmask16 is_sub = _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32(0x3c800000));
    __m512 sub_f = _mm512_add_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(16384.0f));
    code = _mm512_mask_sub_epi32(code, is_sub, _mm512_castps_si512(sub_f), _mm512_set1_epi32(0x46800000));
    code = _mm512_mask_mov_epi32(code, nan, _mm512_set1_epi32(0x7f));
    return _mm512_cvtepi32_epi8(_mm512_or_si512(code, sign));
}

/* Sixteen codes -> sixteen floats. The code's bits placed in a float16 (sign, then exponent and
 * mantissa shifted under float16's) are the value times 2^-8; converting and scaling is exact, and
 * E4M3 subnormals become float16 subnormals, which the converter handles at full speed (float32
 * subnormal arithmetic would take a microcode assist). S.1111.111 lands on ±480, which no finite
 * code reaches: that is NaN. */
static inline __m512 decode16(__m128i bytes) {
    __m256i c = _mm256_cvtepu8_epi16(bytes);
    __m256i h = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(c, _mm256_set1_epi16(0x80)), 8),
                                _mm256_slli_epi16(_mm256_and_si256(c, _mm256_set1_epi16(0x7f)), 7));
    __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f));
    __m512 sign = _mm512_and_ps(v, _mm512_set1_ps(-0.0f));
    __mmask16 nan = _mm512_cmp_ps_mask(_mm512_xor_ps(v, sign), _mm512_set1_ps(480.0f), _CMP_EQ_OQ);
    return _mm512_mask_mov_ps(v, nan, _mm512_or_ps(_mm512_set1_ps(NAN), sign));
}

static void fp8_from_f32(const float *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm_storeu_si128((__m128i *)(y + i), encode16(_mm512_loadu_ps(x + i)));
    if (i < n) {   /* masked tail: same arithmetic, no scalar twin needed */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm_mask_storeu_epi8(y + i, m, encode16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void fp8_to_f32(const uint8_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, decode16(_mm_loadu_si128((const __m128i *)(x + i))));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, decode16(_mm_maskz_loadu_epi8(m, x + i)));
    }
}

static void fp8_from_f16(const uint16_t *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(y + i), encode16(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)))));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm_mask_storeu_epi8(y + i, m, encode16(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i))));
    }
}

static void fp8_to_f16(const uint8_t *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(decode16(_mm_loadu_si128((const __m128i *)(x + i))), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtps_ph(decode16(_mm_maskz_loadu_epi8(m, x + i)), _MM_FROUND_TO_NEAREST_INT));
    }
}

const lmk_fp8_paths lmk_fp8_paths_avx512 = {f32_to_f16, f16_to_f32, fp8_from_f32, fp8_to_f32, fp8_from_f16, fp8_to_f16};
