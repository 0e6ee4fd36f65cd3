/* RMSNorm and LayerNorm rows, AVX-512: the shared body (arch/norm_body.h) over 16 lanes, masked
 * tails. */
#include "elementwise.h"
#include "vec_avx512.h"

#define NORM_NAME(base) base##_avx512
#include "arch/norm_body.h"
