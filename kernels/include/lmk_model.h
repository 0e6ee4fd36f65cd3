/* lmk model step: one forward pass of a decoder transformer (every family livemind.engine.arch
 * describes) over a batch of
 * tokens from one or more sequences, entirely in C on the lmk kernels.
 *
 * The caller (livemind.engine) owns everything with a lifetime: the mapped weights, the KV cache
 * memory, the workspace. This file only computes. Weights stay in their GGUF formats.
 */
#ifndef LMK_MODEL_H
#define LMK_MODEL_H

#include "lmk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ggml type ids for the weights the step reads (quantized ones are lmk_qfmt values). */
#define LMK_TYPE_F32 0
#define LMK_TYPE_F16 1

/* A weight: `rows` rows of `cols` elements, each row a whole number of blocks of `type`.
 * Projections are (out, in); norms are (1, n). data == NULL: absent. layout: LMK_LAYOUT_ROWS as
 * stored in the file, or LMK_LAYOUT_X16 (lmk_qrepack_x16; projections, and a tied embedding that
 * shares its output projection's copy; rows % 16 == 0). */
#define LMK_LAYOUT_ROWS 0
#define LMK_LAYOUT_X16 1
typedef struct {
    const void *data;
    int32_t type;
    int64_t rows, cols;
    int32_t layout;
} lmk_tensor;

typedef struct {
    lmk_tensor attn_norm;            /* (1, n_embd) */
    lmk_tensor attn_q;               /* (n_head·head_dim, n_embd) */
    lmk_tensor attn_k;               /* (n_head_kv·head_dim, n_embd) */
    lmk_tensor attn_v;               /* (n_head_kv·head_dim_v, n_embd) */
    lmk_tensor attn_q_norm;          /* (1 or n_head, head_dim), optional: norm of each head of q, by
                                        one weight or one per head (Command-R+) */
    lmk_tensor attn_k_norm;          /* (1 or n_head_kv, head_dim), optional */
    lmk_tensor attn_output;          /* (n_embd, n_head·head_dim_v) */
    lmk_tensor post_attn_norm;       /* (1, n_embd), optional */
    lmk_tensor ffn_norm;             /* (1, n_embd) */
    lmk_tensor ffn_gate;             /* (n_ff, n_embd) */
    lmk_tensor ffn_up;               /* (n_ff, n_embd) */
    lmk_tensor ffn_down;             /* (n_embd, n_ff) */
    lmk_tensor post_ffn_norm;        /* (1, n_embd), optional */
    lmk_tensor attn_q_bias;          /* (1, n_head·head_dim) F32, optional: added to q (Qwen2) */
    lmk_tensor attn_k_bias;          /* (1, n_head_kv·head_dim), optional */
    lmk_tensor attn_v_bias;          /* (1, n_head_kv·head_dim_v), optional */
    float rope_theta;                /* this layer's RoPE base; 0: no RoPE in this layer (Cohere2) */
    float rope_freq_scale;           /* this layer's linear RoPE scaling (1: none; lmk_rope_ext) */
    int32_t window;                  /* sliding-window size; 0: global attention */
} lmk_layer;

typedef enum { LMK_ACT_SILU = 0, LMK_ACT_GELU = 1 } lmk_act;
typedef enum { LMK_NORM_RMS = 0, LMK_NORM_LAYER = 1 } lmk_norm_kind;

