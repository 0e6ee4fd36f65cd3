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

/* A call's temporaries. While the calling thread has a scratch region set (lmk_scratch_use:
 * lmk_model_forward sets its workspace's tail), lmk_tmp takes 64-byte aligned blocks from it,
 * last taken first given back (lmk_tmp_free), so a step allocates nothing and what it needs is
 * known before it runs; a request beyond the room left, or with no region set, goes to the heap.
 * Only the thread that set the region takes from it: kernels take their temporaries before they
 * hand work to the pool. */
typedef struct {
    char *base;    /* 64-byte aligned */
    int64_t size;  /* bytes */
    int64_t used;  /* bytes taken, a multiple of 64 */
} lmk_scratch;

lmk_scratch *lmk_scratch_use(lmk_scratch *s);   /* sets the thread's region (NULL: none); returns the previous */
void *lmk_tmp(int64_t bytes);
void lmk_tmp_free(void *p);
/* The room lmk_tmp(bytes) takes from a region: the functions below add these. */
static inline int64_t lmk_tmp_room(int64_t bytes) { return (LMK_MAX(bytes, (int64_t)1) + 63) / 64 * 64; }

/* The room each matmul the model step calls takes from a region for these sizes, at the current
 * thread count (lmk_threads_get); -1 for arguments it refuses. lmk_matmul_tmp_bytes: type 0 is
 * lmk_matmul_f32, an lmk_half lmk_matmul_half. (lmk_attention_tmp_bytes is public.) */
int64_t lmk_matmul_tmp_bytes(int type, int64_t M, int64_t N, int64_t K);
int64_t lmk_qmatmul_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K);
int64_t lmk_qmatmul_x16_tmp_bytes(lmk_qfmt fmt, int64_t M, int64_t N, int64_t K);

#endif /* LMK_INTERNAL_H */
