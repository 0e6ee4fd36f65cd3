/* Binding of the elementwise families: norm, softmax, rope, act. Sizes arrive as Python ints
 * from livemind/kernels/_elementwise.py, which has already checked shapes; here each buffer is
 * checked to hold what those sizes claim before the GIL is released. */
#include "bind.h"

#include <stdint.h>

/* bytes = a · b · elem_size, or 0 with a ValueError when a size is negative or the product
 * overflows. */
static int byte_count(const char *op, long long a, long long b, Py_ssize_t elem_size, Py_ssize_t *bytes) {
    if (a < 0 || b < 0 || (a > 0 && b > (long long)(PY_SSIZE_T_MAX / elem_size) / a)) {
        PyErr_Format(PyExc_ValueError, "%s: invalid sizes %lld x %lld", op, a, b);
        return 0;
    }
    *bytes = (Py_ssize_t)(a * b) * elem_size;
    return 1;
}

static PyObject *py_softmax(PyObject *self, PyObject *args) {
    PyObject *xo, *yo;
    long long rows, n;
    Py_buffer v[2] = {{0}};
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "OOLL", &xo, &yo, &rows, &n)) return NULL;
    if (!byte_count("softmax", rows, n, 4, &bytes) || !lmk_py_buffer(xo, &v[0], 0, bytes, "x") ||
        !lmk_py_buffer(yo, &v[1], 1, bytes, "y")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_softmax(v[0].buf, v[1].buf, rows, n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "softmax");
}

/* rmsnorm(x, w, y, rows, n, eps) and layernorm(x, w, b or None, y, rows, n, eps) */
static PyObject *norm(PyObject *args, int layer) {
    PyObject *xo, *wo, *bo = Py_None, *yo;
    long long rows, n;
    float eps;
    Py_buffer v[4] = {{0}};
    Py_ssize_t bytes, row_bytes;
    const char *op = layer ? "layernorm" : "rmsnorm";
    int ok = layer ? PyArg_ParseTuple(args, "OOOOLLf", &xo, &wo, &bo, &yo, &rows, &n, &eps)
                   : PyArg_ParseTuple(args, "OOOLLf", &xo, &wo, &yo, &rows, &n, &eps);
    if (!ok) return NULL;
    if (!byte_count(op, rows, n, 4, &bytes) || !byte_count(op, 1, n, 4, &row_bytes) ||
        !lmk_py_buffer(xo, &v[0], 0, bytes, "x") || !lmk_py_buffer(wo, &v[1], 0, row_bytes, "w") ||
        (bo != Py_None && !lmk_py_buffer(bo, &v[2], 0, row_bytes, "b")) ||
        !lmk_py_buffer(yo, &v[3], 1, bytes, "y")) {
        lmk_py_release(v, 4);
        return NULL;
    }
    const float *b = bo != Py_None ? v[2].buf : NULL;
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = layer ? lmk_layernorm(v[0].buf, v[1].buf, b, v[3].buf, rows, n, eps)
              : lmk_rmsnorm(v[0].buf, v[1].buf, v[3].buf, rows, n, eps);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 4);
    return lmk_py_status(s, op);
}

static PyObject *py_rmsnorm(PyObject *self, PyObject *args) { return norm(args, 0); }
static PyObject *py_layernorm(PyObject *self, PyObject *args) { return norm(args, 1); }

/* rope(x, positions, T, H, D, theta, style): x is rotated in place. */
static PyObject *py_rope(PyObject *self, PyObject *args) {
    PyObject *xo, *po;
    long long T, H, D;
    float theta;
    int style;
    Py_buffer v[2] = {{0}};
    Py_ssize_t head_bytes, bytes, pos_bytes;
    if (!PyArg_ParseTuple(args, "OOLLLfi", &xo, &po, &T, &H, &D, &theta, &style)) return NULL;
    if (!byte_count("rope", H, D, 4, &head_bytes) || !byte_count("rope", T, head_bytes, 1, &bytes) ||
        !byte_count("rope", T, 1, 4, &pos_bytes) || !lmk_py_buffer(xo, &v[0], 1, bytes, "x") ||
        !lmk_py_buffer(po, &v[1], 0, pos_bytes, "positions")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_rope(v[0].buf, v[1].buf, T, H, D, theta, (lmk_rope_style)style);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "rope");
}

