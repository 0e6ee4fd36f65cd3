/* Private helpers shared by the kernel families. Not part of the public API. */
#ifndef LMK_INTERNAL_H
#define LMK_INTERNAL_H

#include "lmk.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define LMK_X86 1
#else
#define LMK_X86 0
#endif
#if defined(__aarch64__)
#define LMK_ARM 1
#else
#define LMK_ARM 0
#endif

/* LMK_SELECT(ref, avx2, avx512, neon) picks the implementation for the active ISA. Names of
 * paths this architecture does not build vanish in the preprocessor, so they need not exist. */
#if LMK_X86
#define LMK_SELECT(ref, avx2, avx512, neon)                            \
    (lmk_isa_active() == LMK_ISA_AVX512 ? (avx512)                      \
     : lmk_isa_active() == LMK_ISA_AVX2 ? (avx2)                        \
                                         : (ref))
#elif LMK_ARM
#define LMK_SELECT(ref, avx2, avx512, neon) (lmk_isa_active() == LMK_ISA_NEON ? (neon) : (ref))
#else
#define LMK_SELECT(ref, avx2, avx512, neon) (ref)
#endif

#define LMK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LMK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Size guards: every entry point rejects negative sizes and products that overflow. */
static inline int lmk_dims_ok(int64_t a, int64_t b) {
    return a >= 0 && b >= 0 && (a == 0 || b <= INT64_MAX / a);
}

/* 64-byte aligned scratch for the kernels that need it; free with lmk_free. */
void *lmk_alloc(size_t bytes);
void lmk_free(void *p);

#endif /* LMK_INTERNAL_H */
