/* Activation spans, AVX2 + FMA: the shared body (arch/act_body.h) over 8 lanes, masked tails. */
#include "elementwise.h"
#include "vec_avx2.h"

#define ACT_NAME(base) base##_avx2
#include "arch/act_body.h"
