/* Binding of the model step (lmk_model.h). The engine describes a model once (model_new: the
 * hyper-parameters and a buffer for each weight, which the capsule keeps alive) and then calls
 * model_forward once per step with numpy arrays for the batch, the KV cache and the outputs. */
#include "bind.h"
#include "lmk_model.h"

#include <stdlib.h>
#include <string.h>

#define N_LAYER_TENSORS 16
static const char *const layer_names[N_LAYER_TENSORS] = {
    "attn_norm", "attn_q", "attn_k", "attn_v", "attn_q_norm", "attn_k_norm", "attn_output",
    "post_attn_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "post_ffn_norm",
    "attn_q_bias", "attn_k_bias", "attn_v_bias",
};

typedef struct {
    lmk_model model;
    lmk_layer *layers;
    Py_buffer *views;     /* every weight buffer held, so the mapping outlives the model */
    int n_views;
} model_box;

static lmk_tensor *layer_slot(lmk_layer *L, int i) {
    lmk_tensor *slots[N_LAYER_TENSORS] = {
        &L->attn_norm, &L->attn_q, &L->attn_k, &L->attn_v, &L->attn_q_norm, &L->attn_k_norm, &L->attn_output,
        &L->post_attn_norm, &L->ffn_norm, &L->ffn_gate, &L->ffn_up, &L->ffn_down, &L->post_ffn_norm,
        &L->attn_q_bias, &L->attn_k_bias, &L->attn_v_bias,
    };
    return slots[i];
}

static void box_free(model_box *box) {
    if (!box) return;
    lmk_py_release(box->views, box->n_views);
    free(box->views);
    free(box->layers);
    free(box);
}

static void capsule_destructor(PyObject *cap) { box_free(PyCapsule_GetPointer(cap, "lmk_model")); }

static int get_number(PyObject *hp, const char *key, double *out) {
    PyObject *v = PyDict_GetItemString(hp, key);   /* borrowed */
    if (!v) {
        PyErr_Format(PyExc_ValueError, "model hyper-parameter %s is missing", key);
        return 0;
    }
    *out = PyFloat_AsDouble(v);
    return !(PyErr_Occurred());
}

/* hp[key] when given, else fallback. */
static int get_optional(PyObject *hp, const char *key, double fallback, double *out) {
    if (!PyDict_GetItemString(hp, key)) {
        *out = fallback;
        return 1;
    }
    return get_number(hp, key, out);
}

/* Fills t from tensors[key] = (buffer, type, rows, cols[, layout]) if present. */
static int get_tensor(model_box *box, PyObject *tensors, const char *key, lmk_tensor *t) {
    PyObject *item = PyDict_GetItemString(tensors, key);
    memset(t, 0, sizeof *t);
    if (!item) return 1;
    PyObject *obj;
    int type, layout = LMK_LAYOUT_ROWS;
    long long rows, cols;
    if (!PyArg_ParseTuple(item, "OiLL|i", &obj, &type, &rows, &cols, &layout)) return 0;
    int64_t row_bytes;
    if (rows <= 0 || cols <= 0) {
        PyErr_Format(PyExc_ValueError, "tensor %s has shape (%lld, %lld)", key, rows, cols);
        return 0;
    }
    if (type == LMK_TYPE_F32) row_bytes = cols * 4;
    else if (lmk_half_valid(type)) row_bytes = cols * 2;   /* F16, BF16 */
    else if (lmk_qrow_bytes((lmk_qfmt)type, cols, &row_bytes) != LMK_OK) {
        PyErr_Format(PyExc_ValueError, "tensor %s: type %d with %lld columns is not supported", key, type, cols);
        return 0;
    }
    if (rows > INT64_MAX / row_bytes) {
        PyErr_Format(PyExc_ValueError, "tensor %s is too large", key);
        return 0;
    }
    Py_buffer *view = &box->views[box->n_views];
    if (!lmk_py_buffer(obj, view, 0, (Py_ssize_t)(rows * row_bytes), key)) return 0;
    box->n_views++;
    *t = (lmk_tensor){view->buf, type, rows, cols, layout};
    return 1;
}

