/* livemind._native: the module object, joined from each family's method table. */
#include "bind.h"

#include <string.h>

int lmk_py_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t min_bytes, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Format(PyExc_ValueError, "%s must be a C-contiguous%s buffer", name, writable ? " writable" : "");
        view->obj = NULL;
        return 0;
    }
    if (min_bytes < 0 || view->len < min_bytes) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, needs %zd", name, view->len, min_bytes);
        PyBuffer_Release(view);
        view->obj = NULL;
        return 0;
    }
    return 1;
}

void lmk_py_release(Py_buffer *views, int n) {
    for (int i = 0; i < n; i++)
        if (views[i].obj) PyBuffer_Release(&views[i]);
}

PyObject *lmk_py_status(lmk_status s, const char *op) {
    switch (s) {
    case LMK_OK: Py_RETURN_NONE;
    case LMK_ERR_ARG: PyErr_Format(PyExc_ValueError, "%s: invalid argument", op); return NULL;
    case LMK_ERR_NOMEM: PyErr_Format(PyExc_MemoryError, "%s: out of memory", op); return NULL;
    case LMK_ERR_UNSUPPORTED: PyErr_Format(PyExc_RuntimeError, "%s: %s", op, lmk_status_str(s)); return NULL;
    }
    PyErr_Format(PyExc_RuntimeError, "%s: unknown status %d", op, (int)s);
    return NULL;
}

/* ---------------------------------------------------------------- core: ISA and threads */

static PyObject *py_isa_active(PyObject *self, PyObject *args) { return PyUnicode_FromString(lmk_isa_name(lmk_isa_active())); }

static PyObject *py_isa_supported(PyObject *self, PyObject *args) {
    PyObject *names = PyList_New(0);
    for (int i = LMK_ISA_COUNT - 1; names && i >= 0; i--) {
        if (!lmk_isa_supported((lmk_isa)i)) continue;
        PyObject *s = PyUnicode_FromString(lmk_isa_name((lmk_isa)i));
        if (!s || PyList_Append(names, s) != 0) Py_CLEAR(names);
        Py_XDECREF(s);
    }
    return names;
}

static PyObject *py_isa_set(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int i = 0; i < LMK_ISA_COUNT; i++)
        if (strcmp(name, lmk_isa_name((lmk_isa)i)) == 0) return lmk_py_status(lmk_isa_set((lmk_isa)i), "set_isa");
    return lmk_py_status(LMK_ERR_ARG, "set_isa");
}

static PyObject *py_threads_get(PyObject *self, PyObject *args) { return PyLong_FromLong(lmk_threads_get()); }

static PyObject *py_threads_set(PyObject *self, PyObject *args) {
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    lmk_status s;
    Py_BEGIN_ALLOW_THREADS
    s = lmk_threads_set(n);
    Py_END_ALLOW_THREADS
    return lmk_py_status(s, "set_threads");
}

static PyObject *py_cpu_count(PyObject *self, PyObject *args) { return PyLong_FromLong(lmk_cpu_count()); }

static PyObject *py_threads_cap_local(PyObject *self, PyObject *args) {
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    return PyLong_FromLong(lmk_threads_cap_local(n));
}

PyMethodDef lmk_py_core_methods[] = {
    {"isa_active", py_isa_active, METH_NOARGS, "Name of the active ISA."},
    {"isa_supported", py_isa_supported, METH_NOARGS, "Names of the ISAs this CPU supports, best first."},
    {"isa_set", py_isa_set, METH_VARARGS, "Force the ISA by name."},
    {"threads_get", py_threads_get, METH_NOARGS, "Threads in the kernel pool."},
    {"threads_set", py_threads_set, METH_VARARGS, "Resize the kernel pool (n <= 0: all CPUs)."},
    {"cpu_count", py_cpu_count, METH_NOARGS, "CPUs in this process's affinity mask."},
    {"threads_cap_local", py_threads_cap_local, METH_VARARGS, "Cap the threads of kernel calls from this thread (0: none); returns the previous cap."},
    {NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- the module */

static PyMethodDef *const tables[] = {
    lmk_py_core_methods, lmk_py_fp8_methods, lmk_py_matmul_methods,
    lmk_py_quant_methods, lmk_py_elementwise_methods, lmk_py_attention_methods,
    lmk_py_model_methods,
};

static struct PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "livemind._native",
                                           "LiveMind's SIMD kernels (lmk). Use livemind.kernels.", -1, NULL};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&native_module);
    if (!m) return NULL;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        if (PyModule_AddFunctions(m, tables[t]) != 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