typedef struct {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, head_dim_v, n_ff;
    float norm_eps;
    float embed_scale;               /* token embeddings are multiplied by this */
    float attn_scale;                /* q·k multiplier */
    int32_t rope_style;              /* lmk_rope_style */
    int32_t act;                     /* lmk_act: SwiGLU or GeGLU feed-forward */
    int32_t norm_kind;               /* lmk_norm_kind of every norm: block, output and q/k */
    int32_t parallel_residual;       /* 1: x += attn(h) + ffn(h), h = attn_norm(x); no ffn_norm (Cohere) */
    lmk_tensor token_embd;           /* (n_vocab, n_embd), rows are looked up (x16: lmk_qrow_x16) */
    lmk_tensor output_norm;          /* (1, n_embd) */
    lmk_tensor output;               /* (n_vocab, n_embd); may be token_embd (tied) */
    int32_t rope_dims;               /* RoPE turns the first rope_dims of each head (even; 0: all of head_dim) */
    float rope_mscale;               /* RoPE multiplies what it turns by this (YaRN/LongRoPE; 0 or 1: none) */
    lmk_tensor rope_freqs;           /* (1, rope_dims/2) F32, optional: per-pair RoPE factors (Llama-3.1) */
    float logit_scale;               /* logits are multiplied by this (1: none; Cohere) */
    float final_softcap;             /* > 0: logits = cap·tanh(logits/cap) (Gemma-2); 0: none */
    float attn_softcap;              /* > 0: attention scores soft-capped the same way (Gemma-2); 0: none */
    const lmk_layer *layers;         /* (n_layer) */
} lmk_model;

/* KV cache: for each layer, k[l] and v[l] point to (n_seq, n_ctx, n_head_kv, head_dim[_v])
 * elements of `dtype`. A sequence slot's positions 0..n_ctx-1 are written as tokens arrive. */
typedef struct {
    lmk_kv_dtype dtype;
    int32_t n_ctx;
    int32_t n_seq;
    void *const *k;                  /* (n_layer) */
    void *const *v;                  /* (n_layer) */
} lmk_kv_cache;

/* A batch: n_tokens tokens, grouped in runs of one sequence each. Within a run, positions are
 * consecutive and the run continues that sequence (its earlier positions are in the cache).
 * Logits are produced for tokens whose want_logits is non-zero (NULL: the last of each run),
 * in batch order. */
typedef struct {
    int32_t n_tokens;
    const int32_t *tokens;           /* (n_tokens) */
    const int32_t *pos;              /* (n_tokens) */
    const int32_t *seq;              /* (n_tokens) */
    const int8_t *want_logits;       /* (n_tokens) or NULL */
} lmk_batch;

/* Checks a model description: sizes positive and consistent, every needed weight present with
 * the shape above, types the step supports. */
lmk_status lmk_model_check(const lmk_model *m);

/* Bytes of workspace for batches of up to max_tokens tokens: the step's buffers, then room for
 * every temporary its kernels take, at the current thread count (lmk_threads_get). A step in a
 * workspace this size allocates nothing. */
int64_t lmk_model_workspace_bytes(const lmk_model *m, int32_t max_tokens);

/* The least workspace a batch of max_tokens tokens runs in: the buffers alone. Temporaries that
 * the rest cannot hold (a smaller workspace, or more threads since it was sized) come from the
 * heap, each counted by lmk_heap_temporaries. */
int64_t lmk_model_buffers_bytes(const lmk_model *m, int32_t max_tokens);
int64_t lmk_heap_temporaries(void);   /* since the process started */

/* The room the step's kernels take for one projection y (T, rows) = x (T, cols) · wᵀ with a
 * weight of this type and layout; -1 for one the step does not run. With lmk_attention_tmp_bytes
 * it lets a caller size the workspace before the weights exist (the engine's memory plan). */
int64_t lmk_linear_tmp_bytes(int32_t type, int32_t layout, int64_t T, int64_t rows, int64_t cols);

/* Runs the batch; writes K/V of its tokens into the cache and the wanted logits into
 * logits (n_wanted, n_vocab). workspace: at least lmk_model_buffers_bytes(m, b->n_tokens) bytes
 * (lmk_model_workspace_bytes for no allocation), 64-byte aligned. */
lmk_status lmk_model_forward(const lmk_model *m, const lmk_kv_cache *kv, const lmk_batch *b,
                             float *logits, void *workspace, int64_t workspace_bytes);

#ifdef __cplusplus
}
#endif
#endif