static PyObject *py_model_new(PyObject *self, PyObject *args) {
    PyObject *hp, *layer_params, *tensors;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyDict_Type, &hp, &PyList_Type, &layer_params, &PyDict_Type, &tensors))
        return NULL;
    double v[13];
    static const char *const keys[13] = {"n_vocab", "n_embd", "n_layer", "n_head", "n_head_kv", "head_dim",
                                         "head_dim_v", "n_ff", "norm_eps", "embed_scale", "attn_scale",
                                         "rope_style", "act"};
    for (int i = 0; i < 13; i++)
        if (!get_number(hp, keys[i], &v[i])) return NULL;
    double logit_scale, final_softcap, attn_softcap, norm_kind, parallel, rope_dims, rope_mscale;
    if (!get_optional(hp, "logit_scale", 1.0, &logit_scale) || !get_optional(hp, "final_softcap", 0.0, &final_softcap) ||
        !get_optional(hp, "attn_softcap", 0.0, &attn_softcap) ||
        !get_optional(hp, "norm_kind", 0, &norm_kind) || !get_optional(hp, "parallel_residual", 0, &parallel) ||
        !get_optional(hp, "rope_dims", 0, &rope_dims) || !get_optional(hp, "rope_mscale", 1.0, &rope_mscale))
        return NULL;
    const Py_ssize_t n_layer = PyList_GET_SIZE(layer_params);
    if (n_layer != (Py_ssize_t)v[2] || n_layer <= 0 || n_layer > 4096)
        return PyErr_Format(PyExc_ValueError, "layer parameters: %zd entries for %g layers", n_layer, v[2]);

    model_box *box = calloc(1, sizeof *box);
    if (!box) return PyErr_NoMemory();
    box->layers = calloc((size_t)n_layer, sizeof *box->layers);
    box->views = calloc((size_t)(4 + n_layer * N_LAYER_TENSORS), sizeof *box->views);
    if (!box->layers || !box->views) {
        box_free(box);
        return PyErr_NoMemory();
    }
    lmk_model *m = &box->model;
    *m = (lmk_model){
        .n_vocab = (int32_t)v[0], .n_embd = (int32_t)v[1], .n_layer = (int32_t)v[2], .n_head = (int32_t)v[3],
        .n_head_kv = (int32_t)v[4], .head_dim = (int32_t)v[5], .head_dim_v = (int32_t)v[6], .n_ff = (int32_t)v[7],
        .norm_eps = (float)v[8], .embed_scale = (float)v[9], .attn_scale = (float)v[10],
        .rope_style = (int32_t)v[11], .act = (int32_t)v[12], .layers = box->layers,
        .logit_scale = (float)logit_scale, .final_softcap = (float)final_softcap,
        .attn_softcap = (float)attn_softcap,
        .norm_kind = (int32_t)norm_kind, .parallel_residual = (int32_t)parallel, .rope_dims = (int32_t)rope_dims,
        .rope_mscale = (float)rope_mscale,
    };
    int ok = get_tensor(box, tensors, "token_embd", &m->token_embd) &&
             get_tensor(box, tensors, "output_norm", &m->output_norm) &&
             get_tensor(box, tensors, "output", &m->output) &&
             get_tensor(box, tensors, "rope_freqs", &m->rope_freqs);
    char key[64];
    for (Py_ssize_t l = 0; ok && l < n_layer; l++) {
        lmk_layer *L = &box->layers[l];
        for (int i = 0; ok && i < N_LAYER_TENSORS; i++) {
            snprintf(key, sizeof key, "%zd.%s", l, layer_names[i]);
            ok = get_tensor(box, tensors, key, layer_slot(L, i));
        }
        double theta, freq_scale = 1.0;
        int window;
        ok = ok && PyArg_ParseTuple(PyList_GET_ITEM(layer_params, l), "di|d", &theta, &window, &freq_scale);
        L->rope_theta = (float)theta;
        L->rope_freq_scale = (float)freq_scale;
        L->window = window;
    }
    if (!ok) {
        box_free(box);
        return NULL;
    }
    lmk_status s = lmk_model_check(m);
    if (s != LMK_OK) {
        box_free(box);
        return lmk_py_status(s, "model_new (weights do not match the hyper-parameters)");
    }
    PyObject *cap = PyCapsule_New(box, "lmk_model", capsule_destructor);
    if (!cap) box_free(box);
    return cap;
}

