/* Quant family, AVX-512 with VNNI: the tile kernels of quant_avx512.h on vpdpbusd / vpdpwssd.
 * The build gives *_avx512.c files F/BW/DQ/VL only; VNNI is switched on for this file alone, and
 * quant.c calls in only when lmk_cpu_avx512vnni() finds it (cpuid leaf 7, ECX bit 11). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif

#define QV_VNNI 1
#include "quant_avx512.h"

#include <cpuid.h>

lmk_qkernels lmk_qkernels_avx512vnni(lmk_qfmt fmt) { return qv_kernels(fmt); }

/* Asked once; the AVX-512 state it needs is already checked by cpu.c before this path is active. */
int lmk_cpu_avx512vnni(void) {
    static int has = -1;
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        unsigned a, b, c, d;
        h = __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1);
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    return h;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
