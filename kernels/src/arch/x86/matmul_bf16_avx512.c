/* BF16 weights by BF16 dot products (AVX512_BF16: Cooper Lake, Sapphire Rapids, Zen 4 and later).
 *
 * vdpbf16ps adds a[2i]·b[2i] + a[2i+1]·b[2i+1] into float lane i: twice the multiply-adds of an
 * FMA per instruction. The driver (matmul.c) runs its float GEMM with every "float" a pair of
 * BF16 values (k, k+1) in one 32-bit element: a BF16 weight row of even K is already K/2 such
 * pairs in memory, the activations are rounded to BF16 (to nearest even) into pairs once per
 * call, and the packers move 32-bit elements without looking at them. This micro-kernel is the
 * float one's 14 × 32 tile with the FMA replaced. The activations' rounding is what llama.cpp
 * does for BF16 weights too (its dot type for BF16 is BF16). quant.c-style detection: the driver
 * calls in only where lmk_cpu_avx512bf16() finds it (cpuid leaf 7 subleaf 1, EAX bit 5). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512bf16"))), apply_to = function)
#else
#pragma GCC target("avx512bf16")
#endif

#include <cpuid.h>
#include <immintrin.h>

#include "../../matmul.h"
#include "ukernel_avx512.h"

#define MR 14
#define NR 32

int lmk_cpu_avx512bf16(void) {
    static int has = -1;
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        unsigned a, b, c, d;
        h = __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1);
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    return h;
}

/* a (M, K) floats → (M, ceil(K / 2)) pairs of BF16, rounded to nearest even; an odd K's last
 * pair holds a zero above its value */
void lmk_bf16_pairs(const float *a, uint32_t *out, int64_t M, int64_t K) {
    const int64_t Kp = (K + 1) / 2;
    for (int64_t m = 0; m < M; m++) {
        const float *x = a + m * K;
        uint16_t *y = (uint16_t *)(out + m * Kp);
        int64_t k = 0;
        for (; k + 32 <= K; k += 32)
            _mm512_storeu_si512(y + k, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k)));
        if (k < K) {  /* the tail, masked: nothing read past K, zeros written up to the pair */
            const int64_t left = K - k;
            const __mmask16 lo = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            const __mmask16 hi = left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + k + 16), _mm512_maskz_loadu_ps(lo, x + k));
            const int64_t n = 2 * Kp - k;   /* halves to write: the tail and its pad */
            _mm512_mask_storeu_epi16(y + k, n >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1), v);
        }
    }
}

/* kc steps of pairs: ap (kc, 14) and bp (kc, 32) packed 32-bit pairs, as the float kernel's */
#define DOT_STEP(i, ci0, ci1)                                                                  \
    do {                                                                                       \
        const __m512bh ai = (__m512bh)_mm512_set1_epi32(((const int32_t *)ap)[i]);             \
        ci0 = _mm512_dpbf16_ps(ci0, ai, (__m512bh)b0);                                         \
        ci1 = _mm512_dpbf16_ps(ci1, ai, (__m512bh)b1);                                         \
    } while (0)
LMK_UKERNEL_14x32(ukernel_bf16_14x32, DOT_STEP)

/* The float kernel's blocking, in pairs: a K block of 256 pairs is 512 values, its A micro-panel
 * still 14 KiB. The GEMV fields are the float kernel's (decode stays on the widening GEMV). */
const lmk_sgemm_arch lmk_sgemm_avx512bf16 = {
    .mr = MR, .nr = NR, .kc = 256, .mc = 196, .nc = 1024, .ukernel = ukernel_bf16_14x32,
    .pack = lmk_sgemm_pack_avx2,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif
