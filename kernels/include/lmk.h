/* lmk — LiveMind kernels: the whole public C API.
 *
 * Conventions
 *   - Every buffer is row-major and contiguous unless a stride is given; its shape is written
 *     beside it as (rows, cols).
 *   - Activations are float32. Weights may be float32 or GGUF-quantized blocks.
 *   - Functions that can fail return lmk_status; they never print, abort or exit.
 *   - Each operation has a scalar reference `<name>_ref` that is obviously right. The plain name
 *     dispatches to the fastest path for the active ISA (see lmk_isa_set), which tests compare
 *     against the reference.
 *   - Output buffers may alias their inputs only where a comment says so.
 */
#ifndef LMK_H
#define LMK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum {
    LMK_OK = 0,
    LMK_ERR_ARG = 1,          /* a size, shape or enum value is invalid */
    LMK_ERR_NOMEM = 2,        /* an internal allocation failed */
    LMK_ERR_UNSUPPORTED = 3,  /* this CPU or build lacks what was asked for */
} lmk_status;

const char *lmk_status_str(lmk_status s);

/* ---------------------------------------------------------------- ISA dispatch (cpu.c) */

typedef enum {
    LMK_ISA_SCALAR = 0,
    LMK_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C */
    LMK_ISA_AVX512 = 2,  /* AVX-512 F, BW, DQ, VL (+ AVX2 + FMA + F16C) */
    LMK_ISA_NEON = 3,    /* AArch64 Advanced SIMD */
    LMK_ISA_COUNT
} lmk_isa;

const char *lmk_isa_name(lmk_isa isa);   /* "scalar", "avx2", "avx512", "neon" */
int lmk_isa_supported(lmk_isa isa);      /* 1 when this CPU, OS and build can run it */
lmk_isa lmk_isa_best(void);              /* the fastest supported ISA */
lmk_isa lmk_isa_active(void);            /* the ISA the dispatching entry points use */
lmk_status lmk_isa_set(lmk_isa isa);     /* LMK_ERR_UNSUPPORTED when not supported */

/* ---------------------------------------------------------------- threads (threads.c) */

/* A persistent pool of worker threads shared by every threaded kernel. */
int lmk_threads_get(void);
lmk_status lmk_threads_set(int n);       /* n <= 0: the number of CPUs this process may use */
int lmk_cpu_count(void);                 /* CPUs in this process's affinity mask */
/* Caps the threads of lmk_parallel_for calls made from the calling thread (n <= 0: no cap).
 * Small latency-bound work (a router's encoder) runs inline with a cap of 1 instead of waking
 * the pool, which generations on other threads may be using. Returns the previous cap. */
int lmk_threads_cap_local(int n);

/* Runs fn over [0, n) split into contiguous chunks of at least `grain` items, one chunk per
 * thread; the calling thread works too. Returns when every chunk is done. Not reentrant:
 * a task must not call lmk_parallel_for itself (it then runs inline). */
typedef void (*lmk_task_fn)(void *ctx, int64_t begin, int64_t end);
void lmk_parallel_for(int64_t n, int64_t grain, lmk_task_fn fn, void *ctx);

/* ---------------------------------------------------------------- float16 (fp8.c) */

uint16_t lmk_f32_to_f16(float x);        /* IEEE binary16, round to nearest even */
float lmk_f16_to_f32(uint16_t h);
void lmk_f32_to_f16_n(const float *x, uint16_t *y, int64_t n);
void lmk_f16_to_f32_n(const uint16_t *x, float *y, int64_t n);

/* ---------------------------------------------------------------- FP8 E4M3 "fn" (fp8.c) */

/* OCP FP8 E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; 0x7F/0xFF are
 * NaN; largest finite ±448. Encoding rounds to nearest even and saturates to ±448 (±inf too);
 * NaN stays NaN. */
void lmk_fp8_from_f32(const float *x, uint8_t *y, int64_t n);
void lmk_fp8_to_f32(const uint8_t *x, float *y, int64_t n);
void lmk_fp8_from_f16(const uint16_t *x, uint8_t *y, int64_t n);
void lmk_fp8_to_f16(const uint8_t *x, uint16_t *y, int64_t n);
void lmk_fp8_from_f32_ref(const float *x, uint8_t *y, int64_t n);
void lmk_fp8_to_f32_ref(const uint8_t *x, float *y, int64_t n);

