/* Private to the quant family: GGUF block layouts, the 8-bit activation blocks that the fast
 * qmatmul dots against, and the driver each ISA plugs its dot kernels into. */
#ifndef LMK_QUANT_INTERNAL_H
#define LMK_QUANT_INTERNAL_H

#include "internal.h"

#define QK 32     /* elements per block of Q8_0, Q4_0, Q4_1, Q5_0 */
#define QK_K 256  /* elements per super-block of Q4_K, Q6_K */

/* Block layouts, byte for byte as ggml writes them (f16 fields kept as raw bits). */
typedef struct { uint16_t d; int8_t qs[QK]; } blk_q8_0;                                /* 34 B */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_q4_0;                           /* 18 B */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } blk_q4_1;                        /* 20 B */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_0;            /* 22 B */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } blk_q4_k; /* 144 B */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } blk_q6_k; /* 210 B */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_1;                 /* 24 B */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_iq4_nl;                                  /* 18 B */
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; } blk_q2_k;  /* 84 B */
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; } blk_q3_k; /* 110 B */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } blk_q5_k; /* 176 B */
typedef struct { uint16_t d, scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } blk_iq4_xs; /* 136 B */

/* C99 static asserts: the structs must have exactly ggml's sizes (no padding). */
typedef char lmk_assert_q8_0[sizeof(blk_q8_0) == 34 ? 1 : -1];
typedef char lmk_assert_q4_0[sizeof(blk_q4_0) == 18 ? 1 : -1];
typedef char lmk_assert_q4_1[sizeof(blk_q4_1) == 20 ? 1 : -1];
typedef char lmk_assert_q5_0[sizeof(blk_q5_0) == 22 ? 1 : -1];
typedef char lmk_assert_q4_k[sizeof(blk_q4_k) == 144 ? 1 : -1];
typedef char lmk_assert_q6_k[sizeof(blk_q6_k) == 210 ? 1 : -1];
typedef char lmk_assert_lowbit[sizeof(blk_q5_1) == 24 && sizeof(blk_iq4_nl) == 18 && sizeof(blk_q2_k) == 84 &&
                               sizeof(blk_q3_k) == 110 && sizeof(blk_q5_k) == 176 && sizeof(blk_iq4_xs) == 136 ? 1 : -1];

/* Activations quantized on the fly, symmetric 8-bit in [-127, 127] (never -128, so the SIMD
 * sign trick cannot overflow). x ≈ d * qs.
 *   act_q8:  for the 32-blocks; sum = Σ qs lets offset formats (q - 8, q * d + m) fold their
 *            constant term into one multiply per block.
 *   act_q8k: for the K-quants; bsums[g] = Σ qs over group g of 16, for Q4_K's mins and Q6_K's -32. */
typedef struct { float d; int32_t sum; int8_t qs[QK]; } act_q8;                        /* 40 B */
typedef struct { float d; int16_t bsums[QK_K / 16]; int8_t qs[QK_K]; } act_q8k;       /* 292 B */

/* One weight row · one activation row, nb blocks of the weight's format. */
typedef float (*lmk_qdot_fn)(const void *w, const void *a, int64_t nb);

/* A tile of dots: nr weight rows (w + r * w_stride bytes) against na <= QT_ACTS activation rows
 * (a + i * a_stride bytes), c[i * ldc + r] = w_r · a_i over nb blocks.
 * Contract: every output goes through the same operations whatever nr and na are, so a result
 * does not depend on how the driver tiles (or threads) the matrix. */
#define QT_ACTS 4
typedef void (*lmk_qtile_fn)(const uint8_t *w, int64_t w_stride, const uint8_t *a, int64_t a_stride, float *c,
                             int64_t ldc, int nr, int na, int64_t nb);

/* One row of floats → its 8-bit activation blocks (act_q8 or act_q8k, by format), nb blocks.
 * Every ISA's version must write the same bytes as the generic one (for finite input). */
typedef void (*lmk_qact_fn)(const float *x, void *y, int64_t nb);

/* One row of activation blocks → the layout an ISA's tiles read (built once per call, so a tile
 * only loads what it would otherwise rebuild for every weight row); nb blocks in, prep_bytes
 * per block out, in whole groups of QP_GROUP blocks (the last one padded with zero blocks). */
