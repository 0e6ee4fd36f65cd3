/* Attention tile kernels, AVX-512 (see attention.h for the buffers). */
#include "attention.h"

#include <immintrin.h>

#include "vec_avx512.h"

#define SR 4   /* query rows per scores block: 16 accumulators of 32 registers */
#define PV 4   /* vectors of D per pv block: 4 rows x 4 = 16 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 16-lane sums -> one 4-lane vector (a, b, c, d). */
ALWAYS_INLINE __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 ab = _mm256_hadd_ps(a8, b8), cd = _mm256_hadd_ps(c8, d8);   /* per 128-bit half */
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* The shared body, over this ISA's vectors (vec_avx512.h) and the two helpers above. */
#define HSUM4 hsum4
#define STORE4 _mm_storeu_ps
#include "arch/attention_body.h"

const lmk_attn_kernels lmk_attn_kernels_avx512 = {scores, online, pv};
