/* Binding of the fp8 family. The Python layer (livemind/kernels/_fp8.py) checks dtypes and
 * allocates the output; this checks that both buffers hold n elements and calls lmk. */
#include "bind.h"

#include <stdint.h>

typedef void (*convert_fn)(const void *x, void *y, int64_t n);

/* (x, y, n) → fn(x, y, n) without the GIL; x holds n elements of in_size bytes, y of out_size. */
static PyObject *call_convert(PyObject *args, convert_fn fn, Py_ssize_t in_size, Py_ssize_t out_size) {
    PyObject *ox, *oy;
    long long n;
    if (!PyArg_ParseTuple(args, "OOL", &ox, &oy, &n)) return NULL;
    if (n < 0 || n > PY_SSIZE_T_MAX / 4) {
        PyErr_Format(PyExc_ValueError, "n must be in [0, %zd], got %lld", PY_SSIZE_T_MAX / 4, n);
        return NULL;
    }
    Py_buffer v[2] = {{0}};
    if (!lmk_py_buffer(ox, &v[0], 0, (Py_ssize_t)n * in_size, "x") ||
        !lmk_py_buffer(oy, &v[1], 1, (Py_ssize_t)n * out_size, "y")) {
        lmk_py_release(v, 2);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    fn(v[0].buf, v[1].buf, (int64_t)n);
    Py_END_ALLOW_THREADS
    lmk_py_release(v, 2);
    Py_RETURN_NONE;
}

/* The lmk conversions take typed pointers; these adapt them to one signature. */
static void enc_f32(const void *x, void *y, int64_t n) { lmk_fp8_from_f32(x, y, n); }
static void enc_f32_ref(const void *x, void *y, int64_t n) { lmk_fp8_from_f32_ref(x, y, n); }
static void enc_f16(const void *x, void *y, int64_t n) { lmk_fp8_from_f16(x, y, n); }
static void dec_f32(const void *x, void *y, int64_t n) { lmk_fp8_to_f32(x, y, n); }
static void dec_f32_ref(const void *x, void *y, int64_t n) { lmk_fp8_to_f32_ref(x, y, n); }
static void dec_f16(const void *x, void *y, int64_t n) { lmk_fp8_to_f16(x, y, n); }
static void to_f16(const void *x, void *y, int64_t n) { lmk_f32_to_f16_n(x, y, n); }
static void from_f16(const void *x, void *y, int64_t n) { lmk_f16_to_f32_n(x, y, n); }

static PyObject *py_fp8_from_f32(PyObject *s, PyObject *a) { return call_convert(a, enc_f32, 4, 1); }
static PyObject *py_fp8_from_f32_ref(PyObject *s, PyObject *a) { return call_convert(a, enc_f32_ref, 4, 1); }
static PyObject *py_fp8_from_f16(PyObject *s, PyObject *a) { return call_convert(a, enc_f16, 2, 1); }
static PyObject *py_fp8_to_f32(PyObject *s, PyObject *a) { return call_convert(a, dec_f32, 1, 4); }
static PyObject *py_fp8_to_f32_ref(PyObject *s, PyObject *a) { return call_convert(a, dec_f32_ref, 1, 4); }
static PyObject *py_fp8_to_f16(PyObject *s, PyObject *a) { return call_convert(a, dec_f16, 1, 2); }
static PyObject *py_f32_to_f16(PyObject *s, PyObject *a) { return call_convert(a, to_f16, 4, 2); }
static PyObject *py_f16_to_f32(PyObject *s, PyObject *a) { return call_convert(a, from_f16, 2, 4); }

PyMethodDef lmk_py_fp8_methods[] = {
    {"fp8_from_f32", py_fp8_from_f32, METH_VARARGS, "fp8_from_f32(x, y, n): float32 (n) → E4M3FN codes (n)."},
    {"fp8_from_f32_ref", py_fp8_from_f32_ref, METH_VARARGS, "fp8_from_f32_ref(x, y, n): the scalar reference."},
    {"fp8_from_f16", py_fp8_from_f16, METH_VARARGS, "fp8_from_f16(x, y, n): float16 (n) → E4M3FN codes (n)."},
    {"fp8_to_f32", py_fp8_to_f32, METH_VARARGS, "fp8_to_f32(x, y, n): E4M3FN codes (n) → float32 (n)."},
    {"fp8_to_f32_ref", py_fp8_to_f32_ref, METH_VARARGS, "fp8_to_f32_ref(x, y, n): the scalar reference."},
    {"fp8_to_f16", py_fp8_to_f16, METH_VARARGS, "fp8_to_f16(x, y, n): E4M3FN codes (n) → float16 (n)."},
    {"f32_to_f16", py_f32_to_f16, METH_VARARGS, "f32_to_f16(x, y, n): float32 → IEEE float16, nearest even."},
    {"f16_to_f32", py_f16_to_f32, METH_VARARGS, "f16_to_f32(x, y, n): IEEE float16 → float32."},
    {NULL, NULL, 0, NULL},
};
