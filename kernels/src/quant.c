/* GGUF block quantization: Q8_0, Q4_0, Q4_1, Q5_0 (blocks of 32) and Q4_K, Q6_K (super-blocks
 * of 256), bit-compatible with ggml; the driver of every format's qmatmul. Q5_1, IQ4_NL, Q2_K,
 * Q3_K, Q5_K and IQ4_XS have their blocks and generic kernels in quant_unpack.h / quant_unpacked.c.
 *
 *   lmk_quantize        float → blocks (scalar; the K-quants search their sub-block scales)
 *   lmk_dequantize_ref  blocks → float, written to match gguf-py's numpy reference bit for bit
 *   lmk_qmatmul_ref     dequantizes a weight row and dots it in double
 *   lmk_qmatmul         weights stay quantized; activations are quantized to 8 bits once per
 *                       call (act_q8 / act_q8k) and integer dot products run per block, in
 *                       tiles of weight rows × activation rows, threaded over output rows only.
 *                       The scalar ISA runs the generic dots below; SIMD files supply their own
 *                       tiles (and may lay the activations out for them once per call). */
#include "quant_internal.h"

#include <float.h>

/* ---------------------------------------------------------------- formats */

int lmk_qfmt_valid(int fmt) {
    return fmt == LMK_Q8_0 || fmt == LMK_Q4_0 || fmt == LMK_Q4_1 || fmt == LMK_Q5_0 ||
           fmt == LMK_Q4_K || fmt == LMK_Q6_K || lmk_qfmt_unpacked((lmk_qfmt)fmt);
}

int64_t lmk_qblock_elems(lmk_qfmt fmt) {
    if (!lmk_qfmt_valid((int)fmt)) return 0;
    return fmt == LMK_Q8_0 || fmt == LMK_Q4_0 || fmt == LMK_Q4_1 || fmt == LMK_Q5_0 || fmt == LMK_Q5_1 ||
                   fmt == LMK_IQ4_NL
               ? QK
               : QK_K;
}

int64_t lmk_qblock_bytes(lmk_qfmt fmt) {
    switch ((int)fmt) {
    case LMK_Q8_0: return sizeof(blk_q8_0);
    case LMK_Q4_0: return sizeof(blk_q4_0);
    case LMK_Q4_1: return sizeof(blk_q4_1);
    case LMK_Q5_0: return sizeof(blk_q5_0);
    case LMK_Q4_K: return sizeof(blk_q4_k);
    case LMK_Q6_K: return sizeof(blk_q6_k);
    case LMK_Q5_1: return sizeof(blk_q5_1);
    case LMK_IQ4_NL: return sizeof(blk_iq4_nl);
    case LMK_Q2_K: return sizeof(blk_q2_k);
    case LMK_Q3_K: return sizeof(blk_q3_k);
    case LMK_Q5_K: return sizeof(blk_q5_k);
    case LMK_IQ4_XS: return sizeof(blk_iq4_xs);
    default: return 0;
    }
}

lmk_status lmk_qrow_bytes(lmk_qfmt fmt, int64_t n, int64_t *bytes) {
    int64_t be = lmk_qblock_elems(fmt);
    if (!be || !bytes || n < 0 || n % be) return LMK_ERR_ARG;
    *bytes = n / be * lmk_qblock_bytes(fmt);
    return LMK_OK;
}

/* ---------------------------------------------------------------- quantize helpers */

/* Nearest integer (halves away from zero, as roundf), clamped to [lo, hi]; NaN lands on lo.
 * Written out because baseline x86-64 has no roundss and roundf would be a libm call. */
static inline int q_round(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    const float t = truncf(v), r = v - t;  /* exact: |v| is small */
    return (int)t + (r >= 0.5f) - (r <= -0.5f);  /* branch-free: the halves are a coin toss */
}

/* max / min without libm's NaN handling (fmaxf is a call on baseline x86-64) */
#define QMAX(a, b) ((a) > (b) ? (a) : (b))
#define QMIN(a, b) ((a) < (b) ? (a) : (b))

/* Largest-magnitude element, with its sign. */
static float signed_absmax(const float *x, int n) {
    float m = 0.0f, am = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > am) am = fabsf(x[i]), m = x[i];
    return m;
}

/* Symmetric scale for q in [-nmax, nmax - 1] (Q6_K's sub-blocks): tries a few reciprocal scales
 * around nmax / max; for each rounding the least-squares scale is Σxq / Σqq and the error it
 * leaves is Σx² - (Σxq)² / Σqq, so the best trial maximises (Σxq)² / Σqq. */
static float search_scale_sym(const float *x, int n, int nmax) {
    float max = signed_absmax(x, n);
    if (max == 0.0f) return 0.0f;
    float best_scale = max / -(float)nmax;
    double best_score = -1.0;
    for (int step = -9; step <= 9; step++) {
        float iscale = -((float)nmax + 0.1f * (float)step) / max;
        float sxq = 0.0f;
        int32_t sqq = 0;
        for (int i = 0; i < n; i++) {
            int q = q_round(iscale * x[i], -nmax, nmax - 1);
            sxq += x[i] * (float)q;
            sqq += q * q;
        }
        if (sqq > 0 && (double)sxq * sxq / sqq > best_score)
            best_score = (double)sxq * sxq / sqq, best_scale = sxq / (float)sqq;
    }
    return best_scale;
}

/* Asymmetric x ≈ scale * q - mn, q in [0, nmax], mn >= 0 (Q4_K's sub-blocks): a few trial
 * scales, each refit by least squares for (scale, mn), the smallest error kept. */
static void search_scale_min(const float *x, int n, int nmax, float *scale_out, float *min_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = QMIN(lo, x[i]), hi = QMAX(hi, x[i]);
    if (lo > 0.0f) lo = 0.0f;  /* the format can only subtract: mn = -lo >= 0 */
    if (hi <= lo) {
        *scale_out = 0.0f, *min_out = -lo;
        return;
    }
    float best_s = (hi - lo) / (float)nmax, best_m = -lo;
    double best_err = DBL_MAX, sx = 0;
    for (int i = 0; i < n; i++) sx += x[i];
    for (int step = -6; step <= 6; step++) {
        float iscale = ((float)nmax + 0.1f * (float)step) / (hi - lo), fxq = 0.0f;
        int32_t isq = 0, isqq = 0;
        int q[QK_K];
        for (int i = 0; i < n; i++) {
            q[i] = q_round(iscale * (x[i] - lo), 0, nmax);
            isq += q[i], isqq += q[i] * q[i], fxq += x[i] * (float)q[i];
        }
        const double sq = isq, sqq = isqq, sxq = fxq;
        /* least squares for x ≈ s q + b, with b <= 0 */
        double det = n * sqq - sq * sq, s = 0, b = 0;
        if (det > 0) s = (n * sxq - sq * sx) / det, b = (sqq * sx - sq * sxq) / det;
        if (det <= 0 || b > 0) b = 0, s = sqq > 0 ? sxq / sqq : 0;
        if (s <= 0) continue;
        const float fs = (float)s, fb = (float)b;
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            const float d = x[i] - (fs * (float)q[i] + fb);
            err += d * d;
        }
        if (err < best_err) best_err = err, best_s = (float)s, best_m = (float)-b;
    }
    *scale_out = best_s, *min_out = best_m;
}

/* ---------------------------------------------------------------- quantize, per format */

/* The 32-block formats follow ggml's reference rounding, so the bytes match ggml's own. */
static void quantize_q8_0(const float *x, blk_q8_0 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = QMAX(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lmk_f32_to_f16(d);
        for (int j = 0; j < QK; j++) y[b].qs[j] = (int8_t)q_round(x[j] * id, -127, 127);
    }
}

static void quantize_q4_0(const float *x, blk_q4_0 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float d = signed_absmax(x, QK) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lmk_f32_to_f16(d);
        for (int j = 0; j < QK / 2; j++) {
            int lo = q_round(truncf(x[j] * id + 8.5f), 0, 15), hi = q_round(truncf(x[j + 16] * id + 8.5f), 0, 15);
            y[b].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void quantize_q4_1(const float *x, blk_q4_1 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < QK; j++) lo = QMIN(lo, x[j]), hi = QMAX(hi, x[j]);
        float d = (hi - lo) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lmk_f32_to_f16(d);
        y[b].m = lmk_f32_to_f16(lo);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = q_round(truncf((x[j] - lo) * id + 0.5f), 0, 15);
            int q1 = q_round(truncf((x[j + 16] - lo) * id + 0.5f), 0, 15);
            y[b].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void quantize_q5_0(const float *x, blk_q5_0 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float d = signed_absmax(x, QK) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lmk_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = q_round(truncf(x[j] * id + 16.5f), 0, 31), q1 = q_round(truncf(x[j + 16] * id + 16.5f), 0, 31);
            y[b].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        for (int i = 0; i < 4; i++) y[b].qh[i] = (uint8_t)(qh >> (8 * i));  /* little endian */
    }
}

static void quantize_q4_k(const float *x, blk_q4_k *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        float scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            search_scale_min(x + 32 * j, 32, 15, &scales[j], &mins[j]);
            max_scale = QMAX(max_scale, scales[j]);
            max_min = QMAX(max_min, mins[j]);
        }
        /* 6-bit scales and mins under two f16 super-scales */
        float inv_s = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_m = max_min > 0 ? 63.0f / max_min : 0.0f;
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = (uint8_t)q_round(inv_s * scales[j], 0, 63);
            mn[j] = (uint8_t)q_round(inv_m * mins[j], 0, 63);
        }
        y[b].d = lmk_f32_to_f16(max_scale / 63.0f);
        y[b].dmin = lmk_f32_to_f16(max_min / 63.0f);
        memset(y[b].scales, 0, sizeof y[b].scales);
        for (int j = 0; j < 4; j++) {
            y[b].scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            y[b].scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            y[b].scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
        }
        /* requantize against the scales as stored, so rounding of d and sc is accounted for */
        const float d = lmk_f16_to_f32(y[b].d), dmin = lmk_f16_to_f32(y[b].dmin);
        uint8_t L[QK_K];
        for (int j = 0; j < 8; j++) {
            float ds = d * sc[j], dm = dmin * mn[j];
            for (int i = 0; i < 32; i++)
                L[32 * j + i] = (uint8_t)(ds != 0.0f ? q_round((x[32 * j + i] + dm) / ds, 0, 15) : 0);
        }
        for (int c = 0; c < 4; c++)  /* 32 bytes per 64 elements: low nibble first half */
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

