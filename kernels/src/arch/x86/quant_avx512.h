/* Quant family, AVX-512 tile kernels, written once for two instruction sets:
 *   quant_avx512.c       QV_VNNI 0: maddubs (u8 × s8 → i16 pairs) then madd to i32
 *   quant_vnni_avx512.c  QV_VNNI 1: vpdpbusd / vpdpwssd, the same integer sums in fewer µops
 * Both put the same integers in the same lanes and run the same float operations after, so their
 * results agree bit for bit (the tests check it).
 *
 * A tile dots R weight rows with C activation rows: 4 × 1 for decode, 2 × 4 (32-blocks) or
 * 1 × 4 (K-quants) for prefill. Each weight block is unpacked once for the C rows, each
 * activation block read once for the R rows, and the R × C sums stay in independent
 * accumulators, so FMA latency overlaps and one horizontal sum ends a row. Every output sees the
 * same operations whatever R and C are (the tile contract). The activations reach the tiles
 * already in the register layout they need (the prep hook, once per call), so a tile only loads.
 *
 * 32-blocks go four per step, 128-bit lane k of a register holding block k: the low nibbles (or
 * first 16 bytes) in `lo`, the high ones in `hi` (Q8_0: two blocks per register instead). Offsets
 * ride on the integer accumulator's first lane of each block (Q4_0: -8·Σa, Q5_0: -16·Σa) or on a
 * float lane (Q4_1: m·d_a·Σa).
 * Every i16 stays below 2 · 63 · 127 = 16002 (Q8_0's and the IQ4 levels' |w| · a: 2 · 128 · 127 =
 * 32512), so maddubs never saturates.
 *
 * Every GGUF format has its tile here: the 32-blocks above, Q4_K / Q5_K (one layout), Q6_K,
 * Q2_K / Q3_K (one layout), and IQ4_XS as groups of IQ4_NL blocks. */
#ifndef QV_VNNI
#error "define QV_VNNI before including quant_avx512.h"
#endif

#include <immintrin.h>
#include <stddef.h>

#include "../../quant_internal.h"

#define QV_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- integer steps */

/* acc + Σ over 4-byte groups of u (u8) × s (s8) */
QV_INLINE __m512i dot_u8s8(__m512i acc, __m512i u, __m512i s) {
#if QV_VNNI
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

/* acc + Σ over i16 pairs of p × s */
QV_INLINE __m512i dot_i16(__m512i acc, __m512i p, __m512i s) {
#if QV_VNNI
    return _mm512_dpwssd_epi32(acc, p, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
#endif
}

/* ---------------------------------------------------------------- loads */

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline float ldf(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }

/* The loads below read only the first n of their 4 (or 2) places and zero the rest: n is 4 in
 * the main loops (the tests fold away) and 1..3 for a row's last blocks, which must not read
 * past the row. */

/* 16 bytes from each of p, p + s, p + 2s, p + 3s → lanes 0..3 */
QV_INLINE __m512i load_4x16(const uint8_t *p, int64_t s, const int n) {
    __m512i v = _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)p));
    if (n > 1) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + s)), 1);
    if (n > 2) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * s)), 2);
    if (n > 3) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * s)), 3);
    return v;
}

/* 32 bytes from each of p, p + s → the two 256-bit halves */
QV_INLINE __m512i load_2x32(const uint8_t *p, int64_t s, const int n) {
    if (n <= 0) return _mm512_setzero_si512();
    const __m512i v = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)p));
    return n > 1 ? _mm512_inserti64x4(v, _mm256_loadu_si256((const __m256i *)(p + s)), 1) : v;
}

/* f16 scales at p, p + s, p + 2s, p + 3s → 4 floats */
QV_INLINE __m128 f16_x4(const uint8_t *p, int64_t s, const int n) {
    return _mm_cvtph_ps(_mm_setr_epi16((short)ld16(p), (short)(n > 1 ? ld16(p + s) : 0),
                                       (short)(n > 2 ? ld16(p + 2 * s) : 0), (short)(n > 3 ? ld16(p + 3 * s) : 0),
                                       0, 0, 0, 0));
}

/* x[k] across 128-bit lane k; x[first], x[first + 1] across the two 256-bit halves */
QV_INLINE __m512 per_lane(__m128 x) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                 _mm512_castps128_ps512(x));
}
QV_INLINE __m512 per_half(__m128 x, int first) {
    return _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32(first),
                                                  _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)),
                                 _mm512_castps128_ps512(x));
}

/* Horizontal sums of four accumulators in one tree: [Σa, Σb, Σc, Σd]. A row alone goes through the
 * same tree (with zeros beside it), so its sum is the same bits in every tile shape. */
QV_INLINE __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));  /* a0+a2 b0+b2 a1+a3 b1+b3 */
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 x = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xEE));
    const __m256 y = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    return _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
}

/* c[r] (r < R) = the sums of acc[0..R) */
QV_INLINE void store_sums(float *c, const __m512 *acc, const int R) {
    const __m512 z = _mm512_setzero_ps();
    if (R == 4) _mm_storeu_ps(c, reduce4(acc[0], acc[1], acc[2], acc[3]));
    else
        for (int r = 0; r < R; r++) c[r] = _mm_cvtss_f32(reduce4(acc[r], z, z, z));
}

