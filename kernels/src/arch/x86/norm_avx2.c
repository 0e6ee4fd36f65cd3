/* RMSNorm and LayerNorm rows, AVX2 + FMA: the shared body (arch/norm_body.h) over 8 lanes,
 * masked tails. */
#include "elementwise.h"
#include "vec_avx2.h"

#define NORM_NAME(base) base##_avx2
#include "arch/norm_body.h"
