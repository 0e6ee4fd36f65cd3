/* The model step: one forward pass of a decoder transformer over a batch, on the lmk kernels.
 *
 * Per layer, for all tokens of the batch at once (so every weight is streamed once per step,
 * however many sequences share it):
 *   h = norm(x); q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ; [per-head q/k norm]; RoPE(q, k)
 *   K/V of the new tokens → cache; per sequence run: flash attention over its cache
 *   x += [post-norm](att·Woᵀ)
 *   h = norm(x); x += [post-norm](act(h·Wgateᵀ) · (h·Wupᵀ) · Wdownᵀ)
 *     (with a parallel residual the feed-forward reads the attention's h: x += attn(h) + ffn(h))
 * then the final norm and the output projection for the tokens that want logits, [× logit scale],
 * [soft-capped]. The norms are RMSNorm or LayerNorm (norm_kind). */
#include "lmk_model.h"

#include "internal.h"

/* ---------------------------------------------------------------- checks */

/* The elements of each head RoPE turns: the first rope_dims (partial RoPE, Phi-4-mini), or all. */
static int64_t rope_dims(const lmk_model *m) { return m->rope_dims ? m->rope_dims : m->head_dim; }
/* The factor RoPE puts on the elements it turns (0 reads as 1: none). */
static float rope_mscale(const lmk_model *m) { return m->rope_mscale != 0.0f ? m->rope_mscale : 1.0f; }

static int tensor_ok(const lmk_tensor *t, int64_t rows, int64_t cols, int optional, int f32_only) {
    if (!t->data) return optional;
    if (t->rows != rows || t->cols != cols) return 0;
    if (t->layout == LMK_LAYOUT_X16)
        return !f32_only && lmk_qx16_supported(t->type) && rows % 16 == 0 && cols % lmk_qblock_elems((lmk_qfmt)t->type) == 0;
    if (t->layout != LMK_LAYOUT_ROWS) return 0;
    if (t->type == LMK_TYPE_F32) return 1;
    if (f32_only) return 0;
    if (lmk_half_valid(t->type)) return 1;   /* F16, BF16: rows of plain halves */
    if (!lmk_qfmt_valid(t->type)) return 0;
    return cols % lmk_qblock_elems((lmk_qfmt)t->type) == 0;
}