/* ---------------------------------------------------------------- matmul (matmul.c) */

/* c (M, N) = a (M, K) · b (N, K)ᵀ. b is in the "out × in" layout of GGUF weights.
 * Threaded over the pool; M == 1 takes a GEMV path. */
lmk_status lmk_matmul_f32(const float *a, const float *b, float *c, int64_t M, int64_t N, int64_t K);
lmk_status lmk_matmul_f32_ref(const float *a, const float *b, float *c, int64_t M, int64_t N, int64_t K);

/* Half-precision weights, as GGUF stores them (values are ggml's type ids): IEEE binary16, or
 * bfloat16 (the top 16 bits of a float32). */
typedef enum {
    LMK_HALF_F16 = 1,
    LMK_HALF_BF16 = 30,
} lmk_half;

int lmk_half_valid(int type);
float lmk_bf16_to_f32(uint16_t h);
/* x (n) half bits of `type` → y (n) floats (exact). */
lmk_status lmk_half_to_f32_n(lmk_half type, const uint16_t *x, float *y, int64_t n);
/* lmk_matmul_f32 with b (N, K) held as half bits of `type`: activations stay float32 and the
 * weights widen in registers (both conversions are exact), threaded the same way. */
lmk_status lmk_matmul_half(lmk_half type, const float *a, const uint16_t *b, float *c, int64_t M, int64_t N,
                           int64_t K);
lmk_status lmk_matmul_half_ref(lmk_half type, const float *a, const uint16_t *b, float *c, int64_t M, int64_t N,
                               int64_t K);

/* ---------------------------------------------------------------- quantized blocks (quant.c) */

/* GGUF block formats, bit-compatible with ggml. Values are ggml's type ids. */
typedef enum {
    LMK_Q4_0 = 2,
    LMK_Q4_1 = 3,
    LMK_Q5_0 = 6,
    LMK_Q5_1 = 7,
    LMK_Q8_0 = 8,
    LMK_Q2_K = 10,
    LMK_Q3_K = 11,
    LMK_Q4_K = 12,
    LMK_Q5_K = 13,
    LMK_Q6_K = 14,
    LMK_IQ4_NL = 20,   /* 4-bit indices into ggml's non-linear table kvalues_iq4nl */
    LMK_IQ4_XS = 23,
} lmk_qfmt;

int lmk_qfmt_valid(int fmt);
int64_t lmk_qblock_elems(lmk_qfmt fmt);   /* 32 or 256 (0 for an invalid format) */
int64_t lmk_qblock_bytes(lmk_qfmt fmt);   /* bytes per block (0 for an invalid format) */
/* Bytes of a quantized row of n elements; LMK_ERR_ARG unless n is a multiple of the block. */
lmk_status lmk_qrow_bytes(lmk_qfmt fmt, int64_t n, int64_t *bytes);

/* x (n) → q (n / block_elems blocks). n must be a multiple of the block size. Q8_0, Q4_0, Q4_1,
 * Q5_0, Q4_K and Q6_K only (LMK_ERR_UNSUPPORTED for the others: files bring them quantized). */
lmk_status lmk_quantize(lmk_qfmt fmt, const float *x, void *q, int64_t n);
/* q (n / block_elems blocks) → y (n) */
lmk_status lmk_dequantize(lmk_qfmt fmt, const void *q, float *y, int64_t n);
lmk_status lmk_dequantize_ref(lmk_qfmt fmt, const void *q, float *y, int64_t n);
/* c (M, N) = a (M, K) · w (N, K)ᵀ with w stored as N quantized rows of K elements.
 * Threaded over the pool. Activations may be quantized to 8 bits internally. */
lmk_status lmk_qmatmul(lmk_qfmt fmt, const float *a, const void *w, float *c,
                       int64_t M, int64_t N, int64_t K);
lmk_status lmk_qmatmul_ref(lmk_qfmt fmt, const float *a, const void *w, float *c,
                           int64_t M, int64_t N, int64_t K);

/* Row-interleaved weights, "x16" (quant_x16.c). The rows of a Q4_0, Q4_1, Q5_0, Q8_0, IQ4_NL,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K or IQ4_XS matrix regrouped 16 at a time: for each group and block, the 16
 * rows' scales side by side, then their values four bytes per row, so one 512-bit vector holds the same four values of 16 rows. A dot
 * kernel then yields 16 outputs per vector: every scale multiply, conversion and accumulation
 * serves 16 rows at once, and an activation's four bytes are one broadcast. Same size as the
 * file's layout, built once at load; N (the rows) must be a multiple of 16. lmk_qx16_native
 * says whether the active ISA has a fast kernel for it (elsewhere a scalar one still runs). */