/* ---------------------------------------------------------------- 32-blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL */

/* IQ4_NL's (and IQ4_XS's) nibbles index ggml's kvalues_iq4nl table; vpshufb looks 16 of them up
 * per 128-bit lane. With VNNI the levels go in as level + 128 (unsigned; 128 · Σa comes back out
 * as Q8_0's does), without it as |level| with the activation negated where the level is. */
enum { QV_Q8_0, QV_Q4_0, QV_Q4_1, QV_Q5_0, QV_Q5_1, QV_IQ4_NL };
#define QV_IQ4_LEVELS -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
#define ACT_BYTES ((int64_t)sizeof(act_q8))

/* Four activation blocks, in the register layout of the weights they meet: what the prep hook
 * writes once per call (one act4 per 4 blocks, the last padded with zero blocks), so that a tile
 * only loads it. */
typedef struct {
    __m512i lo, hi;  /* Q4/Q5: first and last 16 of each block per lane. Q8_0: blocks 0,1 and 2,3 */
    __m512i off, off23; /* integer offset per lane (Q4_0, Q5_0; Q8_0 with VNNI, blocks 0,1 and 2,3) */
    __m512 d, d23;   /* the activation scales, laid out as the values (d23: Q8_0's blocks 2,3) */
    __m512 sd;       /* Q4_1: d·Σa in the first lane of each block, zero elsewhere */
} act4;
typedef char qv_assert_act4[sizeof(act4) == 7 * 64 && QP_GROUP == 4 ? 1 : -1];

QV_INLINE act4 act4_load(const int fmt, const uint8_t *a, const int n) {
    act4 A;  /* fields a format does not use are zero (and fold away) */
    A.off = A.off23 = _mm512_setzero_si512();
    A.d23 = A.sd = _mm512_setzero_ps();
    if (fmt == QV_Q8_0) {
        A.lo = load_2x32(a + offsetof(act_q8, qs), ACT_BYTES, n);
        A.hi = load_2x32(a + offsetof(act_q8, qs) + 2 * ACT_BYTES, ACT_BYTES, n - 2);
        const __m128 d = _mm_setr_ps(ldf(a), n > 1 ? ldf(a + ACT_BYTES) : 0.0f, n > 2 ? ldf(a + 2 * ACT_BYTES) : 0.0f,
                                     n > 3 ? ldf(a + 3 * ACT_BYTES) : 0.0f);
        A.d = per_half(d, 0), A.d23 = per_half(d, 2);
#if QV_VNNI
        /* the weights go in as w + 128 (unsigned): take 128 · Σa back out of every lane */
        const __m512i z = _mm512_setzero_si512(), one = _mm512_set1_epi8(1);
        A.off = _mm512_sub_epi32(z, _mm512_slli_epi32(_mm512_dpbusd_epi32(z, one, A.lo), 7));
        A.off23 = _mm512_sub_epi32(z, _mm512_slli_epi32(_mm512_dpbusd_epi32(z, one, A.hi), 7));
#endif
        return A;
    }
    const __m512i head = load_4x16(a, ACT_BYTES, n);  /* lane k: d, sum, qs[0..8) of block k */
    A.lo = load_4x16(a + offsetof(act_q8, qs), ACT_BYTES, n);
    A.hi = load_4x16(a + offsetof(act_q8, qs) + 16, ACT_BYTES, n);
    A.d = _mm512_permute_ps(_mm512_castsi512_ps(head), 0x00);
    const __m512i sum = _mm512_maskz_shuffle_epi32(0x1111, head, _MM_PERM_BBBB);  /* Σa in lane 0 only */
    if (fmt == QV_Q4_1 || fmt == QV_Q5_1) A.sd = _mm512_maskz_mul_ps(0x1111, A.d, _mm512_cvtepi32_ps(sum));
    if (fmt == QV_Q4_0) A.off = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 3));
    if (fmt == QV_Q5_0) A.off = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 4));
#if QV_VNNI
    if (fmt == QV_IQ4_NL) {  /* 128 · Σa per dword (of the bytes it meets), so each dword ends as without VNNI */
        const __m512i z = _mm512_setzero_si512(), one = _mm512_set1_epi8(1);
        A.off = _mm512_sub_epi32(z, _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, one, A.lo), one, A.hi), 7));
    }
#endif
    return A;
}

/* Four weight blocks of one row, unpacked. */
typedef struct {
    __m512i lo, hi;   /* as in act4 (Q8_0, IQ4_NL: w + 128 with VNNI, else |w|) */
    __mmask64 neg_lo, neg_hi;  /* Q8_0, IQ4_NL without VNNI: where w < 0 */
    __m512 d, d23, m; /* scales per value (d23: Q8_0's blocks 2,3); Q4_1's mins per lane */
} w4;

/* The fifth bits of n Q5_0 / Q5_1 blocks (qh at byte `at` of blocks `bb` apart): bit j → value j,
 * bit 16 + j → value 16 + j. */