static model_box *get_box(PyObject *cap) { return PyCapsule_GetPointer(cap, "lmk_model"); }

/* (model, max_tokens) -> bytes(model, max_tokens) */
static PyObject *model_bytes(PyObject *args, int64_t (*bytes)(const lmk_model *, int32_t)) {
    PyObject *cap;
    int max_tokens;
    if (!PyArg_ParseTuple(args, "Oi", &cap, &max_tokens)) return NULL;
    model_box *box = get_box(cap);
    if (!box) return NULL;
    return PyLong_FromLongLong(bytes(&box->model, max_tokens));
}

static PyObject *py_model_workspace_bytes(PyObject *self, PyObject *args) {
    return model_bytes(args, lmk_model_workspace_bytes);
}

static PyObject *py_model_buffers_bytes(PyObject *self, PyObject *args) {
    return model_bytes(args, lmk_model_buffers_bytes);
}

static PyObject *py_linear_tmp_bytes(PyObject *self, PyObject *args) {
    int type, layout;
    long long T, rows, cols;
    if (!PyArg_ParseTuple(args, "iiLLL", &type, &layout, &T, &rows, &cols)) return NULL;
    const int64_t n = lmk_linear_tmp_bytes(type, layout, T, rows, cols);
    if (n < 0) return lmk_py_status(LMK_ERR_ARG, "linear_tmp_bytes");
    return PyLong_FromLongLong(n);
}

static PyObject *py_attention_tmp_bytes(PyObject *self, PyObject *args) {
    long long T, H, Hkv, D;
    int kv_dtype;
    if (!PyArg_ParseTuple(args, "LLLLi", &T, &H, &Hkv, &D, &kv_dtype)) return NULL;
    if (kv_dtype < LMK_KV_F32 || kv_dtype > LMK_KV_FP8) return lmk_py_status(LMK_ERR_ARG, "attention_tmp_bytes");
    const int64_t n = lmk_attention_tmp_bytes(T, H, Hkv, D, (lmk_kv_dtype)kv_dtype);
    if (n < 0) return lmk_py_status(LMK_ERR_ARG, "attention_tmp_bytes");
    return PyLong_FromLongLong(n);
}

static PyObject *py_heap_temporaries(PyObject *self, PyObject *args) {
    return PyLong_FromLongLong(lmk_heap_temporaries());
}

/* model_forward(model, k_layers, v_layers, kv_dtype, n_ctx, n_seq, tokens, pos, seq, want|None,
 *               logits, workspace) */
