/* The C test runner's helpers: a seeded RNG, comparisons with named tolerances, result lines.
 * Each family's test_<family>.c defines `void test_<family>(void)`; main.c runs them all. */
#ifndef LMK_HARNESS_H
#define LMK_HARNESS_H

#include "lmk.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern int lmk_test_passed, lmk_test_failed;

/* xorshift64*: reproducible data on every platform. */
void rng_seed(uint64_t seed);
float rng_uniform(float lo, float hi);
float rng_normal(void);
void fill_uniform(float *x, int64_t n, float lo, float hi);
void fill_normal(float *x, int64_t n, float scale);

/* Compares got with want elementwise: |got - want| <= atol + rtol * |want|. Prints one result
 * line "PASS|FAIL <what> [<isa>] max_abs=… max_rel=…" and counts it. Returns 1 on pass. */
int expect_close(const char *what, const float *got, const float *want, int64_t n, double atol,
                 double rtol);
/* Byte-exact comparison, same reporting. */
int expect_equal_bytes(const char *what, const void *got, const void *want, size_t n);
/* Records a plain condition. */
int expect_true(const char *what, int cond);

/* Runs body once per ISA this CPU supports, with that ISA active; restores the best after.
 * Inside, `isa` names the current one. Result lines carry the ISA. */
#define FOR_EACH_ISA(isa)                                                                 \
    for (int isa##_i = 0; isa##_i < LMK_ISA_COUNT; isa##_i++)                             \
        if (lmk_isa_supported((lmk_isa)isa##_i) && lmk_isa_set((lmk_isa)isa##_i) == LMK_OK && \
            test_set_isa_label((lmk_isa)isa##_i))                                         \
            for (lmk_isa isa = (lmk_isa)isa##_i, *isa##_once = &isa; isa##_once;         \
                 isa##_once = NULL, lmk_isa_set(lmk_isa_best()))

int test_set_isa_label(lmk_isa isa);

/* Awkward sizes every family should cover. */
static const int64_t LMK_ODD_SIZES[] = {1, 3, 17, 129, 4097};
#define LMK_N_ODD_SIZES (int64_t)(sizeof LMK_ODD_SIZES / sizeof LMK_ODD_SIZES[0])

#endif