QV_INLINE void add_fifth_bits(w4 *W, const uint8_t *w, int64_t bb, int at, const int n) {
    uint64_t mlo = 0, mhi = 0;
    for (int k = 0; k < n; k++) {
        const uint64_t h = ld32(w + bb * k + at);
        mlo |= (h & 0xFFFF) << (16 * k), mhi |= (h >> 16) << (16 * k);
    }
    const __m512i sixteen = _mm512_set1_epi8(0x10);
    W->lo = _mm512_mask_add_epi8(W->lo, (__mmask64)mlo, W->lo, sixteen);
    W->hi = _mm512_mask_add_epi8(W->hi, (__mmask64)mhi, W->hi, sixteen);
}

/* Nibble indices (lo, hi) → IQ4 levels in the form w4_dot takes (see QV_IQ4_LEVELS). */
QV_INLINE void iq4_levels(w4 *W) {
    const __m512i levels = _mm512_broadcast_i32x4(_mm_setr_epi8(QV_IQ4_LEVELS));
#if QV_VNNI
    const __m512i biased = _mm512_xor_si512(levels, _mm512_set1_epi8((char)0x80));
    W->lo = _mm512_shuffle_epi8(biased, W->lo), W->hi = _mm512_shuffle_epi8(biased, W->hi);
#else
    const __m512i lo = _mm512_shuffle_epi8(levels, W->lo), hi = _mm512_shuffle_epi8(levels, W->hi);
    W->neg_lo = _mm512_movepi8_mask(lo), W->neg_hi = _mm512_movepi8_mask(hi);
    W->lo = _mm512_abs_epi8(lo), W->hi = _mm512_abs_epi8(hi);
#endif
}

QV_INLINE w4 w4_load(const int fmt, const uint8_t *w, const int n) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    w4 W;
    W.neg_lo = W.neg_hi = 0;
    W.d23 = W.m = _mm512_setzero_ps();
    if (fmt == QV_Q8_0) {
        const __m512i v01 = load_2x32(w + 2, 34, n), v23 = load_2x32(w + 2 + 68, 34, n - 2);
        const __m128 d = f16_x4(w, 34, n);
        W.d = per_half(d, 0), W.d23 = per_half(d, 2);
#if QV_VNNI
        W.lo = _mm512_xor_si512(v01, _mm512_set1_epi8((char)0x80));
        W.hi = _mm512_xor_si512(v23, _mm512_set1_epi8((char)0x80));
#else
        W.neg_lo = _mm512_movepi8_mask(v01), W.neg_hi = _mm512_movepi8_mask(v23);
        W.lo = _mm512_abs_epi8(v01), W.hi = _mm512_abs_epi8(v23);
#endif
        return W;
    }
    __m512i q;
    if (fmt == QV_Q4_1) {
        /* 20-byte blocks are dword aligned: one permute gathers the four qs, another the (d, m) */
        const __m512i z0 = n > 3 ? _mm512_loadu_si512(w) : _mm512_maskz_loadu_epi32((__mmask16)((1u << (5 * n)) - 1), w);
        const __m512i z1 = n > 3 ? _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)(w + 64))) : _mm512_setzero_si512();
        q = _mm512_permutex2var_epi32(z0, _mm512_setr_epi32(1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19), z1);
        const __m128i dm = _mm512_castsi512_si128(_mm512_permutexvar_epi32(_mm512_setr_epi32(0, 5, 10, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), z0));
        const __m512 f = _mm512_castps256_ps512(_mm256_cvtph_ps(dm));  /* d0 m0 d1 m1 d2 m2 d3 m3 */
        W.d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6), f);
        W.m = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7), f);
    } else if (fmt == QV_Q4_0 || fmt == QV_IQ4_NL) {
        q = load_4x16(w + 2, 18, n);
        W.d = per_lane(f16_x4(w, 18, n));
    } else if (fmt == QV_Q5_1) {
        q = load_4x16(w + 8, 24, n);
        W.d = per_lane(f16_x4(w, 24, n)), W.m = per_lane(f16_x4(w + 2, 24, n));
    } else {  /* Q5_0 */
        q = load_4x16(w + 6, 22, n);
        W.d = per_lane(f16_x4(w, 22, n));
    }
    W.lo = _mm512_and_si512(q, lo4);
    W.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
    if (fmt == QV_Q5_0) add_fifth_bits(&W, w, 22, 2, n);
    if (fmt == QV_Q5_1) add_fifth_bits(&W, w, 24, 4, n);
    if (fmt == QV_IQ4_NL) iq4_levels(&W);
    return W;
}

QV_INLINE __m512 w4_dot(const int fmt, const w4 *W, const act4 *A, __m512 acc) {
    if (fmt == QV_Q8_0) {
#if QV_VNNI
        const __m512i p01 = _mm512_dpbusd_epi32(A->off, W->lo, A->lo);
        const __m512i p23 = _mm512_dpbusd_epi32(A->off23, W->hi, A->hi);
#else
        const __m512i z = _mm512_setzero_si512();
        const __m512i p01 = dot_u8s8(z, W->lo, _mm512_mask_sub_epi8(A->lo, W->neg_lo, z, A->lo));
        const __m512i p23 = dot_u8s8(z, W->hi, _mm512_mask_sub_epi8(A->hi, W->neg_hi, z, A->hi));
#endif
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p01), _mm512_mul_ps(W->d, A->d), acc);
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(p23), _mm512_mul_ps(W->d23, A->d23), acc);
    }
    const int affine = fmt == QV_Q4_1 || fmt == QV_Q5_1;
    __m512i alo = A->lo, ahi = A->hi;
    if (fmt == QV_IQ4_NL && !QV_VNNI) {
        const __m512i z = _mm512_setzero_si512();
        alo = _mm512_mask_sub_epi8(alo, W->neg_lo, z, alo), ahi = _mm512_mask_sub_epi8(ahi, W->neg_hi, z, ahi);
    }
    const __m512i p = dot_u8s8(dot_u8s8(affine ? _mm512_setzero_si512() : A->off, W->lo, alo), W->hi, ahi);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(W->d, A->d), acc);
    if (affine) acc = _mm512_fmadd_ps(W->m, A->sd, acc);
    return acc;
}

QV_INLINE int64_t blk32_bytes(const int fmt) {
    return fmt == QV_Q8_0 ? 34 : fmt == QV_Q4_0 || fmt == QV_IQ4_NL ? 18 : fmt == QV_Q4_1 ? 20 : fmt == QV_Q5_1 ? 24 : 22;
}

/* n <= 4 blocks from R rows and C prepared activation rows (a: their act4 for these blocks). */
QV_INLINE void step32(const int fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, __m512 acc[4][4],
                      const int R, const int C, const int n) {
    const act4 *A[4];
    for (int i = 0; i < C; i++) A[i] = (const act4 *)(a + i * as);
    for (int r = 0; r < R; r++) {
        if (R == 4) {  /* the same blocks of the next four rows: streams from L3 or memory keep up */
            _mm_prefetch((const char *)(w + (r + 4) * ws), _MM_HINT_T0);
            _mm_prefetch((const char *)(w + (r + 4) * ws + 64), _MM_HINT_T0);
        }
        const w4 W = w4_load(fmt, w + r * ws, n);
        for (int i = 0; i < C; i++) acc[i][r] = w4_dot(fmt, &W, A[i], acc[i][r]);
    }
}

QV_INLINE void tile32(const int fmt, const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c,
                      int64_t ldc, const int R, const int C, int64_t nb) {
    const int64_t bb = blk32_bytes(fmt);
    __m512 acc[4][4];  /* [act][row], R · C <= 8 in use */
    for (int r = 0; r < R; r++)
        for (int i = 0; i < C; i++) acc[i][r] = _mm512_setzero_ps();
    int64_t b = 0;
    const act4 *ag = (const act4 *)a;
    for (; b + 4 <= nb; b += 4, ag++) step32(fmt, w + b * bb, ws, (const uint8_t *)ag, as, acc, R, C, 4);
    /* the last 1..3 blocks; the missing ones read as zero blocks (zero scales and values: +0) */
    if (b < nb) step32(fmt, w + b * bb, ws, (const uint8_t *)ag, as, acc, R, C, (int)(nb - b));
    for (int i = 0; i < C; i++) store_sums(c + i * ldc, acc[i], R);
}

/* Prefill runs 2 rows × 4 activations (each weight block unpacked once for four rows of a, eight
 * accumulators); decode runs 4 rows × 1 activation. */
#define QV_TILE32(name, fmt)                                                                           \
    QV_INLINE void name##_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                               const int R, const int C, int64_t nb) {                                 \
        tile32(fmt, w, ws, a, as, c, ldc, R, C, nb);                                                   \
    }                                                                                                  \
    LMK_QTILE_DISPATCH(name, name##_kern, 2, 2)                                                        \
    static void name##_prep(const void *act, void *out, int64_t nb) {                                  \
        act4 *o = out;                                                                                 \
        for (int64_t b = 0; b < nb; b += 4) o[b / 4] = act4_load(fmt, (const uint8_t *)act + b * ACT_BYTES, (int)LMK_MIN(nb - b, 4)); \
    }
QV_TILE32(tile_q8_0, QV_Q8_0)
QV_TILE32(tile_q4_0, QV_Q4_0)
QV_TILE32(tile_q4_1, QV_Q4_1)
QV_TILE32(tile_q5_0, QV_Q5_0)
QV_TILE32(tile_q5_1, QV_Q5_1)
QV_TILE32(tile_iq4_nl, QV_IQ4_NL)

/* ---------------------------------------------------------------- K-quants: Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS */

/* Q4_K: 64-byte loads of qs hold sub-blocks (2c, 2c + 1, 2c + 2, 2c + 3) as low, high, low, high
 * nibbles of two 32-byte chunks; lo = sub-blocks 2c and 2c + 2, hi = 2c + 1 and 2c + 3. The
 * prep hook gathers the activations to match once per call: q[0] = a[0..32) | a[64..96), q[1] =
 * a[32..64) | a[96..128), q[2], q[3] the same from 128. */
typedef struct {
    __m512i q[4];
    __m256i bmin;  /* Σa over sub-block j in word 8 + j (the mins' place in q4k_w.sm), zero below */
    __m256 d;      /* the activation scale in lane 0 */
} q4k_act;
typedef char qv_assert_q4k_act[sizeof(q4k_act) == 5 * 64 ? 1 : -1];

static void q4k_prep(const void *act, void *out, int64_t nb) {
    const act_q8k *a = act;
    q4k_act *o = out;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qs = (const uint8_t *)a[b].qs;
        for (int k = 0; k < 4; k++) o[b].q[k] = load_2x32(qs + 128 * (k / 2) + 32 * (k % 2), 64, 2);
        const __m256i bpair = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[b].bsums), _mm256_set1_epi16(1));
        const __m256i bsub = _mm256_permute4x64_epi64(_mm256_packs_epi32(bpair, bpair), 0xD8);  /* |.| < 2^13 */
        o[b].bmin = _mm256_blend_epi32(_mm256_setzero_si256(), bsub, 0xF0);
        o[b].d = _mm256_setr_ps(a[b].d, 0, 0, 0, 0, 0, 0, 0);
    }
}

/* One Q4_K super-block of one row, unpacked. */
typedef struct {
    __m512i u[4], sc[4];  /* values (as q4k_act.q) and their sub-block scales as i16 */
    __m256i sm;           /* sc[0..8) in words 0..7, mn[0..8) in words 8..15 */
    float d, dmin;
} q4k_w;

/* Q4_K's layout from its parts (Q5_K has the same scales and nibbles, placed elsewhere). */
QV_INLINE q4k_w q4k_unpack(const uint8_t *scales, const uint8_t *qs, uint16_t d, uint16_t dmin) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    q4k_w W;
    /* 12 bytes → sc in bytes 0..7, mn in 8..15 (lmk_q4k_scales, four at a time) */
    const uint32_t s0 = ld32(scales), s1 = ld32(scales + 4), s2 = ld32(scales + 8);
    const uint32_t sc_lo = s0 & 0x3F3F3F3Fu, mn_lo = s1 & 0x3F3F3F3Fu;
    const uint32_t sc_hi = (s2 & 0x0F0F0F0Fu) | ((s0 >> 6) & 0x03030303u) << 4;
    const uint32_t mn_hi = ((s2 >> 4) & 0x0F0F0F0Fu) | ((s1 >> 6) & 0x03030303u) << 4;
    W.sm = _mm256_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi));
    const __m512i sm2 = _mm512_castsi256_si512(W.sm);
    /* u[k] covers sub-blocks j and j + 2 with j = 0, 1, 4, 5 */
    for (int k = 0; k < 4; k++) {
        const int j = 4 * (k / 2) + k % 2;
        W.sc[k] = _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_set1_epi16((short)j), _mm256_set1_epi16((short)(j + 2)), 1), sm2);
    }
    const __m512i v0 = _mm512_loadu_si512(qs), v1 = _mm512_loadu_si512(qs + 64);
    W.u[0] = _mm512_and_si512(v0, lo4), W.u[1] = _mm512_and_si512(_mm512_srli_epi16(v0, 4), lo4);
    W.u[2] = _mm512_and_si512(v1, lo4), W.u[3] = _mm512_and_si512(_mm512_srli_epi16(v1, 4), lo4);
    W.d = _cvtsh_ss(d), W.dmin = _cvtsh_ss(dmin);
    return W;
}

QV_INLINE q4k_w q4k_load(const blk_q4_k *x) { return q4k_unpack(x->scales, x->qs, x->d, x->dmin); }

/* Byte selectors: bit `lo` of every byte in the low 256-bit half, bit `hi` in the high one. */
QV_INLINE __m512i bit_per_half(int lo, int hi) {
    return _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << lo)), _mm256_set1_epi8((char)(1 << hi)), 1);
}

/* Q5_K: Q4_K plus a fifth bit, bit s of qh[l] for value l of sub-block s; u[k] holds sub-blocks
 * j | j + 2 (j = 0, 1, 4, 5), so its bits are j in the low half and j + 2 in the high one. */
QV_INLINE q4k_w q5k_load(const blk_q5_k *x) {
    q4k_w W = q4k_unpack(x->scales, x->qs, x->d, x->dmin);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x->qh));
    for (int k = 0; k < 4; k++) {
        const int j = 4 * (k / 2) + k % 2;
        W.u[k] = _mm512_mask_add_epi8(W.u[k], _mm512_test_epi8_mask(qh, bit_per_half(j, j + 2)), W.u[k],
                                      _mm512_set1_epi8(0x10));
    }
    return W;
}

QV_INLINE __m512 q4k_dot(const q4k_w *W, const q4k_act *A, __m512 acc) {
    __m512i isum = _mm512_setzero_si512();
    for (int k = 0; k < 4; k++) isum = dot_i16(isum, _mm512_maddubs_epi16(W->u[k], A->q[k]), W->sc[k]);
    const __m256i mins = _mm256_madd_epi16(W->sm, A->bmin);  /* mn_j · Σa(sub-block j) in dwords 4..7 */
    const float ad = _mm256_cvtss_f32(A->d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(W->d * ad), acc);
    return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(mins)), _mm512_set1_ps(W->dmin * ad), acc);
}

/* Q6_K: per half h, 64 bytes of ql and 32 of qh make values 128h .. 128h + 128 in natural order
 * (the layout quant_avx2.c's kernel builds), so the activations load straight from act_q8k. The
 * -32 offset leaves as 32 · Σ_g sc_g · Σa_g, subtracted from the integer sum. */
typedef struct {
    __m512i v[4], s[4];  /* values 64k .. 64k + 64 and their group scales as i16 */
    __m256i sc;          /* the 16 group scales */
    float d;
} q6k_w;

QV_INLINE q6k_w q6k_load(const blk_q6_k *x) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    /* per 256-bit half, where its two qh bits go to bits 4, 5: q1 | q2 by shifting left 4 | 2,
     * q3 | q4 by shifting right 0 | 2 */
    const __m512i up12 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i down34 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    /* 128-bit lane k of the scales for groups g .. g + 3: sc[g + k], eight copies */
    const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 0x00010001, 0x00010001, 0x00010001, 0x00010001,
                                           0x00020002, 0x00020002, 0x00020002, 0x00020002,
                                           0x00030003, 0x00030003, 0x00030003, 0x00030003);
    q6k_w W;
    W.sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    const __m512i sc2 = _mm512_castsi256_si512(W.sc);
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512(x->ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
        /* bit select (0xE4: lo4 ? first : second) = the four low bits | the two high ones */
        W.v[2 * h] = _mm512_ternarylogic_epi32(ql, _mm512_and_si512(_mm512_sllv_epi16(qh, up12), bits45), lo4, 0xE4);
        W.v[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4),
                                                   _mm512_and_si512(_mm512_srlv_epi16(qh, down34), bits45), lo4, 0xE4);
        W.s[2 * h] = _mm512_permutexvar_epi16(_mm512_add_epi16(quad, _mm512_set1_epi16((short)(8 * h))), sc2);
        W.s[2 * h + 1] = _mm512_permutexvar_epi16(_mm512_add_epi16(quad, _mm512_set1_epi16((short)(8 * h + 4))), sc2);
    }
    W.d = _cvtsh_ss(x->d);
    return W;
}

QV_INLINE __m512 q6k_dot(const q6k_w *W, const act_q8k *A, __m512 acc) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)A->bsums);
    __m512i isum = _mm512_sub_epi32(_mm512_setzero_si512(),
                                    _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(bs, W->sc), 5)));
    for (int k = 0; k < 4; k++)
        isum = dot_i16(isum, _mm512_maddubs_epi16(W->v[k], _mm512_loadu_si512(A->qs + 64 * k)), W->s[k]);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(W->d * A->d), acc);
}

/* 128-bit lane k of a register: scale g + k of the 16 in sc (i16), eight copies. */
QV_INLINE __m512i group_scales(__m256i sc, int g) {
    const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 0x00010001, 0x00010001, 0x00010001, 0x00010001,
                                           0x00020002, 0x00020002, 0x00020002, 0x00020002,
                                           0x00030003, 0x00030003, 0x00030003, 0x00030003);
    return _mm512_permutexvar_epi16(_mm512_add_epi16(quad, _mm512_set1_epi16((short)g)), _mm512_castsi256_si512(sc));
}

/* Q2_K and Q3_K: value 128n + 32j + l is bits 2j, 2j + 1 of qs[32n + l], so v[k] (values
 * 64k .. 64k + 64, natural order, the activations load straight from act_q8k) is qs[32n ..] with
 * n = k / 2 shifted by 4(k % 2) in its low half and 4(k % 2) + 2 in its high one. Q2_K's values
 * are unsigned with a min per group; Q3_K's third bit (bit 4n + j of hmask[l]) is added as 4 and
 * its -4 leaves as 4 · Σ_g sc_g · Σa_g, as Q6_K's -32 does. */
typedef struct {
    __m512i v[4], s[4];  /* values and their group scales (i16) */
    __m256i sc, mn;      /* the 16 group scales; Q2_K's 16 mins (Q3_K: zero) */
    float d, dmin;
} q23k_w;

QV_INLINE void q23k_values(q23k_w *W, const uint8_t *qs) {
    const __m512i three = _mm512_set1_epi8(3);
    for (int k = 0; k < 4; k++) {
        const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * (k / 2))));
        const __m512i shift = _mm512_inserti64x4(_mm512_set1_epi16((short)(4 * (k % 2))), _mm256_set1_epi16((short)(4 * (k % 2) + 2)), 1);
        W->v[k] = _mm512_and_si512(_mm512_srlv_epi16(q, shift), three);
        W->s[k] = group_scales(W->sc, 4 * k);
    }
}

QV_INLINE q23k_w q2k_load(const blk_q2_k *x) {
    q23k_w W;
    const __m128i b = _mm_loadu_si128((const __m128i *)x->scales);
    W.sc = _mm256_cvtepu8_epi16(_mm_and_si128(b, _mm_set1_epi8(0x0F)));
    W.mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F)));
    q23k_values(&W, x->qs);
    W.d = _cvtsh_ss(x->d), W.dmin = _cvtsh_ss(x->dmin);
    return W;
}