/* swiglu / geglu (gate, up, y, n) */
static PyObject *gated(PyObject *args, const char *op,
                       lmk_status (*fn)(const float *, const float *, float *, int64_t)) {
    PyObject *go, *uo, *yo;
    long long n;
    Py_buffer v[3] = {{0}};
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "OOOL", &go, &uo, &yo, &n)) return NULL;
    if (!byte_count(op, 1, n, 4, &bytes) || !lmk_py_buffer(go, &v[0], 0, bytes, "gate") ||
        !lmk_py_buffer(uo, &v[1], 0, bytes, "up") || !lmk_py_buffer(yo, &v[2], 1, bytes, "y")) {
        lmk_py_release(v, 3);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = fn(v[0].buf, v[1].buf, v[2].buf, n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 3);
    return lmk_py_status(s, op);
}

static PyObject *py_swiglu(PyObject *self, PyObject *args) { return gated(args, "swiglu", lmk_swiglu); }
static PyObject *py_geglu(PyObject *self, PyObject *args) { return gated(args, "geglu", lmk_geglu); }

static PyObject *py_gelu(PyObject *self, PyObject *args) {
    PyObject *xo, *yo;
    long long n;
    Py_buffer v[2] = {{0}};
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "OOL", &xo, &yo, &n)) return NULL;
    if (!byte_count("gelu", 1, n, 4, &bytes) || !lmk_py_buffer(xo, &v[0], 0, bytes, "x") ||
        !lmk_py_buffer(yo, &v[1], 1, bytes, "y")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_gelu(v[0].buf, v[1].buf, n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "gelu");
}

static PyObject *py_softcap(PyObject *self, PyObject *args) {
    PyObject *xo, *yo;
    long long n;
    float cap;
    Py_buffer v[2] = {{0}};
    Py_ssize_t bytes;
    if (!PyArg_ParseTuple(args, "OOLf", &xo, &yo, &n, &cap)) return NULL;
    if (!byte_count("softcap", 1, n, 4, &bytes) || !lmk_py_buffer(xo, &v[0], 0, bytes, "x") ||
        !lmk_py_buffer(yo, &v[1], 1, bytes, "y")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_softcap(v[0].buf, v[1].buf, n, cap);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    return lmk_py_status(s, "softcap");
}

PyMethodDef lmk_py_elementwise_methods[] = {
    {"softmax", py_softmax, METH_VARARGS, "softmax(x, y, rows, n): y = row softmax of x (float32)."},
    {"rmsnorm", py_rmsnorm, METH_VARARGS, "rmsnorm(x, w, y, rows, n, eps)."},
    {"layernorm", py_layernorm, METH_VARARGS, "layernorm(x, w, b or None, y, rows, n, eps)."},
    {"rope", py_rope, METH_VARARGS, "rope(x, positions, T, H, D, theta, style): rotates x in place."},
    {"swiglu", py_swiglu, METH_VARARGS, "swiglu(gate, up, y, n): y = silu(gate) * up."},
    {"geglu", py_geglu, METH_VARARGS, "geglu(gate, up, y, n): y = gelu_tanh(gate) * up."},
    {"gelu", py_gelu, METH_VARARGS, "gelu(x, y, n): y = gelu_tanh(x)."},
    {"softcap", py_softcap, METH_VARARGS, "softcap(x, y, n, cap): y = cap * tanh(x / cap)."},
    {NULL, NULL, 0, NULL},
};
