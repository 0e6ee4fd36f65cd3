/* Shared pieces of the CPython binding (livemind._native). The binding stays thin: the Python
 * layer (livemind/kernels) checks shapes and dtypes and allocates outputs; these functions check
 * that each buffer is C-contiguous and large enough, release the GIL, and call lmk. */
#ifndef LMK_BIND_H
#define LMK_BIND_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "lmk.h"

/* Gets a C-contiguous buffer of at least `min_bytes` from obj (writable if asked). On failure
 * sets a ValueError naming `name` and returns 0. Release with PyBuffer_Release. */
int lmk_py_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t min_bytes, const char *name);

/* Turns a status into None (LMK_OK) or a raised exception: the one place statuses map to Python
 * errors (LMK_ERR_ARG → ValueError, NOMEM → MemoryError, UNSUPPORTED → RuntimeError). */
PyObject *lmk_py_status(lmk_status s, const char *op);

/* Releases every view in `views` that was acquired (view->obj != NULL). */
void lmk_py_release(Py_buffer *views, int n);

/* Each family's method table, terminated by a {NULL} entry; module.c joins them. */
extern PyMethodDef lmk_py_core_methods[];
extern PyMethodDef lmk_py_fp8_methods[];
extern PyMethodDef lmk_py_matmul_methods[];
extern PyMethodDef lmk_py_quant_methods[];
extern PyMethodDef lmk_py_elementwise_methods[];
extern PyMethodDef lmk_py_attention_methods[];
extern PyMethodDef lmk_py_model_methods[];

#endif
