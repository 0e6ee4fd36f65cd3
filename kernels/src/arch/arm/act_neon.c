/* Activation spans, NEON: the shared body (arch/act_body.h) over 4 lanes; the tail through a
 * zero-padded buffer. */
#include "elementwise.h"
#include "vmath_neon.h"

#define VEC float32x4_t
#define W 4
#define V_LOAD vld1q_f32
#define V_STORE vst1q_f32
#define V_MUL vmulq_f32
#define V_SILU lmk_silu_neon
#define V_GELU lmk_gelu_neon
#define V_LOAD_PART lmk_load_part_neon
#define V_STORE_PART lmk_store_part_neon
#define ACT_NAME(base) base##_neon
#include "arch/act_body.h"