#define QP_GROUP 4
typedef void (*lmk_qprep_fn)(const void *act, void *out, int64_t nb);

/* Prefill on an x16 layout whose values take work to unpack (the K-quants' bit fields): the
 * driver unpacks a 16-row panel's blocks once per call, LMK_QU_BYTES per block (the values as the
 * format's tile builds them, their group scales and mins, the rows' d and dmin), and the utile
 * reads them there for every activation row. unpack: nb blocks of the panel at w → u. utile: na
 * activation rows (any number) against np (1 or 2) panels of nb unpacked blocks (u[0], u[1];
 * outputs c and c + 16), adding to c if more (a later part of the rows' blocks) — the same operations in the
 * same order as the tile, so the result's bits do not depend on which of the two ran. */
#define LMK_QU_BYTES 5760
typedef void (*lmk_qunpack_fn)(const uint8_t *w, uint8_t *u, int64_t nb);
typedef void (*lmk_qutile_fn)(const uint8_t *const *u, int np, const uint8_t *a, int64_t a_stride, float *c,
                              int64_t ldc, int64_t na, int64_t nb, int more);

/* What an ISA plugs into the driver for one format. act may be NULL (the generic one runs);
 * prep may be NULL (the tiles read act_q8 / act_q8k as they are); unpack and utile NULL where
 * the tile alone serves prefill. */
typedef struct {
    lmk_qtile_fn tile;
    lmk_qact_fn act;
    lmk_qprep_fn prep;
    int64_t prep_bytes;
    lmk_qunpack_fn unpack;
    lmk_qutile_fn utile;
} lmk_qkernels;

/* c (M, N) = a (M, K) · w (N, K)ᵀ: quantizes a once, then runs tiles (a panel of weight rows ×
 * QT_ACTS activation rows), threaded over N only (never K, so the thread count cannot change a
 * result). Arguments are checked here, so each ISA's entry point is just a table. */
lmk_status lmk_qmatmul_with(lmk_qfmt fmt, const float *a, const void *w, float *c, int64_t M,
                            int64_t N, int64_t K, lmk_qkernels k);
/* lmk_qmatmul_many (lmk.h) with these kernels: the matrices' rows are one range the threads share. */
lmk_status lmk_qmatmul_many_with(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *w,
                                 float *const *c, const int64_t *N, lmk_qkernels k);
/* The temporaries (lmk_tmp bytes) lmk_qmatmul_with takes for these sizes and kernels; -1 for
 * sizes it refuses. */
int64_t lmk_qmatmul_with_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K, lmk_qkernels k);

/* The AVX-512 activation quantizers (write what the generic ones write), for other x86 tables. */
void lmk_act_q8_avx512(const float *x, void *y, int64_t nb);
void lmk_act_q8k_avx512(const float *x, void *y, int64_t nb);

/* x16 (lmk.h): per group of 16 rows and block, the rows' f16 scales (and Q4_1's mins), then the
 * values: qs[k][r] holds values 4k..4k+3 of row r (Q8_0, k < 8: as unsigned w + 128), or for the
 * 4-bit formats (k < 4) the bytes 4k..4k+3 of row r's nibbles (low: values 4k.., high: 16 + 4k..;
 * IQ4_NL's block is Q4_0's, so it takes x16_q4_0);
 * Q5_0's fifth bits follow as eight 64-bit masks, one bit per byte of the nibble vectors
 * (masks 0..3 for the low nibbles of qs[0..3], 4..7 for the high ones). */
typedef struct { uint16_t d[16]; uint8_t qs[8][16][4]; } x16_q8_0;                       /* 544 B */
typedef struct { uint16_t d[16]; uint8_t qs[4][16][4]; } x16_q4_0;                       /* 288 B */
typedef struct { uint16_t d[16], m[16]; uint8_t qs[4][16][4]; } x16_q4_1;                /* 320 B */
typedef struct { uint16_t d[16]; uint8_t qs[4][16][4]; uint64_t qh[8]; } x16_q5_0;       /* 352 B */
typedef char lmk_assert_x16[sizeof(x16_q8_0) == 16 * 34 && sizeof(x16_q4_0) == 16 * 18 &&
                            sizeof(x16_q4_1) == 16 * 20 && sizeof(x16_q5_0) == 16 * 22 ? 1 : -1];