lmk_status lmk_model_check(const lmk_model *m) {
    if (!m || !m->layers) return LMK_ERR_ARG;
    if (m->n_vocab <= 0 || m->n_embd <= 0 || m->n_layer <= 0 || m->n_head <= 0 || m->n_head_kv <= 0 ||
        m->head_dim <= 0 || m->head_dim % 2 || m->n_ff <= 0 || m->n_head % m->n_head_kv)
        return LMK_ERR_ARG;
    if (m->head_dim_v != m->head_dim) return LMK_ERR_UNSUPPORTED;   /* attention shares D for k and v */
    if (m->rope_style != LMK_ROPE_NORMAL && m->rope_style != LMK_ROPE_NEOX) return LMK_ERR_ARG;
    if (m->rope_dims < 0 || m->rope_dims % 2 || m->rope_dims > m->head_dim) return LMK_ERR_ARG;
    if (!(m->rope_mscale >= 0) || isinf(m->rope_mscale)) return LMK_ERR_ARG;
    const int64_t R = rope_dims(m);
    if (m->act != LMK_ACT_SILU && m->act != LMK_ACT_GELU) return LMK_ERR_ARG;
    if (m->norm_kind != LMK_NORM_RMS && m->norm_kind != LMK_NORM_LAYER) return LMK_ERR_ARG;
    if (m->parallel_residual != 0 && m->parallel_residual != 1) return LMK_ERR_ARG;
    const int64_t E = m->n_embd, Q = (int64_t)m->n_head * m->head_dim, KV = (int64_t)m->n_head_kv * m->head_dim;
    if (!tensor_ok(&m->token_embd, m->n_vocab, E, 0, 0) ||
        !tensor_ok(&m->output_norm, 1, E, 0, 1) ||
        !tensor_ok(&m->output, m->n_vocab, E, 0, 0) || !tensor_ok(&m->rope_freqs, 1, R / 2, 1, 1))
        return LMK_ERR_ARG;
    if (!isfinite(m->logit_scale) || !(m->final_softcap >= 0) || isinf(m->final_softcap) ||
        !(m->attn_softcap >= 0) || isinf(m->attn_softcap))
        return LMK_ERR_ARG;
    if (m->rope_freqs.data)
        for (int64_t i = 0; i < R / 2; i++) {
            const float f = ((const float *)m->rope_freqs.data)[i];
            if (!(f > 0) || isinf(f)) return LMK_ERR_ARG;   /* a factor of 0 would divide by it */
        }
    for (int32_t l = 0; l < m->n_layer; l++) {
        const lmk_layer *L = &m->layers[l];
        if (!tensor_ok(&L->attn_norm, 1, E, 0, 1) || !tensor_ok(&L->attn_q, Q, E, 0, 0) ||
            !tensor_ok(&L->attn_k, KV, E, 0, 0) || !tensor_ok(&L->attn_v, KV, E, 0, 0) ||
            !tensor_ok(&L->attn_q_norm, L->attn_q_norm.rows == 1 ? 1 : m->n_head, m->head_dim, 1, 1) ||
            !tensor_ok(&L->attn_k_norm, L->attn_k_norm.rows == 1 ? 1 : m->n_head_kv, m->head_dim, 1, 1) ||
            !tensor_ok(&L->attn_output, E, Q, 0, 0) || !tensor_ok(&L->post_attn_norm, 1, E, 1, 1) ||
            !tensor_ok(&L->ffn_norm, 1, E, m->parallel_residual, 1) || !tensor_ok(&L->ffn_gate, m->n_ff, E, 0, 0) ||
            !tensor_ok(&L->ffn_up, m->n_ff, E, 0, 0) || !tensor_ok(&L->ffn_down, E, m->n_ff, 0, 0) ||
            !tensor_ok(&L->post_ffn_norm, 1, E, 1, 1) || !tensor_ok(&L->attn_q_bias, 1, Q, 1, 1) ||
            !tensor_ok(&L->attn_k_bias, 1, KV, 1, 1) || !tensor_ok(&L->attn_v_bias, 1, KV, 1, 1) ||
            !(L->rope_theta >= 0) || isinf(L->rope_theta) || !(L->rope_freq_scale > 0) ||
            isinf(L->rope_freq_scale) || L->window < 0)
            return LMK_ERR_ARG;
        if (!L->attn_q_norm.data != !L->attn_k_norm.data) return LMK_ERR_ARG;
        if (m->parallel_residual && L->ffn_norm.data) return LMK_ERR_ARG;   /* it would be ignored */
    }
    return LMK_OK;
}

/* ---------------------------------------------------------------- workspace */

typedef struct {
    float *x;      /* (T, E) residual stream */
    float *h;      /* (T, E) normed input of a block; later the rows that want logits */
    float *q;      /* (T, H·D) */
    float *k;      /* (T, Hkv·D) */
    float *v;      /* (T, Hkv·D) */
    float *att;    /* (T, H·D) attention output */
    float *proj;   /* (T, E) a block's output projection */
    float *gate;   /* (T, F) */
    float *up;     /* (T, F) */
} workspace;

static int64_t padded(int64_t floats) { return (floats + 15) / 16 * 16; }

static int64_t carve(const lmk_model *m, int64_t T, char *base, workspace *w) {
    const int64_t E = m->n_embd, Q = (int64_t)m->n_head * m->head_dim, KV = (int64_t)m->n_head_kv * m->head_dim;
    const int64_t sizes[] = {T * E, T * E, T * Q, T * KV, T * KV, T * Q, T * E, T * m->n_ff, T * m->n_ff};
    float **slots[] = {&w->x, &w->h, &w->q, &w->k, &w->v, &w->att, &w->proj, &w->gate, &w->up};
    int64_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (base) *slots[i] = (float *)(base + off);
        off += padded(sizes[i]) * (int64_t)sizeof(float);
    }
    return off;
}

int64_t lmk_model_buffers_bytes(const lmk_model *m, int32_t max_tokens) {
    if (!m || max_tokens <= 0) return 0;
    return carve(m, max_tokens, NULL, &(workspace){0});
}

int64_t lmk_linear_tmp_bytes(int32_t type, int32_t layout, int64_t T, int64_t rows, int64_t cols) {
    if (type == LMK_TYPE_F32 || lmk_half_valid(type)) return layout ? -1 : lmk_matmul_tmp_bytes(type, T, rows, cols);
    if (!lmk_qfmt_valid(type)) return -1;
    if (layout == LMK_LAYOUT_X16) return lmk_qmatmul_x16_tmp_bytes((lmk_qfmt)type, T, rows, cols);
    return layout ? -1 : lmk_qmatmul_tmp_bytes((lmk_qfmt)type, T, rows, cols);
}

/* The room the kernels' temporaries take (internal.h, lmk_tmp) for linear(w, x, y, T). */
static int64_t linear_tmp_bytes(const lmk_tensor *w, int64_t T) {
    return w->data ? lmk_linear_tmp_bytes(w->type, w->layout, T, w->rows, w->cols) : 0;
}

/* The most any piece of a step of up to T tokens takes at once (they run one after another,
 * each giving its room back): the widest projection, attention (for any KV dtype: the tiles
 * converted to float32 are the larger case), or a tied embedding's row. */
static int64_t step_tmp_bytes(const lmk_model *m, int64_t T) {
    int64_t most = lmk_attention_tmp_bytes(T, m->n_head, m->n_head_kv, m->head_dim, LMK_KV_F16);
    most = LMK_MAX(most, linear_tmp_bytes(&m->output, T));
    for (int32_t l = 0; l < m->n_layer; l++) {
        const lmk_layer *L = &m->layers[l];
        const lmk_tensor *ws[] = {&L->attn_q, &L->attn_k, &L->attn_v, &L->attn_output,
                                  &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) most = LMK_MAX(most, linear_tmp_bytes(ws[i], T));
    }
    if (m->token_embd.layout == LMK_LAYOUT_X16) {
        int64_t row_bytes;
        if (lmk_qrow_bytes((lmk_qfmt)m->token_embd.type, m->n_embd, &row_bytes) == LMK_OK)
            most = LMK_MAX(most, lmk_tmp_room(row_bytes));
    }
    return most;
}

int64_t lmk_model_workspace_bytes(const lmk_model *m, int32_t max_tokens) {
    if (!m || max_tokens <= 0) return 0;
    return lmk_model_buffers_bytes(m, max_tokens) + LMK_MAX(step_tmp_bytes(m, max_tokens), (int64_t)0);
}

/* ---------------------------------------------------------------- pieces */

/* y (T, rows) = x (T, cols) · wᵀ */
static lmk_status linear(const lmk_tensor *w, const float *x, float *y, int64_t T) {
    if (w->type == LMK_TYPE_F32) return lmk_matmul_f32(x, (const float *)w->data, y, T, w->rows, w->cols);
    if (lmk_half_valid(w->type))
        return lmk_matmul_half((lmk_half)w->type, x, (const uint16_t *)w->data, y, T, w->rows, w->cols);
    if (w->layout == LMK_LAYOUT_X16) return lmk_qmatmul_x16((lmk_qfmt)w->type, x, w->data, y, T, w->rows, w->cols);
    return lmk_qmatmul((lmk_qfmt)w->type, x, w->data, y, T, w->rows, w->cols);
}

/* y[i] (T, w[i].rows) = x (T, cols) · w[i]ᵀ for projections of the same input: one quantized call
 * where they share a format and layout (x quantized once, one wake-up of the threads; the same
 * bits as one call each), else one call each */
static lmk_status linear_many(const lmk_tensor *const *w, int n, const float *x, float *const *y, int64_t T) {
    int same = n > 1 && n <= LMK_QMATMUL_MANY && lmk_qfmt_valid(w[0]->type);
    for (int i = 1; same && i < n; i++)
        same = w[i]->type == w[0]->type && w[i]->layout == w[0]->layout && w[i]->cols == w[0]->cols;
    if (!same) {
        for (int i = 0; i < n; i++) {
            lmk_status s = linear(w[i], x, y[i], T);
            if (s != LMK_OK) return s;
        }
        return LMK_OK;
    }
    const void *data[LMK_QMATMUL_MANY];
    int64_t rows[LMK_QMATMUL_MANY];
    for (int i = 0; i < n; i++) data[i] = w[i]->data, rows[i] = w[i]->rows;
    const lmk_qfmt fmt = (lmk_qfmt)w[0]->type;
    if (w[0]->layout == LMK_LAYOUT_X16) return lmk_qmatmul_x16_many(fmt, x, T, w[0]->cols, n, data, y, rows);
    return lmk_qmatmul_many(fmt, x, T, w[0]->cols, n, data, y, rows);
}

static lmk_status embed(const lmk_tensor *e, int32_t token, float scale, float *out) {
    const int64_t n = e->cols;
    if (e->layout == LMK_LAYOUT_X16) {  /* the output projection's copy (a tied embedding) */
        int64_t row_bytes;
        lmk_status s = lmk_qrow_bytes((lmk_qfmt)e->type, n, &row_bytes);
        if (s != LMK_OK) return s;
        uint8_t *row = lmk_tmp(row_bytes);
        if (!row) return LMK_ERR_NOMEM;
        s = lmk_qrow_x16((lmk_qfmt)e->type, e->data, e->rows, n, token, row);
        if (s == LMK_OK) s = lmk_dequantize((lmk_qfmt)e->type, row, out, n);
        lmk_tmp_free(row);
        if (s != LMK_OK) return s;
    } else if (e->type == LMK_TYPE_F32) {
        memcpy(out, (const float *)e->data + (int64_t)token * n, (size_t)n * sizeof(float));
    } else if (lmk_half_valid(e->type)) {
        lmk_status s = lmk_half_to_f32_n((lmk_half)e->type, (const uint16_t *)e->data + (int64_t)token * n, out, n);
        if (s != LMK_OK) return s;
    } else {
        int64_t row_bytes;
        lmk_status s = lmk_qrow_bytes((lmk_qfmt)e->type, n, &row_bytes);
        if (s == LMK_OK) s = lmk_dequantize((lmk_qfmt)e->type, (const char *)e->data + token * row_bytes, out, n);
        if (s != LMK_OK) return s;
    }
    if (scale != 1.0f)
        for (int64_t i = 0; i < n; i++) out[i] *= scale;
    return LMK_OK;
}

static void add_into(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* y (rows, n) = the model's norm (norm_kind) of x (rows, n) with weight w (n). */
static lmk_status norm_rows(const lmk_model *m, const float *x, const float *w, float *y, int64_t rows, int64_t n) {
    if (m->norm_kind == LMK_NORM_LAYER) return lmk_layernorm(x, w, NULL, y, rows, n, m->norm_eps);
    return lmk_rmsnorm(x, w, y, rows, n, m->norm_eps);
}

/* y (rows, E) = the model's block norm of x with weight w. */
static lmk_status norm(const lmk_model *m, const float *x, const lmk_tensor *w, float *y, int64_t rows) {
    return norm_rows(m, x, (const float *)w->data, y, rows, m->n_embd);
}

/* x (T, H, head_dim) normed in place head by head: one weight for every head (1, head_dim), or
 * one per head (H, head_dim; Command-R+). */
static lmk_status head_norm(const lmk_model *m, float *x, const lmk_tensor *w, int64_t T, int64_t H) {
    const int64_t D = m->head_dim;
    const float *wd = w->data;
    if (w->rows == 1) return norm_rows(m, x, wd, x, T * H, D);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            lmk_status st = norm_rows(m, x + (t * H + h) * D, wd + h * D, x + (t * H + h) * D, 1, D);
            if (st != LMK_OK) return st;
        }
    return LMK_OK;
}

/* y (T, n) += bias (n) on every row, when the layer has one. */
static void add_bias(const lmk_tensor *bias, float *y, int64_t T, int64_t n) {
    if (!bias->data) return;
    for (int64_t t = 0; t < T; t++) add_into(y + t * n, (const float *)bias->data, n);
}

static int64_t kv_elem_bytes(lmk_kv_dtype d) { return d == LMK_KV_F32 ? 4 : d == LMK_KV_F16 ? 2 : 1; }

/* Stores n floats into the cache in its dtype. */
static void kv_store(lmk_kv_dtype d, const float *src, void *dst, int64_t n) {
    if (d == LMK_KV_F32) memcpy(dst, src, (size_t)n * sizeof(float));
    else if (d == LMK_KV_F16) lmk_f32_to_f16_n(src, (uint16_t *)dst, n);
    else lmk_fp8_from_f32(src, (uint8_t *)dst, n);
}

static lmk_status check_batch(const lmk_model *m, const lmk_kv_cache *kv, const lmk_batch *b) {
    if (!b || b->n_tokens <= 0 || !b->tokens || !b->pos || !b->seq) return LMK_ERR_ARG;
    if (!kv || !kv->k || !kv->v || kv->n_ctx <= 0 || kv->n_seq <= 0 ||
        (kv->dtype != LMK_KV_F32 && kv->dtype != LMK_KV_F16 && kv->dtype != LMK_KV_FP8))
        return LMK_ERR_ARG;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= m->n_vocab) return LMK_ERR_ARG;
        if (b->pos[i] < 0 || b->pos[i] >= kv->n_ctx || b->seq[i] < 0 || b->seq[i] >= kv->n_seq) return LMK_ERR_ARG;
        if (i > 0 && b->seq[i] == b->seq[i - 1] && b->pos[i] != b->pos[i - 1] + 1) return LMK_ERR_ARG;
    }
    return LMK_OK;
}

static int wants(const lmk_batch *b, int32_t i) {
    if (b->want_logits) return b->want_logits[i] != 0;
    return i == b->n_tokens - 1 || b->seq[i + 1] != b->seq[i];
}

/* ---------------------------------------------------------------- the step */

#define TRY(expr)                              \
    do {                                       \
        lmk_status s_ = (expr);                \
        if (s_ != LMK_OK) return s_;           \
    } while (0)

static lmk_status attention_block(const lmk_model *m, const lmk_layer *L, int32_t l, const lmk_kv_cache *kv,
                                  const lmk_batch *b, workspace *w) {
    const int64_t T = b->n_tokens, E = m->n_embd, H = m->n_head, Hkv = m->n_head_kv, D = m->head_dim;
    const int64_t Q = H * D, KV = Hkv * D, eb = kv_elem_bytes(kv->dtype);

    TRY(norm(m, w->x, &L->attn_norm, w->h, T));
    const lmk_tensor *qkv[3] = {&L->attn_q, &L->attn_k, &L->attn_v};
    float *const qkv_out[3] = {w->q, w->k, w->v};
    TRY(linear_many(qkv, 3, w->h, qkv_out, T));
    add_bias(&L->attn_q_bias, w->q, T, Q);
    add_bias(&L->attn_k_bias, w->k, T, KV);
    add_bias(&L->attn_v_bias, w->v, T, KV);
    if (L->attn_q_norm.data) {
        TRY(head_norm(m, w->q, &L->attn_q_norm, T, H));
        TRY(head_norm(m, w->k, &L->attn_k_norm, T, Hkv));
    }
    const float *factors = m->rope_freqs.data;
    if (L->rope_theta > 0) {   /* 0: a layer without RoPE (Cohere2's global layers) */
        const int64_t R = rope_dims(m);
        const lmk_rope_style style = (lmk_rope_style)m->rope_style;
        const float ms = rope_mscale(m);
        TRY(lmk_rope_ext(w->q, b->pos, T, H, D, R, L->rope_theta, style, L->rope_freq_scale, factors, ms));
        TRY(lmk_rope_ext(w->k, b->pos, T, Hkv, D, R, L->rope_theta, style, L->rope_freq_scale, factors, ms));
    }

    char *kc = kv->k[l], *vc = kv->v[l];
    for (int64_t i = 0; i < T; i++) {
        const int64_t slot = ((int64_t)b->seq[i] * kv->n_ctx + b->pos[i]) * KV * eb;
        kv_store(kv->dtype, w->k + i * KV, kc + slot, KV);
        kv_store(kv->dtype, w->v + i * KV, vc + slot, KV);
    }
    for (int64_t start = 0; start < T;) {
        int64_t end = start + 1;
        while (end < T && b->seq[end] == b->seq[start]) end++;
        const int64_t seq_base = (int64_t)b->seq[start] * kv->n_ctx * KV * eb;
        lmk_attn_params p = {
            .T = end - start, .S = b->pos[end - 1] + 1, .H = H, .Hkv = Hkv, .D = D, .kv_stride = KV,
            .scale = m->attn_scale, .causal = 1, .window = L->window, .kv_dtype = kv->dtype,
            .softcap = m->attn_softcap,
        };
        TRY(lmk_attention(w->q + start * Q, kc + seq_base, vc + seq_base, w->att + start * Q, &p));
        start = end;
    }
    TRY(linear(&L->attn_output, w->att, w->proj, T));
    if (L->post_attn_norm.data)
        TRY(norm(m, w->proj, &L->post_attn_norm, w->proj, T));
    add_into(w->x, w->proj, T * E);
    return LMK_OK;
}

