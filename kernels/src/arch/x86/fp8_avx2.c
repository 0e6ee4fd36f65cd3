/* float16 / FP8 E4M3FN conversions, AVX2 + F16C: eight lanes, the bit algorithms of fp8.c. */
#include "fp8.h"

#include <immintrin.h>

static void f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    lmk_f32_to_f16_scalar(x + i, y + i, n - i);
}

static void f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    lmk_f16_to_f32_scalar(x + i, y + i, n - i);
}

/* Eight floats -> eight E4M3 codes in the low byte of each 32-bit lane. */
static inline __m256i encode8(__m256 x) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    __m256i b = _mm256_castps_si256(x);
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(b, 24), _mm256_set1_epi32(0x80));
    __m256i a = _mm256_and_si256(b, abs_mask);
    __m256i nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f800000));
    a = _mm256_min_epi32(a, _mm256_set1_epi32(0x43e00000));   /* saturate to 448 (inf too) */
    /* normal: round 20 mantissa bits to even, rebias the exponent */
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 20), _mm256_set1_epi32(1));
    __m256i nrm = _mm256_add_epi32(a, _mm256_add_epi32(_mm256_set1_epi32(0x7ffff), odd));
    nrm = _mm256_sub_epi32(_mm256_srli_epi32(nrm, 20), _mm256_set1_epi32(120 << 3));
    /* subnormal: let the FPU round onto the 2^-9 grid */
    __m256 sub_f = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(16384.0f));
    __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(sub_f), _mm256_set1_epi32(0x46800000));
    __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3c800000), a);
    __m256i code = _mm256_blendv_epi8(nrm, sub, is_sub);
    code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7f), nan);
    return _mm256_or_si256(code, sign);
}

/* Eight codes (the low 8 bytes) -> eight floats. The code's bits placed in a float16 are the
 * value times 2^-8; converting and scaling is exact, and E4M3 subnormals become float16
 * subnormals, which F16C converts at full speed (float32 subnormal arithmetic would take a
 * microcode assist). S.1111.111 lands on ±480, which no finite code reaches: that is NaN. */
static inline __m256 decode8(__m128i bytes) {
    __m128i c = _mm_cvtepu8_epi16(bytes);
    __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x80)), 8),
                             _mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x7f)), 7));
    __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
    __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    __m256 nan = _mm256_cmp_ps(_mm256_xor_ps(v, sign), _mm256_set1_ps(480.0f), _CMP_EQ_OQ);
    return _mm256_blendv_ps(v, _mm256_or_ps(_mm256_set1_ps(NAN), sign), nan);
}

static inline void store_codes(uint8_t *y, __m256i code32) {
    /* pack the low bytes of eight 32-bit lanes into 8 bytes */
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    __m256i p = _mm256_shuffle_epi8(code32, pick);
    uint32_t lo = (uint32_t)_mm256_cvtsi256_si32(p);
    uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(p, 1));
    uint64_t both = (uint64_t)lo | ((uint64_t)hi << 32);
    memcpy(y, &both, 8);
}

static void fp8_from_f32(const float *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store_codes(y + i, encode8(_mm256_loadu_ps(x + i)));
    lmk_fp8_from_f32_ref(x + i, y + i, n - i);
}

static void fp8_to_f32(const uint8_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, decode8(_mm_loadl_epi64((const __m128i *)(x + i))));
    lmk_fp8_to_f32_ref(x + i, y + i, n - i);
}

static void fp8_from_f16(const uint16_t *x, uint8_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        store_codes(y + i, encode8(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)))));
    for (; i < n; i++) {
        float f = lmk_f16_to_f32(x[i]);
        lmk_fp8_from_f32_ref(&f, y + i, 1);
    }
}

static void fp8_to_f16(const uint8_t *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(decode8(_mm_loadl_epi64((const __m128i *)(x + i))), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) {
        float f;
        lmk_fp8_to_f32_ref(x + i, &f, 1);
        y[i] = lmk_f32_to_f16(f);
    }
}

const lmk_fp8_paths lmk_fp8_paths_avx2 = {f32_to_f16, f16_to_f32, fp8_from_f32, fp8_to_f32, fp8_from_f16, fp8_to_f16};