/* The K-quants' x16 blocks, 16 rows of one super-block each, the same bytes as the file's:
 *   Q4_K / Q5_K: the rows' d and dmin; the six-bit scales sc[j] and mins mn[j] (sub-block j of 32
 *     values) as their low nibbles, sl[j][r] = sc[j] | sc[j + 4] << 4 (ml the same for mn), and
 *     their top two bits in one word per row, byte j of sh[r] = hi(sc[j + 4]) | hi(mn[j + 4]) << 2
 *     | hi(sc[j]) << 4 | hi(mn[j]) << 6; then qs[c][g][r] = row r's qs[32c + 4g .. + 4] (low
 *     nibbles: values 64c + 4g.., sub-block 2c; high: 64c + 32 + 4g.., sub-block 2c + 1); Q5_K's
 *     qh[g][r] = row r's qh[4g .. + 4] (bit j: the fifth bit of sub-block j's value 4g + i).
 *   Q6_K: the rows' d; sc[j][r] the scale of group j (16 values); ql[n][h][g][r] = row r's
 *     ql[64n + 32h + 4g .. + 4] and qh[n][g][r] = its qh[32n + 4g .. + 4] (n: the half of 128).
 *   IQ4_XS: the rows' d, scales_h (sh[r]) and scales_l (sl[i][r] = row r's scales_l[i]) as the
 *     file has them; qs[s][g][r] = row r's qs[16s + 4g .. + 4] (sub-block s of 32: low nibbles
 *     values 32s + 4g.., high ones 32s + 16 + 4g..).
 *   Q2_K / Q3_K: the rows' d (Q2_K's dmin), the file's scale bytes (sc[i][r] = row r's scales[i]:
 *     Q2_K's scale and min nibbles of group i, Q3_K's packed six-bit scales); qs[n][k][r] = row
 *     r's qs[32n + 4k .. + 4] (bits 2j, 2j + 1 of a byte: values 128n + 32j + 4k..), Q3_K's
 *     hm[k][r] = its hmask[4k .. + 4] (bit 4n + j: the third bit of those values). */
typedef struct {
    uint16_t d[16], dmin[16];
    uint8_t sl[4][16], ml[4][16];
    uint32_t sh[16];
    uint8_t qs[4][8][16][4];
} x16_q4_k;                                                                                 /* 2304 B */
typedef struct {
    uint16_t d[16], dmin[16];
    uint8_t sl[4][16], ml[4][16];
    uint32_t sh[16];
    uint8_t qh[8][16][4];
    uint8_t qs[4][8][16][4];
} x16_q5_k;                                                                                 /* 2816 B */
typedef struct {
    uint16_t d[16];
    int8_t sc[16][16];
    uint8_t ql[2][2][8][16][4];
    uint8_t qh[2][8][16][4];
} x16_q6_k;                                                                                 /* 3360 B */
typedef struct {
    uint16_t d[16], sh[16];
    uint8_t sl[4][16];
    uint8_t qs[8][4][16][4];
} x16_iq4_xs;                                                                               /* 2176 B */
typedef struct {
    uint16_t d[16], dmin[16];
    uint8_t sc[16][16];
    uint8_t qs[2][8][16][4];
} x16_q2_k;                                                                                 /* 1344 B */
typedef struct {
    uint16_t d[16];
    uint8_t sc[12][16];
    uint8_t hm[8][16][4];
    uint8_t qs[2][8][16][4];
} x16_q3_k;                                                                                 /* 1760 B */
typedef char lmk_assert_x16k[sizeof(x16_q4_k) == 16 * 144 && sizeof(x16_q5_k) == 16 * 176 &&
                             sizeof(x16_q6_k) == 16 * 210 && sizeof(x16_iq4_xs) == 16 * 136 &&
                             sizeof(x16_q2_k) == 16 * 84 && sizeof(x16_q3_k) == 16 * 110 ? 1 : -1];
/* Q5_K's blocks begin as Q4_K's (scales and all), so code on those fields serves both */
typedef char lmk_assert_q5k_prefix[offsetof(x16_q5_k, qh) == offsetof(x16_q4_k, qs) &&
                                   offsetof(blk_q5_k, qh) == offsetof(blk_q4_k, qs) ? 1 : -1];

