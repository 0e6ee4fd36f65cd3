/* Activation spans, AVX-512: the shared body (arch/act_body.h) over 16 lanes, masked tails. */
#include "elementwise.h"
#include "vec_avx512.h"

#define ACT_NAME(base) base##_avx512
#include "arch/act_body.h"