static void quantize_q6_k(const float *x, blk_q6_k *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        float scales[16], max_scale = 0.0f, amax = 0.0f;
        for (int g = 0; g < 16; g++) {
            scales[g] = search_scale_sym(x + 16 * g, 16, 32);
            if (fabsf(scales[g]) > amax) amax = fabsf(scales[g]), max_scale = scales[g];
        }
        float iscale = max_scale != 0.0f ? -128.0f / max_scale : 0.0f;
        y[b].d = lmk_f32_to_f16(iscale != 0.0f ? 1.0f / iscale : 0.0f);
        for (int g = 0; g < 16; g++) y[b].scales[g] = (int8_t)q_round(iscale * scales[g], -128, 127);
        const float d = lmk_f16_to_f32(y[b].d);
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) {
            float ds = d * y[b].scales[g];
            for (int i = 0; i < 16; i++)
                L[16 * g + i] = (uint8_t)(ds != 0.0f ? q_round(x[16 * g + i] / ds, -32, 31) + 32 : 32);
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *l = L + 128 * h;
            for (int i = 0; i < 32; i++) {
                y[b].ql[64 * h + i] = (uint8_t)((l[i] & 0xF) | (l[i + 64] & 0xF) << 4);
                y[b].ql[64 * h + i + 32] = (uint8_t)((l[i + 32] & 0xF) | (l[i + 96] & 0xF) << 4);
                y[b].qh[32 * h + i] = (uint8_t)(l[i] >> 4 | (l[i + 32] >> 4) << 2 | (l[i + 64] >> 4) << 4 | (l[i + 96] >> 4) << 6);
            }
        }
    }
}

/* Blocks are independent, so (de)quantization splits over the pool by block ranges. */
typedef struct {
    lmk_qfmt fmt;
    const void *src;  /* (nb blocks) or (nb * block_elems floats) */
    void *dst;
    int64_t be, bb;   /* elements and bytes per block */
    void (*dequant)(lmk_qfmt, const void *, float *, int64_t);
} qblocks_job;

static void quantize_task(void *ctx, int64_t begin, int64_t end) {
    const qblocks_job *j = ctx;
    const float *x = (const float *)j->src + begin * j->be;
    void *q = (uint8_t *)j->dst + begin * j->bb;
    const int64_t nb = end - begin;
    switch ((int)j->fmt) {
    case LMK_Q8_0: quantize_q8_0(x, q, nb); break;
    case LMK_Q4_0: quantize_q4_0(x, q, nb); break;
    case LMK_Q4_1: quantize_q4_1(x, q, nb); break;
    case LMK_Q5_0: quantize_q5_0(x, q, nb); break;
    case LMK_Q4_K: quantize_q4_k(x, q, nb); break;
    case LMK_Q6_K: quantize_q6_k(x, q, nb); break;
    }
}

lmk_status lmk_quantize(lmk_qfmt fmt, const float *x, void *q, int64_t n) {
    int64_t be = lmk_qblock_elems(fmt);
    if (!be || n < 0 || n % be || (n && (!x || !q))) return LMK_ERR_ARG;
    if (lmk_qfmt_unpacked(fmt)) return LMK_ERR_UNSUPPORTED;  /* no quantizer: files bring these */
    qblocks_job job = {fmt, x, q, be, lmk_qblock_bytes(fmt), NULL};
    lmk_parallel_for(n / be, 8192 / be, quantize_task, &job);
    return LMK_OK;
}

