/* Vector math for the AVX-512 kernels: exp and the activations built on it.
 * exp: Cephes-style range reduction x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n
 * through the exponent bits; about 2 ulp. Inputs below -87.3 (including -inf) give 0. */
#ifndef LMK_VMATH_AVX512_H
#define LMK_VMATH_AVX512_H
#include <immintrin.h>

static inline __m512 lmk_exp_avx512(__m512 x) {
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365478515625f);
    const __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(~underflow, p, _mm512_castsi512_ps(e));
}

/* silu(x) = x / (1 + e^-x) */
static inline __m512 lmk_silu_avx512(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(x, _mm512_add_ps(one, lmk_exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* gelu_tanh(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x / (1 + e^{-2u}):
 * the same function without the cancellation of 1 + tanh(u) for negative x, and exact (x) for
 * large positive x, where x·e^{2u} would overflow. e^{-2u} = inf for very negative x gives -0. */
static inline __m512 lmk_gelu_avx512(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 u = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(-1.5957691216057308f)),
                             _mm512_fmadd_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(0.044715f), one));
    return _mm512_div_ps(x, _mm512_add_ps(one, lmk_exp_avx512(u)));
}

static inline float lmk_hsum_avx512(__m512 v) { return _mm512_reduce_add_ps(v); }
static inline float lmk_hmax_avx512(__m512 v) { return _mm512_reduce_max_ps(v); }

#endif
