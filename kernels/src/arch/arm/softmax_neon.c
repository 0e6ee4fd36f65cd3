/* Row softmax, NEON: the shared body (arch/softmax_body.h) over 4 lanes; tails through a padded
 * buffer. */
#include "elementwise.h"
#include "vec_neon.h"

#define SOFTMAX_NAME(base) base##_neon
#include "arch/softmax_body.h"
