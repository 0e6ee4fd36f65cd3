/* Row softmax, AVX2 + FMA: a max pass, an exp-and-sum pass that stores exp(x - max), a scale pass.
 * Four accumulators keep several exps in flight and shorten the float sums. */
#include "elementwise.h"
#include "vmath_avx2.h"

void lmk_softmax_row_avx2(const float *x, float *y, int64_t n) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    __m256 nan = _mm256_setzero_ps();  /* lanes that met a NaN: max_ps would drop it */
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        m0 = _mm256_max_ps(m0, v0);
        m1 = _mm256_max_ps(m1, v1);
        m2 = _mm256_max_ps(m2, v2);
        m3 = _mm256_max_ps(m3, v3);
        /* unordered if either operand is NaN: one compare covers two vectors */
        nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q)));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        m0 = _mm256_max_ps(m0, v);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    float max = lmk_hmax_avx2(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
    int has_nan = _mm256_movemask_ps(nan) != 0;
    for (; i < n; i++) {
        max = x[i] > max ? x[i] : max;
        has_nan |= isnan(x[i]);
    }
    if (has_nan || max == INFINITY || max == -INFINITY) {
        softmax_degenerate_row(y, n, has_nan ? NAN : max);
        return;
    }

    const __m256 vmax = _mm256_set1_ps(max);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (i = 0; i + 32 <= n; i += 32) {
        __m256 e0 = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        __m256 e1 = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmax));
        __m256 e2 = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 16), vmax));
        __m256 e3 = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 24), vmax));
        _mm256_storeu_ps(y + i, e0);
        _mm256_storeu_ps(y + i + 8, e1);
        _mm256_storeu_ps(y + i + 16, e2);
        _mm256_storeu_ps(y + i + 24, e3);
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
        s2 = _mm256_add_ps(s2, e2);
        s3 = _mm256_add_ps(s3, e3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(y + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) {
        /* the tail through a padded lane buffer: -inf padding contributes exp = 0 */
        float buf[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof *x);
        __m256 e = lmk_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(buf), vmax));
        _mm256_storeu_ps(buf, e);
        memcpy(y + i, buf, (size_t)(n - i) * sizeof *y);
        s1 = _mm256_add_ps(s1, e);
    }
    const float sum = lmk_hsum_avx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));

    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 32 <= n; i += 32) {
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
        _mm256_storeu_ps(y + i + 8, _mm256_mul_ps(_mm256_loadu_ps(y + i + 8), inv));
        _mm256_storeu_ps(y + i + 16, _mm256_mul_ps(_mm256_loadu_ps(y + i + 16), inv));
        _mm256_storeu_ps(y + i + 24, _mm256_mul_ps(_mm256_loadu_ps(y + i + 24), inv));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    for (; i < n; i++) y[i] *= 1.0f / sum;
}
