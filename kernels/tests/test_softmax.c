#include "harness.h"

/* Placeholder until the softmax family lands: fails so that it cannot pass unnoticed. */
void test_softmax(void) { expect_true("softmax tests exist", 0); }
