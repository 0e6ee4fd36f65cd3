/* Row softmax, AVX-512: the AVX2 kernel's three passes, sixteen lanes, tails through masks. */
#include "elementwise.h"
#include "vmath_avx512.h"

static inline __mmask16 tail_mask(int64_t left) { return (__mmask16)((1u << left) - 1u); }

void lmk_softmax_row_avx512(const float *x, float *y, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    __mmask16 nan = 0;  /* lanes that met a NaN: max_ps would drop it */
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        m0 = _mm512_max_ps(m0, v0);
        m1 = _mm512_max_ps(m1, v1);
        m2 = _mm512_max_ps(m2, v2);
        m3 = _mm512_max_ps(m3, v3);
        /* unordered if either operand is NaN: one compare covers two vectors */
        nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        m0 = _mm512_max_ps(m0, v);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (i < n) {
        __m512 v = _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i);
        m1 = _mm512_max_ps(m1, v);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    const float max = lmk_hmax_avx512(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
    if (nan || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, nan ? NAN : max);
        return;
    }

    const __m512 vmax = _mm512_set1_ps(max);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (i = 0; i + 64 <= n; i += 64) {
        __m512 e0 = lmk_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
        __m512 e1 = lmk_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vmax));
        __m512 e2 = lmk_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), vmax));
        __m512 e3 = lmk_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), vmax));
        _mm512_storeu_ps(y + i, e0);
        _mm512_storeu_ps(y + i + 16, e1);
        _mm512_storeu_ps(y + i + 32, e2);
        _mm512_storeu_ps(y + i + 48, e3);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
        s2 = _mm512_add_ps(s2, e2);
        s3 = _mm512_add_ps(s3, e3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 e = lmk_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
        _mm512_storeu_ps(y + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        __m512 e = lmk_exp_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, x + i), vmax));
        _mm512_mask_storeu_ps(y + i, k, e);
        s1 = _mm512_add_ps(s1, e);   /* the -inf padding adds exp = 0 */
    }
    const float sum = lmk_hsum_avx512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));

    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (i = 0; i + 64 <= n; i += 64) {
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
        _mm512_storeu_ps(y + i + 16, _mm512_mul_ps(_mm512_loadu_ps(y + i + 16), inv));
        _mm512_storeu_ps(y + i + 32, _mm512_mul_ps(_mm512_loadu_ps(y + i + 32), inv));
        _mm512_storeu_ps(y + i + 48, _mm512_mul_ps(_mm512_loadu_ps(y + i + 48), inv));
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i), inv));
    }
}
