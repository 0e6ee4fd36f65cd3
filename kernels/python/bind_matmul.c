/* Binding of the matmul family. Placeholder until the family lands. */
#include "bind.h"

PyMethodDef lmk_py_matmul_methods[] = {
    {NULL, NULL, 0, NULL},
};