/* ---------------------------------------------------------------- dequantize reference */

static void dequantize_ref_blocks(lmk_qfmt fmt, const void *q, float *y, int64_t nb) {
    if (lmk_qfmt_unpacked(fmt)) {
        lmk_dequantize_unpacked(fmt, q, y, nb);
        return;
    }
    for (int64_t b = 0; b < nb; b++) {
        switch ((int)fmt) {
        case LMK_Q8_0: {
            const blk_q8_0 *x = (const blk_q8_0 *)q + b;
            const float d = lmk_f16_to_f32(x->d);
            for (int j = 0; j < QK; j++) y[j] = d * (float)x->qs[j];
            y += QK;
        } break;
        case LMK_Q4_0: {
            const blk_q4_0 *x = (const blk_q4_0 *)q + b;
            const float d = lmk_f16_to_f32(x->d);
            for (int j = 0; j < QK / 2; j++) {
                y[j] = d * (float)((x->qs[j] & 0xF) - 8);
                y[j + 16] = d * (float)((x->qs[j] >> 4) - 8);
            }
            y += QK;
        } break;
        case LMK_Q4_1: {
            const blk_q4_1 *x = (const blk_q4_1 *)q + b;
            const float d = lmk_f16_to_f32(x->d), m = lmk_f16_to_f32(x->m);
            for (int j = 0; j < QK / 2; j++) {
                float p0 = d * (float)(x->qs[j] & 0xF), p1 = d * (float)(x->qs[j] >> 4);
                LMK_ROUNDED(p0);
                LMK_ROUNDED(p1);
                y[j] = p0 + m;
                y[j + 16] = p1 + m;
            }
            y += QK;
        } break;
        case LMK_Q5_0: {
            const blk_q5_0 *x = (const blk_q5_0 *)q + b;
            const float d = lmk_f16_to_f32(x->d);
            const uint32_t qh = (uint32_t)x->qh[0] | (uint32_t)x->qh[1] << 8 | (uint32_t)x->qh[2] << 16 |
                                (uint32_t)x->qh[3] << 24;
            for (int j = 0; j < QK / 2; j++) {
                int q0 = (x->qs[j] & 0xF) | ((qh >> j) & 1) << 4;
                int q1 = (x->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
                y[j] = d * (float)(q0 - 16);
                y[j + 16] = d * (float)(q1 - 16);
            }
            y += QK;
        } break;
        case LMK_Q4_K: {
            const blk_q4_k *x = (const blk_q4_k *)q + b;
            const float d = lmk_f16_to_f32(x->d), dmin = lmk_f16_to_f32(x->dmin);
            uint8_t sc[8], mn[8];
            lmk_q4k_scales(x->scales, sc, mn);
            for (int j = 0; j < 8; j++) {
                const float ds = d * (float)sc[j], dm = dmin * (float)mn[j];
                const uint8_t *qs = x->qs + 32 * (j / 2);
                const int shift = 4 * (j & 1);  /* even sub-blocks: low nibbles */
                for (int l = 0; l < 32; l++) {
                    float p = ds * (float)((qs[l] >> shift) & 0xF);
                    LMK_ROUNDED(p);
                    y[l] = p - dm;
                }
                y += 32;
            }
        } break;
        case LMK_Q6_K: {
            const blk_q6_k *x = (const blk_q6_k *)q + b;
            const float d = lmk_f16_to_f32(x->d);
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
                const int8_t *sc = x->scales + 8 * h;
                for (int l = 0; l < 32; l++) {
                    const int is = l / 16;
                    const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
                    const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
                    const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                    const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                    y[l] = (d * (float)sc[is + 0]) * (float)q1;
                    y[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
                    y[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
                    y[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
                }
                y += 128;
            }
        } break;
        }
    }
}

static int dequant_args_ok(lmk_qfmt fmt, const void *q, const float *y, int64_t n) {
    int64_t be = lmk_qblock_elems(fmt);
    return be && n >= 0 && n % be == 0 && (n == 0 || (q && y));
}

lmk_status lmk_dequantize_ref(lmk_qfmt fmt, const void *q, float *y, int64_t n) {
    if (!dequant_args_ok(fmt, q, y, n)) return LMK_ERR_ARG;
    dequantize_ref_blocks(fmt, q, y, n / lmk_qblock_elems(fmt));
    return LMK_OK;
}

static void dequantize_task(void *ctx, int64_t begin, int64_t end) {
    const qblocks_job *j = ctx;
    j->dequant(j->fmt, (const uint8_t *)j->src + begin * j->bb, (float *)j->dst + begin * j->be, end - begin);
}

lmk_status lmk_dequantize(lmk_qfmt fmt, const void *q, float *y, int64_t n) {
    if (!dequant_args_ok(fmt, q, y, n)) return LMK_ERR_ARG;
    const int64_t be = lmk_qblock_elems(fmt);
    qblocks_job job = {fmt, q, y, be, lmk_qblock_bytes(fmt),
                       lmk_qfmt_unpacked(fmt) ? lmk_dequantize_unpacked
                                              : LMK_SELECT(dequantize_ref_blocks, lmk_dequantize_avx2,
                                                           lmk_dequantize_avx512, lmk_dequantize_neon)};
    /* ~256 KiB of output per chunk: below that a thread's wake-up costs more than it saves */
    lmk_parallel_for(n / be, 65536 / be, dequantize_task, &job);
    return LMK_OK;
}

/* ---------------------------------------------------------------- qmatmul reference */

static int qmatmul_args_ok(lmk_qfmt fmt, const float *a, const void *w, const float *c, int64_t M,
                           int64_t N, int64_t K) {
    int64_t be = lmk_qblock_elems(fmt);
    if (!be || !lmk_dims_ok(M, K) || !lmk_dims_ok(M, N) || !lmk_dims_ok(N, K) || K % be) return 0;
    if (M && N && !c) return 0;
    return !(M && N && K && (!a || !w));
}

lmk_status lmk_qmatmul_ref(lmk_qfmt fmt, const float *a, const void *w, float *c, int64_t M, int64_t N,
                           int64_t K) {
    if (!qmatmul_args_ok(fmt, a, w, c, M, N, K)) return LMK_ERR_ARG;
    int64_t row_bytes;
    lmk_qrow_bytes(fmt, K, &row_bytes);
    float *row = lmk_tmp(K * (int64_t)sizeof(float));  /* (K) one weight row */
    if (!row) return LMK_ERR_NOMEM;
    for (int64_t n = 0; n < N; n++) {
        dequantize_ref_blocks(fmt, (const uint8_t *)w + n * row_bytes, row, K / lmk_qblock_elems(fmt));
        for (int64_t m = 0; m < M; m++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += (double)a[m * K + k] * row[k];
            c[m * N + n] = (float)s;
        }
    }
    lmk_tmp_free(row);
    return LMK_OK;
}

/* ---------------------------------------------------------------- activation quantization */

static void quantize_act_q8(const float *x, act_q8 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = QMAX(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < QK; j++) sum += y[b].qs[j] = (int8_t)q_round(x[j] * id, -127, 127);
        y[b].d = d;
        y[b].sum = sum;
    }
}

static void quantize_act_q8k(const float *x, act_q8k *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j++) amax = QMAX(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 16 * g; j < 16 * g + 16; j++) sum += y[b].qs[j] = (int8_t)q_round(x[j] * id, -127, 127);
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = d;
    }
}

