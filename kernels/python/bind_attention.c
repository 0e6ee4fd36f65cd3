/* Binding of the attention family. The Python layer (livemind/kernels/_attention.py) checks
 * shapes, dtypes and options and allocates out; this checks that each buffer is large enough
 * for the sizes given and calls lmk. */
#include "bind.h"

#include <stdint.h>

typedef lmk_status (*attention_fn)(const float *, const void *, const void *, float *, const lmk_attn_params *);

/* Bytes of `n` elements of `size` bytes, or -1 when that overflows (lmk_py_buffer rejects -1). */
static Py_ssize_t nbytes(long long n, long long size) {
    if (n < 0 || n > (long long)(PY_SSIZE_T_MAX / size)) return -1;
    return (Py_ssize_t)(n * size);
}

/* (q, k, v, out, T, S, H, Hkv, D, kv_stride, scale, causal, window, kv_dtype[, softcap]) → fn(...)
 * without the GIL */
static PyObject *call_attention(PyObject *args, attention_fn fn, const char *op) {
    PyObject *oq, *ok, *ov, *oo;
    long long T, S, H, Hkv, D, stride, window;
    float scale, softcap = 0;
    int causal, dtype;
    if (!PyArg_ParseTuple(args, "OOOOLLLLLLfpLi|f", &oq, &ok, &ov, &oo, &T, &S, &H, &Hkv, &D, &stride, &scale,
                          &causal, &window, &dtype, &softcap))
        return NULL;
    if (T < 0 || S < 0 || H < 1 || Hkv < 1 || D < 1 || stride < 0 || dtype < LMK_KV_F32 || dtype > LMK_KV_FP8)
        return lmk_py_status(LMK_ERR_ARG, op);
    long long row = stride ? stride : Hkv * D;   /* elements between positions */
    long long elem = dtype == LMK_KV_F32 ? 4 : dtype == LMK_KV_F16 ? 2 : 1;
    long long kv_elems = S == 0 ? 0 : (row > 0 && S - 1 > LLONG_MAX / row) ? -1 : (S - 1) * row + Hkv * D;
    long long q_elems = (H > LLONG_MAX / D || T > LLONG_MAX / (H * D)) ? -1 : T * H * D;
    Py_buffer vw[4] = {{0}};
    if (!lmk_py_buffer(oq, &vw[0], 0, nbytes(q_elems, 4), "q") || !lmk_py_buffer(ok, &vw[1], 0, nbytes(kv_elems, elem), "k") ||
        !lmk_py_buffer(ov, &vw[2], 0, nbytes(kv_elems, elem), "v") || !lmk_py_buffer(oo, &vw[3], 1, nbytes(q_elems, 4), "out")) {
        lmk_py_release(vw, 4);
        return NULL;
    }
    lmk_attn_params p = {T, S, H, Hkv, D, stride, scale, causal, window, (lmk_kv_dtype)dtype, softcap};
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = fn(vw[0].buf, vw[1].buf, vw[2].buf, vw[3].buf, &p);
    Py_END_ALLOW_THREADS
    lmk_py_release(vw, 4);
    return lmk_py_status(s, op);
}

static PyObject *py_attention(PyObject *self, PyObject *args) { return call_attention(args, lmk_attention, "attention"); }

static PyObject *py_attention_ref(PyObject *self, PyObject *args) {
    return call_attention(args, lmk_attention_ref, "attention_ref");
}

PyMethodDef lmk_py_attention_methods[] = {
    {"attention", py_attention, METH_VARARGS,
     "attention(q, k, v, out, T, S, H, Hkv, D, kv_stride, scale, causal, window, kv_dtype[, softcap]): flash "
     "attention; kv_dtype 0 = f32, 1 = f16, 2 = fp8 (E4M3FN); softcap > 0 soft-caps the scaled scores."},
    {"attention_ref", py_attention_ref, METH_VARARGS, "attention_ref(...): the scalar reference, same arguments."},
    {NULL, NULL, 0, NULL},
};
