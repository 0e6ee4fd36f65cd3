/* CPU feature detection and the active-ISA switch every dispatching entry point reads. */
#include "internal.h"

#include <stdlib.h>

#if LMK_X86
#include <cpuid.h>
#endif
#if LMK_ARM && defined(__linux__)
#include <sys/auxv.h>
#endif

static const char *const isa_names[LMK_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

/* -1: not probed yet. Otherwise the active lmk_isa. Read with relaxed atomics: a change is a
 * test or benchmark switching paths between calls, not a data race on a kernel's inputs. */
static int active_isa = -1;

const char *lmk_status_str(lmk_status s) {
    switch (s) {
    case LMK_OK: return "ok";
    case LMK_ERR_ARG: return "invalid argument";
    case LMK_ERR_NOMEM: return "out of memory";
    case LMK_ERR_UNSUPPORTED: return "not supported on this CPU or build";
    }
    return "unknown status";
}

const char *lmk_isa_name(lmk_isa isa) {
    return (unsigned)isa < LMK_ISA_COUNT ? isa_names[isa] : "unknown";
}

#if LMK_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int x86_has(lmk_isa isa) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;               /* OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int avx2 = (b >> 5) & 1;
    if (isa == LMK_ISA_AVX2) return avx2;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const int os_zmm = (xcr0 & 0xE0) == 0xE0;        /* opmask, ZMM0-15 high, ZMM16-31 */
    return avx2 && f && dq && bw && vl && os_zmm;
}
#endif

int lmk_isa_supported(lmk_isa isa) {
    switch (isa) {
    case LMK_ISA_SCALAR: return 1;
#if LMK_X86
    case LMK_ISA_AVX2:
    case LMK_ISA_AVX512: return x86_has(isa);
#endif
#if LMK_ARM
    case LMK_ISA_NEON: return 1;                     /* Advanced SIMD is mandatory on AArch64 */
#endif
    default: return 0;
    }
}

lmk_isa lmk_isa_best(void) {
    static const lmk_isa order[] = {LMK_ISA_AVX512, LMK_ISA_AVX2, LMK_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (lmk_isa_supported(order[i])) return order[i];
    return LMK_ISA_SCALAR;
}

/* LMK_ISA=scalar|avx2|avx512|neon in the environment picks the starting path (for tests and
 * for ruling out a SIMD path in the field); an unknown or unsupported name is ignored. */
static lmk_isa initial_isa(void) {
    const char *env = getenv("LMK_ISA");
    if (env)
        for (int i = 0; i < LMK_ISA_COUNT; i++)
            if (strcmp(env, isa_names[i]) == 0 && lmk_isa_supported((lmk_isa)i)) return (lmk_isa)i;
    return lmk_isa_best();
}

lmk_isa lmk_isa_active(void) {
    int isa = __atomic_load_n(&active_isa, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = (int)initial_isa();
        __atomic_store_n(&active_isa, isa, __ATOMIC_RELAXED);
    }
    return (lmk_isa)isa;
}

lmk_status lmk_isa_set(lmk_isa isa) {
    if ((unsigned)isa >= LMK_ISA_COUNT) return LMK_ERR_ARG;
    if (!lmk_isa_supported(isa)) return LMK_ERR_UNSUPPORTED;
    __atomic_store_n(&active_isa, (int)isa, __ATOMIC_RELAXED);
    return LMK_OK;
}

void *lmk_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

void lmk_free(void *p) { free(p); }

/* ---------------------------------------------------------------- a call's temporaries */

static __thread lmk_scratch *scratch;   /* the calling thread's region, while a step runs */
static int64_t heap_temporaries;        /* atomic: lmk_tmp requests a region set could not hold */

lmk_scratch *lmk_scratch_use(lmk_scratch *s) {
    lmk_scratch *previous = scratch;
    scratch = s;
    return previous;
}

void *lmk_tmp(int64_t bytes) {
    lmk_scratch *s = scratch;
    if (bytes < 0) return NULL;
    if (s) {
        const int64_t room = lmk_tmp_room(bytes);
        if (room <= s->size - s->used) {
            void *p = s->base + s->used;
            s->used += room;
            return p;
        }
        __atomic_add_fetch(&heap_temporaries, 1, __ATOMIC_RELAXED);
    }
    return lmk_alloc((size_t)bytes);
}

void lmk_tmp_free(void *p) {
    lmk_scratch *s = scratch;
    if (s && (char *)p >= s->base && (char *)p < s->base + s->size) {
        s->used = (char *)p - s->base;   /* last taken, first given back: this and all after it */
        return;
    }
    lmk_free(p);
}

int64_t lmk_heap_temporaries(void) { return __atomic_load_n(&heap_temporaries, __ATOMIC_RELAXED); }
