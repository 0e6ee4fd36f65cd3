#include "harness.h"

typedef struct {
    int64_t *hits;   /* (n,) how often each index was visited */
} visit_ctx;

static void visit(void *p, int64_t begin, int64_t end) {
    visit_ctx *c = p;
    for (int64_t i = begin; i < end; i++) __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static int each_once(int64_t n, int64_t grain, int rounds) {
    int64_t *hits = calloc((size_t)(n ? n : 1), sizeof *hits);
    visit_ctx c = {hits};
    for (int r = 0; r < rounds; r++) lmk_parallel_for(n, grain, visit, &c);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= hits[i] == rounds;
    free(hits);
    return ok;
}

void test_threads(void) {
    const int threads[] = {1, 2, 3, 8};
    char what[96];
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        lmk_threads_set(threads[t]);
        for (int64_t s = 0; s < LMK_N_ODD_SIZES; s++) {
            snprintf(what, sizeof what, "parallel_for threads=%d n=%lld each index once x1000", threads[t],
                     (long long)LMK_ODD_SIZES[s]);
            expect_true(what, each_once(LMK_ODD_SIZES[s], 1, 1000));
        }
    }
    expect_true("threads_set rejects 100000", lmk_threads_set(100000) == LMK_ERR_ARG);
    lmk_threads_set(0);
    expect_true("threads_set(0) uses the CPUs of this process", lmk_threads_get() == lmk_cpu_count());
}