QV_INLINE q23k_w q3k_load(const blk_q3_k *x) {
    q23k_w W;
    int8_t sc[16];
    lmk_q3k_scales(x->scales, sc);
    W.sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
    W.mn = _mm256_setzero_si256();
    q23k_values(&W, x->qs);
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x->hmask));
    for (int k = 0; k < 4; k++) {
        const int j = 4 * (k / 2) + 2 * (k % 2);
        W.v[k] = _mm512_mask_add_epi8(W.v[k], _mm512_test_epi8_mask(hm, bit_per_half(j, j + 1)), W.v[k],
                                      _mm512_set1_epi8(4));
    }
    W.d = _cvtsh_ss(x->d), W.dmin = 0.0f;
    return W;
}

QV_INLINE __m512 q23k_dot(const int q3, const q23k_w *W, const act_q8k *A, __m512 acc) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)A->bsums);
    __m512i isum = q3 ? _mm512_sub_epi32(_mm512_setzero_si512(),
                                         _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(bs, W->sc), 2)))
                      : _mm512_setzero_si512();
    for (int k = 0; k < 4; k++)
        isum = dot_i16(isum, _mm512_maddubs_epi16(W->v[k], _mm512_loadu_si512(A->qs + 64 * k)), W->s[k]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(W->d * A->d), acc);
    if (!q3)
        acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(_mm256_madd_epi16(bs, W->mn))),
                               _mm512_set1_ps(W->dmin * A->d), acc);
    return acc;
}
QV_INLINE __m512 q2k_dot(const q23k_w *W, const act_q8k *A, __m512 acc) { return q23k_dot(0, W, A, acc); }
QV_INLINE __m512 q3k_dot(const q23k_w *W, const act_q8k *A, __m512 acc) { return q23k_dot(1, W, A, acc); }

/* IQ4_XS: eight IQ4_NL-like sub-blocks of 32 under one f16 scale and a six-bit scale each: as
 * two groups of four IQ4_NL blocks (w4 / act4, the 32-block path) with scale d · (ls - 32) per
 * sub-block. The prep hook lays the activations out as IQ4_NL's: lane k of half h holds
 * sub-block 4h + k. */
typedef struct { act4 h[2]; } iq4xs_act;
typedef struct { w4 h[2]; } iq4xs_w;

static void iq4xs_prep(const void *act, void *out, int64_t nb) {
    const act_q8k *a = act;
    iq4xs_act *o = out;
    for (int64_t b = 0; b < nb; b++)
        for (int h = 0; h < 2; h++) {
            act4 *A = &o[b].h[h];
            A->lo = load_4x16((const uint8_t *)a[b].qs + 128 * h, 32, 4);
            A->hi = load_4x16((const uint8_t *)a[b].qs + 128 * h + 16, 32, 4);
            A->d = _mm512_set1_ps(a[b].d);
            A->d23 = A->sd = _mm512_setzero_ps();
            A->off = A->off23 = _mm512_setzero_si512();
#if QV_VNNI
            const __m512i z = _mm512_setzero_si512(), one = _mm512_set1_epi8(1);
            A->off = _mm512_sub_epi32(z, _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, one, A->lo), one, A->hi), 7));
#endif
        }
}

QV_INLINE iq4xs_w iq4xs_load(const blk_iq4_xs *x) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    const float d = _cvtsh_ss(x->d);
    iq4xs_w W;
    for (int h = 0; h < 2; h++) {
        float ls[4];
        for (int k = 0; k < 4; k++) {
            const int s = 4 * h + k;
            ls[k] = d * (float)((((x->scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | ((x->scales_h >> (2 * s)) & 3) << 4) - 32);
        }
        w4 *H = &W.h[h];
        const __m512i q = _mm512_loadu_si512(x->qs + 64 * h);
        H->lo = _mm512_and_si512(q, lo4), H->hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
        H->neg_lo = H->neg_hi = 0;
        H->d = per_lane(_mm_loadu_ps(ls));
        H->d23 = H->m = _mm512_setzero_ps();
        iq4_levels(H);
    }
    return W;
}

QV_INLINE __m512 iq4xs_dot(const iq4xs_w *W, const iq4xs_act *A, __m512 acc) {
    return w4_dot(QV_IQ4_NL, &W->h[1], &A->h[1], w4_dot(QV_IQ4_NL, &W->h[0], &A->h[0], acc));
}

/* K-quant tiles: each super-block of a row is unpacked once for the C activation rows. Prefill
 * runs 1 row × 4 activations (an unpacked super-block takes 9 registers), decode 4 rows × 1. */
#define QV_TILEK(name, wtype, load, dot, atype, bytes)                                                  \
    QV_INLINE void name##_kern(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                               const int R, const int C, int64_t nb) {                                 \
        __m512 acc[4][4];                                                                              \
        for (int i = 0; i < C; i++)                                                                    \
            for (int r = 0; r < R; r++) acc[i][r] = _mm512_setzero_ps();                               \
        for (int64_t b = 0; b < nb; b++)                                                               \
            for (int r = 0; r < R; r++) {                                                              \
                const wtype W = load((const void *)(w + r * ws + b * (bytes)));                        \
                for (int i = 0; i < C; i++) acc[i][r] = dot(&W, (const atype *)(a + i * as) + b, acc[i][r]); \
            }                                                                                          \
        for (int i = 0; i < C; i++) store_sums(c + i * ldc, acc[i], R);                                \
    }                                                                                                  \
    LMK_QTILE_DISPATCH(name, name##_kern, 1, 1)
QV_TILEK(tile_q4_k, q4k_w, q4k_load, q4k_dot, q4k_act, 144)
QV_TILEK(tile_q6_k, q6k_w, q6k_load, q6k_dot, act_q8k, 210)
QV_TILEK(tile_q5_k, q4k_w, q5k_load, q4k_dot, q4k_act, 176)
QV_TILEK(tile_q2_k, q23k_w, q2k_load, q2k_dot, act_q8k, 84)
QV_TILEK(tile_q3_k, q23k_w, q3k_load, q3k_dot, act_q8k, 110)
QV_TILEK(tile_iq4_xs, iq4xs_w, iq4xs_load, iq4xs_dot, iq4xs_act, 136)

/* ---------------------------------------------------------------- activation quantization */

/* q_round of quant.c on 16 lanes: nearest, halves away from zero, clamped to [-127, 127], NaN → -127. */
QV_INLINE __m512i round_q8(__m512 v) {
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));  /* max(NaN, lo) = lo */
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), r = _mm512_sub_ps(v, t);
    __m512i q = _mm512_cvttps_epi32(t);
    q = _mm512_mask_add_epi32(q, _mm512_cmp_ps_mask(r, _mm512_set1_ps(0.5f), _CMP_GE_OQ), q, _mm512_set1_epi32(1));
    return _mm512_mask_sub_epi32(q, _mm512_cmp_ps_mask(r, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), q, _mm512_set1_epi32(1));
}

