/* Binding of the quant family: GGUF block formats by ggml type id. Shapes and dtypes are checked
 * in livemind/kernels/_quant.py; here each buffer is checked to hold what the call will touch. */
#include "bind.h"

#include <stdint.h>

/* bytes of `count` items of `item` bytes, or -1 when it overflows */
static Py_ssize_t nbytes(int64_t count, int64_t item) {
    if (count < 0 || item < 0 || (count && item > PY_SSIZE_T_MAX / count)) return -1;
    return (Py_ssize_t)(count * item);
}

/* Bytes of `rows` quantized rows of n elements, or -1 (n not a multiple of the block, overflow). */
static Py_ssize_t qbytes(int fmt, int64_t rows, int64_t n) {
    int64_t row;
    if (!lmk_qfmt_valid(fmt) || lmk_qrow_bytes((lmk_qfmt)fmt, n, &row) != LMK_OK) return -1;
    return nbytes(rows, row);
}

static PyObject *py_qblock(PyObject *self, PyObject *args) {
    int fmt;
    if (!PyArg_ParseTuple(args, "i", &fmt)) return NULL;
    if (!lmk_qfmt_valid(fmt)) return lmk_py_status(LMK_ERR_ARG, "qblock");
    return Py_BuildValue("LL", (long long)lmk_qblock_elems((lmk_qfmt)fmt), (long long)lmk_qblock_bytes((lmk_qfmt)fmt));
}

static PyObject *py_quantize(PyObject *self, PyObject *args) {
    int fmt;
    long long n;
    PyObject *xo, *qo;
    if (!PyArg_ParseTuple(args, "iOOL", &fmt, &xo, &qo, &n)) return NULL;
    const Py_ssize_t qb = qbytes(fmt, 1, n), xb = nbytes(n, 4);
    if (qb < 0 || xb < 0) return lmk_py_status(LMK_ERR_ARG, "quantize");
    Py_buffer v[2] = {{0}};
    if (!lmk_py_buffer(xo, &v[0], 0, xb, "x") || !lmk_py_buffer(qo, &v[1], 1, qb, "q")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_quantize((lmk_qfmt)fmt, v[0].buf, v[1].buf, n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "quantize");
}

static PyObject *py_dequantize(PyObject *self, PyObject *args) {
    int fmt;
    long long n;
    PyObject *qo, *yo;
    if (!PyArg_ParseTuple(args, "iOOL", &fmt, &qo, &yo, &n)) return NULL;
    const Py_ssize_t qb = qbytes(fmt, 1, n), yb = nbytes(n, 4);
    if (qb < 0 || yb < 0) return lmk_py_status(LMK_ERR_ARG, "dequantize");
    Py_buffer v[2] = {{0}};
    if (!lmk_py_buffer(qo, &v[0], 0, qb, "q") || !lmk_py_buffer(yo, &v[1], 1, yb, "y")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_dequantize((lmk_qfmt)fmt, v[0].buf, v[1].buf, n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "dequantize");
}

/* qmatmul(fmt, a, w, c, M, N, K, mode): c (M, N) = a (M, K) · w (N quantized rows of K)ᵀ;
 * mode 0 runs lmk_qmatmul, 1 lmk_qmatmul_ref (dequantized weights, double accumulation), 2
 * lmk_qmatmul_x16 (w in the x16 layout). */
static PyObject *py_qmatmul(PyObject *self, PyObject *args) {
    int fmt, mode = 0;
    long long M, N, K;
    PyObject *ao, *wo, *co;
    if (!PyArg_ParseTuple(args, "iOOOLLL|i", &fmt, &ao, &wo, &co, &M, &N, &K, &mode)) return NULL;
    if (mode < 0 || mode > 2) return lmk_py_status(LMK_ERR_ARG, "qmatmul");
    const Py_ssize_t wb = qbytes(fmt, N, K), ab = M >= 0 && K >= 0 ? nbytes(M, 4 * (int64_t)K) : -1,
                     cb = M >= 0 && N >= 0 ? nbytes(M, 4 * (int64_t)N) : -1;
    if (wb < 0 || ab < 0 || cb < 0) return lmk_py_status(LMK_ERR_ARG, "qmatmul");
    Py_buffer v[3] = {{0}};
    if (!lmk_py_buffer(ao, &v[0], 0, ab, "a") || !lmk_py_buffer(wo, &v[1], 0, wb, "w") ||
        !lmk_py_buffer(co, &v[2], 1, cb, "c")) {
        lmk_py_release(v, 3);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = (mode == 1 ? lmk_qmatmul_ref : mode == 2 ? lmk_qmatmul_x16 : lmk_qmatmul)((lmk_qfmt)fmt, v[0].buf, v[1].buf,
                                                                              v[2].buf, M, N, K);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 3);
    return lmk_py_status(s, "qmatmul");
}

/* qrepack_x16(fmt, src, dst, N, K, unpack=False): N rows of K from the file's layout into x16
 * (or back). */
static PyObject *py_qrepack_x16(PyObject *self, PyObject *args) {
    int fmt, unpack = 0;
    long long N, K;
    PyObject *so, *dobj;
    if (!PyArg_ParseTuple(args, "iOOLL|p", &fmt, &so, &dobj, &N, &K, &unpack)) return NULL;
    const Py_ssize_t bytes = qbytes(fmt, N, K);
    if (bytes < 0) return lmk_py_status(LMK_ERR_ARG, "qrepack_x16");
    Py_buffer v[2] = {{0}};
    if (!lmk_py_buffer(so, &v[0], 0, bytes, "src") || !lmk_py_buffer(dobj, &v[1], 1, bytes, "dst")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = (unpack ? lmk_qunpack_x16 : lmk_qrepack_x16)((lmk_qfmt)fmt, v[0].buf, v[1].buf, N, K);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "qrepack_x16");
}

static PyObject *py_qx16(PyObject *self, PyObject *args) {
    int fmt;
    if (!PyArg_ParseTuple(args, "i", &fmt)) return NULL;
    return Py_BuildValue("(OO)", lmk_qx16_supported((lmk_qfmt)fmt) ? Py_True : Py_False,
                         lmk_qx16_native((lmk_qfmt)fmt) ? Py_True : Py_False);
}

PyMethodDef lmk_py_quant_methods[] = {
    {"qblock", py_qblock, METH_VARARGS, "qblock(fmt) -> (elements, bytes) of one block of a GGUF type id."},
    {"quantize", py_quantize, METH_VARARGS, "quantize(fmt, x, q, n): n floats of x into blocks in q."},
    {"dequantize", py_dequantize, METH_VARARGS, "dequantize(fmt, q, y, n): blocks in q into n floats of y."},
    {"qmatmul", py_qmatmul, METH_VARARGS,
     "qmatmul(fmt, a, w, c, M, N, K, mode=0): c (M, N) = a (M, K) . w (N, K quantized)^T; mode 1: reference, "
     "2: w in the x16 layout."},
    {"qrepack_x16", py_qrepack_x16, METH_VARARGS,
     "qrepack_x16(fmt, src, dst, N, K, unpack=False): the file's row layout into x16 (or back)."},
    {"qx16", py_qx16, METH_VARARGS, "qx16(fmt) -> (supported, native): the x16 layout for this format."},
    {NULL, NULL, 0, NULL},
};