int lmk_qx16_supported(lmk_qfmt fmt);  /* 1 for every format but Q5_1 */
int lmk_qx16_native(lmk_qfmt fmt);     /* 1 when repacking pays on the active ISA */
lmk_status lmk_qrepack_x16(lmk_qfmt fmt, const void *w, void *x, int64_t N, int64_t K);
lmk_status lmk_qunpack_x16(lmk_qfmt fmt, const void *x, void *w, int64_t N, int64_t K);
/* Row `row` of an x16 matrix (N, K) back in the file's layout (its K / 32 or K / 256 blocks): how a tied
 * embedding is looked up in the one copy that also serves as the output projection. */
lmk_status lmk_qrow_x16(lmk_qfmt fmt, const void *x, int64_t N, int64_t K, int64_t row, void *w_row);
/* lmk_qmatmul with the weights in x16 layout. */
lmk_status lmk_qmatmul_x16(lmk_qfmt fmt, const float *a, const void *x, float *c,
                           int64_t M, int64_t N, int64_t K);
/* Up to LMK_QMATMUL_MANY matrices of one format against the same activations in one call:
 * c[i] (M, N[i]) = a (M, K) · w[i] (N[i], K)ᵀ, each output bit for bit what lmk_qmatmul (or
 * _x16) gives alone. a is quantized once and the threads share every matrix's rows, so a
 * decode step's q, k and v (or gate and up) take one wake-up of the pool instead of three. */
#define LMK_QMATMUL_MANY 4
lmk_status lmk_qmatmul_many(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *w,
                            float *const *c, const int64_t *N);
lmk_status lmk_qmatmul_x16_many(lmk_qfmt fmt, const float *a, int64_t M, int64_t K, int n, const void *const *x,
                                float *const *c, const int64_t *N);

/* ---------------------------------------------------------------- normalisation (norm.c) */

/* y (rows, n) = x / sqrt(mean(x²) + eps) * w (n). y may alias x. eps must be finite and >= 0. */
lmk_status lmk_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int64_t n, float eps);
lmk_status lmk_rmsnorm_ref(const float *x, const float *w, float *y, int64_t rows, int64_t n, float eps);
/* y (rows, n) = (x - mean) / sqrt(var + eps) * w (n) + b (n); b may be NULL. y may alias x.
 * eps as for lmk_rmsnorm. */
lmk_status lmk_layernorm(const float *x, const float *w, const float *b, float *y,
                         int64_t rows, int64_t n, float eps);
lmk_status lmk_layernorm_ref(const float *x, const float *w, const float *b, float *y,
                             int64_t rows, int64_t n, float eps);

/* ---------------------------------------------------------------- softmax (softmax.c) */

/* y (rows, n) = softmax over each row. y may alias x. -inf entries (masked) get 0; a row that is
 * all -inf gives zeros; a row holding NaN or +inf gives NaN. */
lmk_status lmk_softmax(const float *x, float *y, int64_t rows, int64_t n);
lmk_status lmk_softmax_ref(const float *x, float *y, int64_t rows, int64_t n);

/* ---------------------------------------------------------------- rotary embedding (rope.c) */

typedef enum {
    LMK_ROPE_NORMAL = 0,  /* rotate interleaved pairs (x[2i], x[2i+1]) — llama.cpp's "normal" */
    LMK_ROPE_NEOX = 1,    /* rotate half-split pairs (x[i], x[i + D/2]) — GPT-NeoX, Gemma, Llama HF */
} lmk_rope_style;

/* x (T, H, D) rotated in place; token t sits at positions[t]; pair i turns by
 * positions[t] * theta^(-2i/D), formed in double. D must be even; theta finite and > 0. */
lmk_status lmk_rope(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D,
                    float theta, lmk_rope_style style);
lmk_status lmk_rope_ref(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D,
                        float theta, lmk_rope_style style);