/* n floats (a multiple of 16) → bytes, with the same scale the scalar code picks */
QV_INLINE float quantize_span(const float *x, int8_t *q, int n, __m512i *sums16) {
    __m512 amax = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float d = _mm512_reduce_max_ps(amax) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j += 16) {
        const __m512i v = round_q8(_mm512_mul_ps(_mm512_loadu_ps(x + j), _mm512_set1_ps(id)));
        _mm_storeu_si128((__m128i *)(q + j), _mm512_cvtepi32_epi8(v));
        sums16[j / 16] = v;
    }
    return d;
}

static void act_q8_x(const float *x, void *vy, int64_t nb) {
    act_q8 *y = vy;
    for (int64_t b = 0; b < nb; b++, x += QK) {
        __m512i v[2];
        y[b].d = quantize_span(x, y[b].qs, QK, v);
        y[b].sum = _mm512_reduce_add_epi32(_mm512_add_epi32(v[0], v[1]));
    }
}

static void act_q8k_x(const float *x, void *vy, int64_t nb) {
    act_q8k *y = vy;
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        __m512i v[16];
        y[b].d = quantize_span(x, y[b].qs, QK_K, v);
        for (int g = 0; g < 16; g++) y[b].bsums[g] = (int16_t)_mm512_reduce_add_epi32(v[g]);
    }
}

static lmk_qkernels qv_kernels(lmk_qfmt fmt) {
    lmk_qkernels k = {.act = act_q8_x, .prep_bytes = sizeof(act4) / 4};
    switch ((int)fmt) {
    case LMK_Q8_0: k.tile = tile_q8_0, k.prep = tile_q8_0_prep; break;
    case LMK_Q4_0: k.tile = tile_q4_0, k.prep = tile_q4_0_prep; break;
    case LMK_Q4_1: k.tile = tile_q4_1, k.prep = tile_q4_1_prep; break;
    case LMK_Q5_0: k.tile = tile_q5_0, k.prep = tile_q5_0_prep; break;
    case LMK_Q5_1: k.tile = tile_q5_1, k.prep = tile_q5_1_prep; break;
    case LMK_IQ4_NL: k.tile = tile_iq4_nl, k.prep = tile_iq4_nl_prep; break;
    case LMK_Q4_K: k.tile = tile_q4_k, k.act = act_q8k_x, k.prep = q4k_prep, k.prep_bytes = sizeof(q4k_act); break;
    case LMK_Q6_K: k.tile = tile_q6_k, k.act = act_q8k_x, k.prep_bytes = 0; break;
    case LMK_Q5_K: k.tile = tile_q5_k, k.act = act_q8k_x, k.prep = q4k_prep, k.prep_bytes = sizeof(q4k_act); break;
    case LMK_Q2_K: k.tile = tile_q2_k, k.act = act_q8k_x, k.prep_bytes = 0; break;
    case LMK_Q3_K: k.tile = tile_q3_k, k.act = act_q8k_x, k.prep_bytes = 0; break;
    case LMK_IQ4_XS: k.tile = tile_iq4_xs, k.act = act_q8k_x, k.prep = iq4xs_prep, k.prep_bytes = sizeof(iq4xs_act); break;
    default: return lmk_qkernels_generic(fmt);  /* every format has a tile above */
    }
    return k;
}
