/* RMSNorm and LayerNorm rows, NEON: the shared body (arch/norm_body.h) over 4 lanes; tails through
 * a zero-padded buffer. */
#include "elementwise.h"
#include "vec_neon.h"

#define NORM_NAME(base) base##_neon
#include "arch/norm_body.h"