static lmk_status ffn_block(const lmk_model *m, const lmk_layer *L, int64_t T, workspace *w) {
    const int64_t E = m->n_embd, F = m->n_ff;
    if (!m->parallel_residual) TRY(norm(m, w->x, &L->ffn_norm, w->h, T));   /* else h is attn_norm(x) still */
    const lmk_tensor *gate_up[2] = {&L->ffn_gate, &L->ffn_up};
    float *const gate_up_out[2] = {w->gate, w->up};
    TRY(linear_many(gate_up, 2, w->h, gate_up_out, T));
    if (m->act == LMK_ACT_SILU) TRY(lmk_swiglu(w->gate, w->up, w->gate, T * F));
    else TRY(lmk_geglu(w->gate, w->up, w->gate, T * F));
    TRY(linear(&L->ffn_down, w->gate, w->proj, T));
    if (L->post_ffn_norm.data)
        TRY(norm(m, w->proj, &L->post_ffn_norm, w->proj, T));
    add_into(w->x, w->proj, T * E);
    return LMK_OK;
}

static lmk_status forward(const lmk_model *m, const lmk_kv_cache *kv, const lmk_batch *b, float *logits, workspace *w) {
    const int64_t T = b->n_tokens, E = m->n_embd;
    for (int64_t i = 0; i < T; i++) TRY(embed(&m->token_embd, b->tokens[i], m->embed_scale, w->x + i * E));
    for (int32_t l = 0; l < m->n_layer; l++) {
        TRY(attention_block(m, &m->layers[l], l, kv, b, w));
        TRY(ffn_block(m, &m->layers[l], T, w));
    }
    int64_t n_out = 0;
    for (int32_t i = 0; i < T; i++)
        if (wants(b, i)) memcpy(w->h + n_out++ * E, w->x + (int64_t)i * E, (size_t)E * sizeof(float));
    if (n_out == 0) return LMK_OK;
    TRY(norm(m, w->h, &m->output_norm, w->h, n_out));
    TRY(linear(&m->output, w->h, logits, n_out));
    const int64_t n = n_out * m->n_vocab;
    if (m->logit_scale != 1.0f)
        for (int64_t i = 0; i < n; i++) logits[i] *= m->logit_scale;
    if (m->final_softcap > 0) TRY(lmk_softcap(logits, logits, n, m->final_softcap));
    return LMK_OK;
}

lmk_status lmk_model_forward(const lmk_model *m, const lmk_kv_cache *kv, const lmk_batch *b, float *logits,
                             void *workspace_mem, int64_t workspace_bytes) {
    if (!m || !logits || !workspace_mem) return LMK_ERR_ARG;
    TRY(check_batch(m, kv, b));
    workspace w;
    const int64_t buffers = carve(m, b->n_tokens, NULL, &w);
    if (buffers > workspace_bytes) return LMK_ERR_ARG;
    carve(m, b->n_tokens, (char *)workspace_mem, &w);
    /* the rest holds the kernels' temporaries, from a 64-byte boundary */
    const int64_t skip = (int64_t)((64 - ((uintptr_t)workspace_mem + (uintptr_t)buffers) % 64) % 64);
    lmk_scratch rest = {(char *)workspace_mem + buffers + skip, LMK_MAX(workspace_bytes - buffers - skip, (int64_t)0), 0};
    lmk_scratch *previous = lmk_scratch_use(&rest);
    const lmk_status s = forward(m, kv, b, logits, &w);
    lmk_scratch_use(previous);
    return s;
}
