/* Row softmax, AVX-512: the shared body (arch/softmax_body.h) over 16 lanes, masked tails. */
#include "elementwise.h"
#include "vec_avx512.h"

#define SOFTMAX_NAME(base) base##_avx512
#include "arch/softmax_body.h"