/* The same on the first R of each head's D elements (partial RoPE, R even, 2 <= R <= D: the rest
 * pass through; NEOX pairs are then (x[i], x[i + R/2])), with llama.cpp's frequency scaling: pair
 * i turns by positions[t] * freq_scale * theta^(-2i/R) / freq_factors[i] — freq_scale < 1 is
 * linear ("position interpolation") scaling, freq_factors (R/2 positive finite floats, or NULL for
 * all ones) are per-pair factors such as Llama-3.1's rope_freqs. freq_scale must be finite and > 0.
 * The turned elements are also multiplied by mscale (finite, > 0; 1: none), the attention factor
 * of YaRN and LongRoPE, as ggml's rope does: with partial RoPE the elements passed through are not. */
lmk_status lmk_rope_ext(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, int64_t R,
                        float theta, lmk_rope_style style, float freq_scale, const float *freq_factors,
                        float mscale);
lmk_status lmk_rope_ext_ref(float *x, const int32_t *positions, int64_t T, int64_t H, int64_t D, int64_t R,
                            float theta, lmk_rope_style style, float freq_scale, const float *freq_factors,
                            float mscale);

/* ---------------------------------------------------------------- activations (act.c) */

/* y (n) = silu(gate) * up; y may alias gate or up. */
lmk_status lmk_swiglu(const float *gate, const float *up, float *y, int64_t n);
lmk_status lmk_swiglu_ref(const float *gate, const float *up, float *y, int64_t n);
/* y (n) = gelu_tanh(gate) * up; y may alias gate or up. */
lmk_status lmk_geglu(const float *gate, const float *up, float *y, int64_t n);
lmk_status lmk_geglu_ref(const float *gate, const float *up, float *y, int64_t n);
/* y (n) = gelu_tanh(x); y may alias x. */
lmk_status lmk_gelu(const float *x, float *y, int64_t n);
lmk_status lmk_gelu_ref(const float *x, float *y, int64_t n);
/* y (n) = cap·tanh(x / cap), the soft-capping of Gemma-2's attention scores and logits; y may
 * alias x. cap must be finite and > 0. */
lmk_status lmk_softcap(const float *x, float *y, int64_t n, float cap);
lmk_status lmk_softcap_ref(const float *x, float *y, int64_t n, float cap);

/* ---------------------------------------------------------------- attention (attention.c) */

typedef enum {
    LMK_KV_F32 = 0,
    LMK_KV_F16 = 1,
    LMK_KV_FP8 = 2,   /* E4M3FN, as lmk_fp8_from_f32 */
} lmk_kv_dtype;

/* Flash attention: tiled over keys with an online softmax; never forms the (T, S) scores.
 *   q   (T, H, D)     float32
 *   k   (S, Hkv, D)   kv_dtype; consecutive positions are kv_stride elements apart
 *   v   (S, Hkv, D)   kv_dtype; same layout as k
 *   out (T, H, D)     float32
 * Query row t sits at absolute position S - T + t. Query head h reads KV head h / (H / Hkv).
 * causal: key j is seen by query position p only if j <= p. window > 0: also only if p - j < window.
 * scale: multiplies q·k (commonly 1/sqrt(D)). kv_stride: elements between positions (0 = Hkv*D).
 * softcap > 0: each scaled score s becomes softcap·tanh(s / softcap) before the softmax (Gemma-2);
 * 0: none. LMK_ERR_ARG unless H % Hkv == 0, D >= 1, kv_stride is 0 or >= Hkv*D, window >= 0,
 * softcap finite and >= 0, and (when causal) T <= S. A query row that sees no key (only when S == 0) comes out as zeros. */
typedef struct {
    int64_t T, S, H, Hkv, D;
    int64_t kv_stride;
    float scale;
    int causal;
    int64_t window;
    lmk_kv_dtype kv_dtype;
    float softcap;
} lmk_attn_params;

lmk_status lmk_attention(const float *q, const void *k, const void *v, float *out,
                         const lmk_attn_params *p);
lmk_status lmk_attention_ref(const float *q, const void *k, const void *v, float *out,
                             const lmk_attn_params *p);
/* The scratch lmk_attention takes for any call of up to T queries of these heads (whatever its
 * keys, window and thread cap), at the current thread count: part of a model step's workspace
 * (lmk_model_workspace_bytes); -1 for heads it refuses. */
int64_t lmk_attention_tmp_bytes(int64_t T, int64_t H, int64_t Hkv, int64_t D, lmk_kv_dtype kv_dtype);

#ifdef __cplusplus
}
#endif
#endif /* LMK_H */