/* The activations as the x16 tiles read them (a prep layout): the block's bytes, its scale, and
 * its constant term ready to use: off = -128·Σa (Q8_0, and IQ4_NL, whose levels the tiles read as
 * level + 128), -8·Σa (Q4_0), -16·Σa (Q5_0); sd = d·Σa
 * (Q4_1). The K-quants': the super-block's bytes and scale, and bs: Q4_K / Q5_K the sums of the
 * eight sub-blocks of 32 as i16 pairs (bs[p] = Σ_{2p} | Σ_{2p+1} << 16, for the mins), Q6_K
 * -32 · Σ of each group of 16 (its offset), Q3_K -4 · Σ of each group of 16 (its q - 4, read as
 * the unsigned q), IQ4_XS -128 · Σ of each sub-block of 32 (the offset of its levels read as
 * unsigned, level + 128), Q2_K the sums of the 16 groups as i16 pairs (bs[p] = Σ_{2p} | Σ_{2p+1}
 * << 16, for the mins). */
typedef struct { int8_t qs[QK]; float d, sd; int32_t off, pad; } act_x16;                 /* 48 B */
typedef struct { int8_t qs[QK_K]; int32_t bs[16]; float d; int32_t pad[15]; } act_x16k;   /* 384 B */

/* The x16 tables, taken where lmk_qx16_native: AVX-512 VNNI (arch/x86/quant_x16_avx512.c) and
 * AArch64 dotprod (arch/arm/quant_x16_neon.c; lmk_cpu_dotprod asks the kernel's HWCAP). */
lmk_qkernels lmk_qkernels_x16_avx512vnni(lmk_qfmt fmt);
lmk_qkernels lmk_qkernels_x16_neondot(lmk_qfmt fmt);
int lmk_cpu_dotprod(void);
/* The prep hook that builds act_x16 / act_x16k for fmt (shared by every x16 table), and its
 * bytes per block. */
lmk_qprep_fn lmk_qx16_prep(lmk_qfmt fmt);
int64_t lmk_qx16_prep_bytes(lmk_qfmt fmt);

/* An ISA's tiles by format (NULL where it has none), and the one for fmt: every kernel table, row
 * layout or x16, is one lookup in one of these. */
typedef struct {
    lmk_qtile_fn q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_xs;
} lmk_qtiles;

static inline lmk_qtile_fn lmk_qtile_of(lmk_qfmt fmt, const lmk_qtiles *t) {
    switch ((int)fmt) {
    case LMK_Q8_0: return t->q8_0;
    case LMK_Q4_0: return t->q4_0;
    case LMK_Q4_1: return t->q4_1;
    case LMK_Q5_0: return t->q5_0;
    case LMK_Q5_1: return t->q5_1;
    case LMK_IQ4_NL: return t->iq4_nl;
    case LMK_Q2_K: return t->q2_k;
    case LMK_Q3_K: return t->q3_k;
    case LMK_Q4_K: return t->q4_k;
    case LMK_Q5_K: return t->q5_k;
    case LMK_Q6_K: return t->q6_k;
    case LMK_IQ4_XS: return t->iq4_xs;
    }
    return NULL;
}

/* The scalar ISA's kernels (quant.c), the reference every SIMD tile is tested against. */
lmk_qkernels lmk_qkernels_generic(lmk_qfmt fmt);

/* Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, IQ4_XS: their generic kernels run on an unpacked form of their
 * blocks (quant_unpack.h, quant_unpacked.c); every SIMD ISA has tiles of its own for them.
 * 1 for those formats. */
int lmk_qfmt_unpacked(lmk_qfmt fmt);
/* Their dequantize, exact and the same on every ISA (gguf-py's numpy order, bit for bit). */
void lmk_dequantize_unpacked(lmk_qfmt fmt, const void *q, float *y, int64_t nb);
/* Their generic kernel table, on the unpacked values. */
lmk_qkernels lmk_qkernels_unpacked_generic(lmk_qfmt fmt);

/* Each ISA's entry points (arguments already checked by quant.c). */
#define LMK_QUANT_ARCH(sfx)                                                                      \
    void lmk_dequantize_##sfx(lmk_qfmt fmt, const void *q, float *y, int64_t nb);               \
    lmk_qkernels lmk_qkernels_##sfx(lmk_qfmt fmt);
