/* Attention tile kernels, AVX2 + FMA (see attention.h for the buffers). */
#include "attention.h"

#include <immintrin.h>

#include "vec_avx2.h"

#define SR 2   /* query rows per scores block: 8 accumulators of 16 registers */
#define PV 2   /* vectors of D per pv block: 4 rows x 2 = 8 accumulators */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Four 8-lane sums -> one 4-lane vector (a, b, c, d). */
ALWAYS_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);   /* per 128-bit half */
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* The shared body, over this ISA's vectors (vec_avx2.h) and the two helpers above. */
#define HSUM4 hsum4
#define STORE4 _mm_storeu_ps
#include "arch/attention_body.h"

const lmk_attn_kernels lmk_attn_kernels_avx2 = {scores, online, pv};
