/* Row softmax, AVX2 + FMA: the shared body (arch/softmax_body.h) over 8 lanes, masked tails. */
#include "elementwise.h"
#include "vec_avx2.h"

#define SOFTMAX_NAME(base) base##_avx2
#include "arch/softmax_body.h"