/* ---------------------------------------------------------------- generic integer dots */

static float dot_q8_0(const void *vw, const void *va, int64_t nb) {
    const blk_q8_0 *w = vw;
    const act_q8 *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK; j++) isum += w[b].qs[j] * a[b].qs[j];
        s += lmk_f16_to_f32(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

static float dot_q4_0(const void *vw, const void *va, int64_t nb) {
    const blk_q4_0 *w = vw;
    const act_q8 *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK / 2; j++)
            isum += (w[b].qs[j] & 0xF) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + 16];
        s += lmk_f16_to_f32(w[b].d) * a[b].d * (float)(isum - 8 * a[b].sum);
    }
    return s;
}

static float dot_q4_1(const void *vw, const void *va, int64_t nb) {
    const blk_q4_1 *w = vw;
    const act_q8 *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK / 2; j++)
            isum += (w[b].qs[j] & 0xF) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + 16];
        s += a[b].d * (lmk_f16_to_f32(w[b].d) * (float)isum + lmk_f16_to_f32(w[b].m) * (float)a[b].sum);
    }
    return s;
}

static float dot_q5_0(const void *vw, const void *va, int64_t nb) {
    const blk_q5_0 *w = vw;
    const act_q8 *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint32_t qh;
        memcpy(&qh, w[b].qh, 4);  /* little-endian targets only (x86-64, AArch64) */
        int32_t isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (w[b].qs[j] & 0xF) | ((qh >> j) & 1) << 4, q1 = (w[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            isum += q0 * a[b].qs[j] + q1 * a[b].qs[j + 16];
        }
        s += lmk_f16_to_f32(w[b].d) * a[b].d * (float)(isum - 16 * a[b].sum);
    }
    return s;
}

