/* Binding of the fp8 family. Placeholder until the family lands. */
#include "bind.h"

PyMethodDef lmk_py_fp8_methods[] = {
    {NULL, NULL, 0, NULL},
};
