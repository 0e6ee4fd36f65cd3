/* Binding of the attention family. Placeholder until the family lands. */
#include "bind.h"

PyMethodDef lmk_py_attention_methods[] = {
    {NULL, NULL, 0, NULL},
};
