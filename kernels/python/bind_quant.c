/* Binding of the quant family. Placeholder until the family lands. */
#include "bind.h"

PyMethodDef lmk_py_quant_methods[] = {
    {NULL, NULL, 0, NULL},
};