static float dot_q4_k(const void *vw, const void *va, int64_t nb) {
    const blk_q4_k *w = vw;
    const act_q8k *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[8], mn[8];
        lmk_q4k_scales(w[b].scales, sc, mn);
        int32_t isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *qs = w[b].qs + 32 * (j / 2);
            const int8_t *q8 = a[b].qs + 32 * j;
            const int shift = 4 * (j & 1);
            int32_t t = 0;
            for (int l = 0; l < 32; l++) t += ((qs[l] >> shift) & 0xF) * q8[l];
            isum += sc[j] * t;
            imin += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        }
        s += a[b].d * (lmk_f16_to_f32(w[b].d) * (float)isum - lmk_f16_to_f32(w[b].dmin) * (float)imin);
    }
    return s;
}

static float dot_q6_k(const void *vw, const void *va, int64_t nb) {
    const blk_q6_k *w = vw;
    const act_q8k *a = va;
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *q8 = a[b].qs + 128 * h, *sc = w[b].scales + 8 * h;
            for (int half = 0; half < 2; half++) {  /* 16-element groups: l in [16 half, 16 half + 16) */
                int32_t t1 = 0, t2 = 0, t3 = 0, t4 = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++) {
                    t1 += (((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32) * q8[l];
                    t2 += (((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32) * q8[l + 32];
                    t3 += (((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32) * q8[l + 64];
                    t4 += (((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32) * q8[l + 96];
                }
                isum += sc[half] * t1 + sc[half + 2] * t2 + sc[half + 4] * t3 + sc[half + 6] * t4;
            }
        }
        s += lmk_f16_to_f32(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

LMK_QTILE_FROM_DOT(tile_q8_0, dot_q8_0)
LMK_QTILE_FROM_DOT(tile_q4_0, dot_q4_0)
LMK_QTILE_FROM_DOT(tile_q4_1, dot_q4_1)
LMK_QTILE_FROM_DOT(tile_q5_0, dot_q5_0)
LMK_QTILE_FROM_DOT(tile_q4_k, dot_q4_k)
LMK_QTILE_FROM_DOT(tile_q6_k, dot_q6_k)

lmk_qkernels lmk_qkernels_generic(lmk_qfmt fmt) {
    static const lmk_qtiles tiles = {.q8_0 = tile_q8_0, .q4_0 = tile_q4_0, .q4_1 = tile_q4_1, .q5_0 = tile_q5_0,
                                     .q4_k = tile_q4_k, .q6_k = tile_q6_k};
    lmk_qkernels k = {.tile = NULL};
    k.tile = lmk_qtile_of(fmt, &tiles);
    return k.tile ? k : lmk_qkernels_unpacked_generic(fmt);
}

/* ---------------------------------------------------------------- qmatmul driver */

/* One matrix of a call: w (N, row_bytes), c (M, N); its rows are the call's first .. first + N. */
typedef struct {
    const uint8_t *w;
    float *c;
    int64_t N, first;
} qmm_mat;

typedef struct {
    lmk_qkernels k;
    qmm_mat mats[LMK_QMATMUL_MANY];
    int n_mats;
    uint8_t *act;        /* (M, act_bytes) */
    uint8_t *prep;       /* (M, prep_bytes) the tiles' layout of act, or NULL: they read act */
    int64_t M, N, nb, row_bytes, act_bytes, prep_bytes;   /* N: every matrix's rows */
    const float *a;      /* (M, K) */
    int64_t K;
    int64_t share;       /* rows a participant takes at a time */
    int64_t next;        /* (atomic) the first row no participant has taken yet */
} qmm_job;

/* rows [begin, end) of a → their 8-bit blocks */
static void act_task(void *ctx, int64_t begin, int64_t end) {
    const qmm_job *j = ctx;
    for (int64_t m = begin; m < end; m++) {
        j->k.act(j->a + m * j->K, j->act + m * j->act_bytes, j->nb);
        if (j->prep) j->k.prep(j->act + m * j->act_bytes, j->prep + m * j->prep_bytes, j->nb);
    }
}

/* Rows in a panel: their weight bytes stay in L1/L2 while every activation row passes over them. */
#define QMM_PANEL 16  /* the x16 layouts (quant_x16.c) rely on panels of exactly 16 rows */

/* From this many activation rows the panels' values are unpacked once (where the kernels can),
 * two panels and a few blocks at a time: 22 KiB of them stay in L1 beside the activations that
 * pass over them. */
#define QMM_UNPACK_ROWS 16
#define QMM_UNPACK_BLOCKS 2

/* rows [begin, end) two panels at a time, each QMM_UNPACK_BLOCKS blocks unpacked and every
 * activation row's utile run over them before the next ones (x16 layouts: a panel's 16 rows
 * hold each block together, block b at b · 16 · block bytes) */
static void qmm_rows_unpacked(const qmm_job *j, const qmm_mat *x, int64_t begin, int64_t end) {
    _Alignas(64) uint8_t buf[2][QMM_UNPACK_BLOCKS * LMK_QU_BYTES];
    const uint8_t *const u[2] = {buf[0], buf[1]};
    const int64_t bb16 = 16 * (j->row_bytes / j->nb);
    for (int64_t n0 = begin; n0 < end; n0 += 2 * QMM_PANEL) {
        const int np = end - n0 >= 2 * QMM_PANEL ? 2 : 1;
        for (int64_t b0 = 0; b0 < j->nb; b0 += QMM_UNPACK_BLOCKS) {
            const int64_t nbc = LMK_MIN(j->nb - b0, QMM_UNPACK_BLOCKS);
            for (int p = 0; p < np; p++) j->k.unpack(x->w + (n0 + p * QMM_PANEL) * j->row_bytes + b0 * bb16, buf[p], nbc);
            j->k.utile(u, np, j->prep + b0 * j->k.prep_bytes, j->prep_bytes, x->c + n0, x->N, j->M, nbc, b0 > 0);
        }
    }
}

/* rows [begin, end) of matrix x */
static void qmm_mat_rows(const qmm_job *j, const qmm_mat *x, int64_t begin, int64_t end) {
    if (j->k.unpack && j->M >= QMM_UNPACK_ROWS) {
        qmm_rows_unpacked(j, x, begin, end);
        return;
    }
    const uint8_t *act = j->prep ? j->prep : j->act;
    const int64_t act_bytes = j->prep ? j->prep_bytes : j->act_bytes;
    for (int64_t n0 = begin; n0 < end; n0 += QMM_PANEL) {
        const int nr = (int)LMK_MIN(end - n0, QMM_PANEL);
        for (int64_t m = 0; m < j->M; m += QT_ACTS)
            j->k.tile(x->w + n0 * j->row_bytes, j->row_bytes, act + m * act_bytes, act_bytes, x->c + m * x->N + n0,
                      x->N, nr, (int)LMK_MIN(j->M - m, QT_ACTS), j->nb);
    }
}

/* the call's rows [begin, end), matrix by matrix */
static void qmm_rows(const qmm_job *j, int64_t begin, int64_t end) {
    for (int i = 0; i < j->n_mats; i++) {
        const qmm_mat *x = &j->mats[i];
        const int64_t lo = LMK_MAX(begin, x->first), hi = LMK_MIN(end, x->first + x->N);
        if (lo < hi) qmm_mat_rows(j, x, lo - x->first, hi - x->first);
    }
}

/* One participant: takes `share` rows at a time until none are left. On a shared machine a
 * thread may stall mid-call; the others then take its rows instead of waiting for a fixed half.
 * Which thread computes a row never changes its bits (the tile contract). */
static void qmm_task(void *ctx, int64_t begin, int64_t end) {
    qmm_job *j = ctx;
    (void)begin, (void)end;
    for (;;) {
        const int64_t n0 = __atomic_fetch_add(&j->next, j->share, __ATOMIC_RELAXED);
        if (n0 >= j->N) return;
        qmm_rows(j, n0, LMK_MIN(j->N, n0 + j->share));
    }
}

static void act_q8_generic(const float *x, void *y, int64_t nb) { quantize_act_q8(x, y, nb); }
static void act_q8k_generic(const float *x, void *y, int64_t nb) { quantize_act_q8k(x, y, nb); }

/* Bytes of one row of quantized activations for K / block-elements blocks, and of its prepared
 * sums when the kernels want them. */
static void act_row_bytes(lmk_qfmt fmt, int64_t nb, const lmk_qkernels *k, int64_t *act_bytes, int64_t *prep_bytes) {
    *act_bytes = nb * (int64_t)(lmk_qblock_elems(fmt) == QK_K ? sizeof(act_q8k) : sizeof(act_q8));
    *prep_bytes = k->prep ? (nb + QP_GROUP - 1) / QP_GROUP * QP_GROUP * k->prep_bytes : 0;
}

int64_t lmk_qmatmul_with_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K, lmk_qkernels k) {
    if (!qmatmul_args_ok(fmt, NULL, NULL, NULL, 0, N, K) || !lmk_dims_ok(M, K) || !lmk_dims_ok(M, N)) return -1;
    if (!M || !N || !K) return 0;
    int64_t act_bytes, prep_bytes;
    act_row_bytes(fmt, K / lmk_qblock_elems(fmt), &k, &act_bytes, &prep_bytes);
    if (!lmk_dims_ok(M, act_bytes + prep_bytes)) return -1;
    return lmk_tmp_room(M * (act_bytes + prep_bytes) + 64);
}

lmk_status lmk_qmatmul_many_with(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *w,
                                 float *const *c, const int64_t *N, lmk_qkernels k) {
    if (n < 1 || n > LMK_QMATMUL_MANY || !w || !c || !N) return LMK_ERR_ARG;
    qmm_job job = {.k = k, .n_mats = n, .M = M, .a = a, .K = K};
    for (int i = 0; i < n; i++) {
        if (!qmatmul_args_ok(fmt, a, w[i], c[i], M, N[i], K) || !lmk_dims_ok(job.N + N[i], K)) return LMK_ERR_ARG;
        job.mats[i] = (qmm_mat){w[i], c[i], N[i], job.N};
        job.N += N[i];
    }
    if (!M || !job.N) return LMK_OK;
    if (!K) {
        for (int i = 0; i < n; i++) memset(c[i], 0, (size_t)(M * N[i]) * sizeof(float));
        return LMK_OK;
    }
    const int kquant = lmk_qblock_elems(fmt) == QK_K;  /* activations in act_q8k */
    if (!job.k.act) job.k.act = kquant ? act_q8k_generic : act_q8_generic;
    job.nb = K / lmk_qblock_elems(fmt);
    act_row_bytes(fmt, job.nb, &job.k, &job.act_bytes, &job.prep_bytes);
    if (!lmk_dims_ok(M, job.act_bytes + job.prep_bytes)) return LMK_ERR_ARG;
    job.act = lmk_tmp(M * (job.act_bytes + job.prep_bytes) + 64);  /* (M, act_bytes), then (M, prep_bytes) */
    if (!job.act) return LMK_ERR_NOMEM;
    lmk_qrow_bytes(fmt, K, &job.row_bytes);
    job.prep = k.prep ? job.act + (M * job.act_bytes + 63) / 64 * 64 : NULL;  /* 64-byte aligned rows */
    lmk_parallel_for(M, LMK_MAX(1, 65536 / K), act_task, &job);
    /* a thread is worth waking for ~64 KiB of weights (times the activation rows) */
    const int64_t grain = LMK_MAX(1, 65536 / LMK_MAX(1, job.row_bytes * LMK_MIN(M, 4)));
    const int64_t parts = LMK_MIN(lmk_threads_get(), (job.N + grain - 1) / grain);
    if (parts <= 1) {
        qmm_rows(&job, 0, job.N);
    } else {
        /* about 8 shares per participant, whole panels */
        job.share = (job.N + 8 * parts - 1) / (8 * parts);
        const int64_t panels = job.k.unpack && M >= QMM_UNPACK_ROWS ? 2 * QMM_PANEL : QMM_PANEL;  /* as qmm_rows takes them */
        job.share = (job.share + panels - 1) / panels * panels;
        lmk_parallel_for(parts, 1, qmm_task, &job);
    }
    lmk_tmp_free(job.act);
    return LMK_OK;
}

lmk_status lmk_qmatmul_with(lmk_qfmt fmt, const float *a, const void *w, float *c, int64_t M, int64_t N,
                            int64_t K, lmk_qkernels k) {
    return lmk_qmatmul_many_with(fmt, a, M, K, 1, &w, &c, &N, k);
}

/* The row-layout kernels a call takes on this CPU. */
static lmk_qkernels row_kernels(lmk_qfmt fmt) {
#if LMK_X86
    if (lmk_isa_active() == LMK_ISA_AVX512 && lmk_cpu_avx512vnni()) return lmk_qkernels_avx512vnni(fmt);
#endif
    return LMK_SELECT(lmk_qkernels_generic, lmk_qkernels_avx2, lmk_qkernels_avx512, lmk_qkernels_neon)(fmt);
}

lmk_status lmk_qmatmul(lmk_qfmt fmt, const float *a, const void *w, float *c, int64_t M, int64_t N,
                       int64_t K) {
    return lmk_qmatmul_many(fmt, a, M, K, 1, &w, &c, &N);
}

lmk_status lmk_qmatmul_many(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *w,
                            float *const *c, const int64_t *N) {
    if (!lmk_qfmt_valid((int)fmt)) return LMK_ERR_ARG;
    return lmk_qmatmul_many_with(fmt, a, M, K, n, w, c, N, row_kernels(fmt));
}

int64_t lmk_qmatmul_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K) {
    if (!lmk_qfmt_valid((int)fmt)) return -1;
    return lmk_qmatmul_with_tmp_bytes(fmt, M, N, K, row_kernels(fmt));
}
