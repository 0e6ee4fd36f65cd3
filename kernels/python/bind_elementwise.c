/* Binding of the elementwise family. Placeholder until the family lands. */
#include "bind.h"

PyMethodDef lmk_py_elementwise_methods[] = {
    {NULL, NULL, 0, NULL},
};
