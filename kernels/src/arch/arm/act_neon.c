/* Activation spans, NEON: the shared body (arch/act_body.h) over 4 lanes; the tail through a
 * zero-padded buffer. */
#include "elementwise.h"
#include "vec_neon.h"

#define ACT_NAME(base) base##_neon
#include "arch/act_body.h"
