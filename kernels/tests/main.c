/* lmk_tests [family ...]: runs every kernel family's tests (or the named ones) on each ISA the
 * CPU supports, against the scalar references. Ends with "N passed, N failed". */
#include "harness.h"

#include <string.h>

#define FAMILIES(X) X(threads) X(fp8) X(matmul) X(quant) X(norm) X(softmax) X(rope) X(act) X(attention) X(scratch)

#define DECLARE(name) void test_##name(void);
FAMILIES(DECLARE)

typedef struct {
    const char *name;
    void (*run)(void);
} family;

#define ENTRY(name) {#name, test_##name},
static const family families[] = {FAMILIES(ENTRY)};

int main(int argc, char **argv) {
    printf("lmk tests: best ISA %s, %d threads\n", lmk_isa_name(lmk_isa_best()), lmk_threads_get());
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], families[i].name) == 0;
        if (!wanted) continue;
        printf("== %s\n", families[i].name);
        rng_seed(0x5EED0000u + (uint64_t)i);
        families[i].run();
        lmk_isa_set(lmk_isa_best());
    }
    printf("%d passed, %d failed\n", lmk_test_passed, lmk_test_failed);
    return lmk_test_failed ? 1 : 0;
}
