/* Binding of the matmul family. The Python layer (livemind/kernels/_matmul.py) checks shapes and
 * dtypes and allocates c; this checks that each buffer is large enough and calls lmk. */
#include "bind.h"

#include <stdint.h>

typedef lmk_status (*matmul_fn)(const float *, const float *, float *, int64_t, int64_t, int64_t);

/* Bytes of `rows × cols` float32 values, or -1 when that overflows (lmk_py_buffer rejects -1). */
static Py_ssize_t f32_bytes(long long rows, long long cols) {
    if (rows < 0 || cols < 0 || (rows && cols > (long long)(PY_SSIZE_T_MAX / 4) / rows)) return -1;
    return (Py_ssize_t)(rows * cols * 4);
}

/* (a, b, c, M, N, K) → fn(a, b, c, M, N, K) without the GIL */
static PyObject *call_matmul(PyObject *args, matmul_fn fn, const char *op) {
    PyObject *oa, *ob, *oc;
    long long M, N, K;
    if (!PyArg_ParseTuple(args, "OOOLLL", &oa, &ob, &oc, &M, &N, &K)) return NULL;
    Py_buffer v[3] = {{0}};
    if (!lmk_py_buffer(oa, &v[0], 0, f32_bytes(M, K), "a") || !lmk_py_buffer(ob, &v[1], 0, f32_bytes(N, K), "b") ||
        !lmk_py_buffer(oc, &v[2], 1, f32_bytes(M, N), "c")) {
        lmk_py_release(v, 3);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = fn(v[0].buf, v[1].buf, v[2].buf, M, N, K);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 3);
    return lmk_py_status(s, op);
}

static PyObject *py_matmul_f32(PyObject *self, PyObject *args) { return call_matmul(args, lmk_matmul_f32, "matmul"); }

static PyObject *py_matmul_f32_ref(PyObject *self, PyObject *args) {
    return call_matmul(args, lmk_matmul_f32_ref, "matmul_ref");
}

PyMethodDef lmk_py_matmul_methods[] = {
    {"matmul_f32", py_matmul_f32, METH_VARARGS,
     "matmul_f32(a, b, c, M, N, K): c (M, N) = a (M, K) · b (N, K)ᵀ on the active ISA."},
    {"matmul_f32_ref", py_matmul_f32_ref, METH_VARARGS, "matmul_f32_ref(a, b, c, M, N, K): the scalar reference."},
    {NULL, NULL, 0, NULL},
};
