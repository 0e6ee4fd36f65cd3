#include "harness.h"

/* Placeholder until the fp8 family lands: fails so that it cannot pass unnoticed. */
void test_fp8(void) { expect_true("fp8 tests exist", 0); }
