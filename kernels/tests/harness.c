#include "harness.h"

#include <string.h>

int lmk_test_passed, lmk_test_failed;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static const char *isa_label = "-";

void rng_seed(uint64_t seed) { rng_state = seed ? seed : 0x9E3779B97F4A7C15ull; }

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((rng_next() >> 40) * (1.0 / 16777216.0));
}

float rng_normal(void) {
    double u1 = ((rng_next() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void fill_uniform(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(lo, hi);
}

void fill_normal(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * rng_normal();
}

int test_set_isa_label(lmk_isa isa) {
    isa_label = lmk_isa_name(isa);
    return 1;
}

static int record(int ok, const char *what, const char *detail) {
    ok ? lmk_test_passed++ : lmk_test_failed++;
    printf("%s %s [%s]%s%s\n", ok ? "PASS" : "FAIL", what, isa_label, detail[0] ? " " : "", detail);
    return ok;
}

int expect_close(const char *what, const float *got, const float *want, int64_t n, double atol,
                 double rtol) {
    double max_abs = 0, max_rel = 0;
    int64_t worst = -1;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], d = fabs(g - w);
        if (isnan(g) != isnan(w) || (!isnan(w) && !(d <= atol + rtol * fabs(w)))) {
            if (ok) worst = i;
            ok = 0;
        }
        if (!isnan(d)) {
            if (d > max_abs) max_abs = d;
            if (w != 0 && d / fabs(w) > max_rel) max_rel = d / fabs(w);
        }
    }
    char detail[160];
    if (ok)
        snprintf(detail, sizeof detail, "n=%lld max_abs=%.3g max_rel=%.3g", (long long)n, max_abs, max_rel);
    else
        snprintf(detail, sizeof detail, "n=%lld max_abs=%.3g max_rel=%.3g first_bad=%lld got=%.9g want=%.9g",
                 (long long)n, max_abs, max_rel, (long long)worst, got[worst], want[worst]);
    return record(ok, what, detail);
}

int expect_equal_bytes(const char *what, const void *got, const void *want, size_t n) {
    const unsigned char *g = got, *w = want;
    char detail[96] = "";
    for (size_t i = 0; i < n; i++)
        if (g[i] != w[i]) {
            snprintf(detail, sizeof detail, "bytes=%zu first_diff=%zu got=0x%02x want=0x%02x", n, i, g[i], w[i]);
            return record(0, what, detail);
        }
    snprintf(detail, sizeof detail, "bytes=%zu", n);
    return record(1, what, detail);
}

int expect_true(const char *what, int cond) { return record(cond, what, ""); }