static PyObject *py_model_forward(PyObject *self, PyObject *args) {
    PyObject *cap, *k_list, *v_list, *tok_o, *pos_o, *seq_o, *want_o, *logits_o, *ws_o;
    int kv_dtype, n_ctx, n_seq;
    if (!PyArg_ParseTuple(args, "OO!O!iiiOOOOOO", &cap, &PyList_Type, &k_list, &PyList_Type, &v_list, &kv_dtype,
                          &n_ctx, &n_seq, &tok_o, &pos_o, &seq_o, &want_o, &logits_o, &ws_o))
        return NULL;
    model_box *box = get_box(cap);
    if (!box) return NULL;
    const lmk_model *m = &box->model;
    const Py_ssize_t L = m->n_layer;
    if (PyList_GET_SIZE(k_list) != L || PyList_GET_SIZE(v_list) != L)
        return PyErr_Format(PyExc_ValueError, "KV cache needs %zd layers", L);
    if (kv_dtype < LMK_KV_F32 || kv_dtype > LMK_KV_FP8 || n_ctx <= 0 || n_seq <= 0)
        return lmk_py_status(LMK_ERR_ARG, "model_forward");
    const int64_t eb = kv_dtype == LMK_KV_F32 ? 4 : kv_dtype == LMK_KV_F16 ? 2 : 1;
    const int64_t layer_bytes = (int64_t)n_seq * n_ctx * m->n_head_kv * m->head_dim * eb;

    /* views: 2L cache layers, tokens, pos, seq, want, logits, workspace */
    const int n_views = (int)(2 * L + 6);
    Py_buffer *views = calloc((size_t)n_views, sizeof *views);
    void **kp = calloc((size_t)(2 * L), sizeof *kp);
    PyObject *result = NULL;
    if (!views || !kp) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t l = 0; l < L; l++) {
        if (!lmk_py_buffer(PyList_GET_ITEM(k_list, l), &views[l], 1, (Py_ssize_t)layer_bytes, "k cache") ||
            !lmk_py_buffer(PyList_GET_ITEM(v_list, l), &views[L + l], 1, (Py_ssize_t)layer_bytes, "v cache"))
            goto done;
        kp[l] = views[l].buf;
        kp[L + l] = views[L + l].buf;
    }
    Py_buffer *tok = &views[2 * L], *pos = tok + 1, *seq = tok + 2, *want = tok + 3, *lg = tok + 4, *ws = tok + 5;
    if (!lmk_py_buffer(tok_o, tok, 0, 4, "tokens")) goto done;
    const int64_t T = tok->len / 4;
    if (!lmk_py_buffer(pos_o, pos, 0, (Py_ssize_t)(4 * T), "pos") ||
        !lmk_py_buffer(seq_o, seq, 0, (Py_ssize_t)(4 * T), "seq"))
        goto done;
    if (want_o != Py_None && !lmk_py_buffer(want_o, want, 0, (Py_ssize_t)T, "want_logits")) goto done;
    /* count wanted outputs to size-check logits */
    int64_t n_out = 0;
    const int32_t *seqs = seq->buf;
    for (int64_t i = 0; i < T; i++)
        n_out += want_o != Py_None ? ((const int8_t *)want->buf)[i] != 0 : (i == T - 1 || seqs[i + 1] != seqs[i]);
    if (!lmk_py_buffer(logits_o, lg, 1, (Py_ssize_t)(n_out * m->n_vocab * 4), "logits") ||
        !lmk_py_buffer(ws_o, ws, 1, (Py_ssize_t)lmk_model_buffers_bytes(m, (int32_t)T), "workspace"))
        goto done;

    lmk_kv_cache kv = {(lmk_kv_dtype)kv_dtype, n_ctx, n_seq, kp, kp + L};
    lmk_batch b = {(int32_t)T, tok->buf, pos->buf, seq->buf, want_o != Py_None ? want->buf : NULL};
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_model_forward(m, &kv, &b, lg->buf, ws->buf, ws->len);
    Py_END_ALLOW_THREADS
    result = lmk_py_status(s, "model_forward");
done:
    if (views) lmk_py_release(views, n_views);
    free(views);
    free(kp);
    return result;
}

PyMethodDef lmk_py_model_methods[] = {
    {"model_new", py_model_new, METH_VARARGS, "Describe a model: (hparams, [(rope_theta, window[, rope_freq_scale])], tensors) -> capsule."},
    {"model_workspace_bytes", py_model_workspace_bytes, METH_VARARGS,
     "Workspace bytes for batches of up to this many tokens: buffers and every temporary."},
    {"model_buffers_bytes", py_model_buffers_bytes, METH_VARARGS, "The least workspace a batch runs in (buffers alone)."},
    {"linear_tmp_bytes", py_linear_tmp_bytes, METH_VARARGS,
     "linear_tmp_bytes(type, layout, T, rows, cols): scratch one projection of the step takes."},
    {"attention_tmp_bytes", py_attention_tmp_bytes, METH_VARARGS,
     "attention_tmp_bytes(T, H, Hkv, D, kv_dtype): scratch attention takes for up to T queries."},
    {"heap_temporaries", py_heap_temporaries, METH_NOARGS, "Kernel temporaries a step's workspace could not hold."},
    {"model_forward", py_model_forward, METH_VARARGS, "One forward step of a batch."},
    {NULL, NULL, 0, NULL},
};