LMK_QUANT_ARCH(avx2)
LMK_QUANT_ARCH(avx512)
LMK_QUANT_ARCH(neon)
/* AVX-512 with VNNI (vpdpbusd): same results as lmk_qkernels_avx512, bit for bit. The driver
 * takes it only where lmk_cpu_avx512vnni() says the CPU has it. */
lmk_qkernels lmk_qkernels_avx512vnni(lmk_qfmt fmt);
int lmk_cpu_avx512vnni(void);

/* A tile function from a one-pair dot: loops the pairs (the ISA has no multi-row kernel). */
#define LMK_QTILE_FROM_DOT(name, dot)                                                             \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                \
        for (int i = 0; i < na; i++)                                                              \
            for (int r = 0; r < nr; r++) c[i * ldc + r] = dot(w + r * ws, a + i * as, nb);        \
    }

/* Weight rows [0, nr) in steps of R (then one at a time) against C activation rows. */
#define LMK_QTILE_ROWS(kern, R, C)                                                                \
    do {                                                                                          \
        int r_ = 0;                                                                               \
        for (; r_ + (R) <= nr; r_ += (R)) kern(w + r_ * ws, ws, a, as, c + r_, ldc, R, C, nb);    \
        for (; r_ < nr; r_++) kern(w + r_ * ws, ws, a, as, c + r_, ldc, 1, C, nb);                \
    } while (0)

/* A tile function from a kernel inlined for fixed (rows, acts), `kern(w, ws, a, as, c, ldc, R, C,
 * nb)`: activation rows go four at a time against R4 weight rows, then two at a time against R2,
 * then one at a time against 4 (R4 or R2 of 0 skips that step). */
#define LMK_QTILE_DISPATCH(name, kern, R4, R2)                                                    \
    static void name(const uint8_t *w, int64_t ws, const uint8_t *a, int64_t as, float *c, int64_t ldc, \
                     int nr, int na, int64_t nb) {                                                \
        if ((R4) > 0)                                                                             \
            for (; na >= 4; na -= 4, a += 4 * as, c += 4 * ldc) LMK_QTILE_ROWS(kern, LMK_MAX(R4, 1), 4); \
        if ((R2) > 0)                                                                             \
            for (; na >= 2; na -= 2, a += 2 * as, c += 2 * ldc) LMK_QTILE_ROWS(kern, LMK_MAX(R2, 1), 2); \
        for (; na >= 1; na -= 1, a += as, c += ldc) LMK_QTILE_ROWS(kern, 4, 1);                   \
    }

/* Q4_K's 12 bytes → 8 six-bit scales and 8 six-bit mins. */
static inline void lmk_q4k_scales(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (uint8_t)((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

/* Q3_K's 12 bytes → 16 signed scales (six bits, offset by 32): the low four bits of group g are
 * the low nibble of byte g (g < 8) or the high nibble of byte g - 8; the top two are bits
 * 2(g / 4) of byte 8 + g % 4. Eight groups at a time in 64-bit words. */
static inline void lmk_q3k_scales(const uint8_t *q, int8_t sc[16]) {
    uint64_t s01, a, b;
    uint32_t s2;
    memcpy(&s01, q, 8), memcpy(&s2, q + 8, 4);
    const uint64_t m2 = 0x0303030303030303ull, m4 = 0x0F0F0F0F0F0F0F0Full, h = s2;
    a = (s01 & m4) | ((h & m2) | ((h >> 2) & m2) << 32) << 4;
    b = ((s01 >> 4) & m4) | (((h >> 4) & m2) | ((h >> 6) & m2) << 32) << 4;
    uint8_t u[16];
    memcpy(u, &a, 8), memcpy(u + 8, &b, 8);
    for (int g = 0; g < 16; g++) sc[g] = (int8_t)(u[g] - 32);
}

/* gguf-py (numpy) rounds d*q before adding the offset; gnu99 builds default to
 * -ffp-contract=fast and would fuse them into one FMA. An empty asm on the product keeps the
 * rounding, so dequantize matches the reference bit for bit on every ISA. */
#if LMK_X86 && defined(__AVX512F__)
#define LMK_ROUNDED(x) __asm__("" : "+v"(x))
#elif LMK_X86
#define LMK_ROUNDED(x) __asm__("" : "+x"(x))
#elif LMK_ARM
#define LMK_ROUNDED(x) __asm__("" : "+w"(x))
#else
#define LMK_ROUNDED(x) ((void)0)
#endif

#endif
