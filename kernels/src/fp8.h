/* Private to the fp8 family (fp8.c and its arch paths) and to attention, which decodes f16 and
 * fp8 K/V tiles with these same paths. Not part of the public API. */
#ifndef LMK_FP8_H
#define LMK_FP8_H

#include "internal.h"

/* One entry per conversion, filled for each ISA this architecture builds. */
typedef struct {
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*fp8_from_f32)(const float *x, uint8_t *y, int64_t n);
    void (*fp8_to_f32)(const uint8_t *x, float *y, int64_t n);
    void (*fp8_from_f16)(const uint16_t *x, uint8_t *y, int64_t n);
    void (*fp8_to_f16)(const uint8_t *x, uint16_t *y, int64_t n);
} lmk_fp8_paths;

/* The table for the active ISA. */
const lmk_fp8_paths *lmk_fp8_active(void);

/* Scalar element conversions: the arch paths finish their tails with these. */
void lmk_f32_to_f16_scalar(const float *x, uint16_t *y, int64_t n);
void lmk_f16_to_f32_scalar(const uint16_t *x, float *y, int64_t n);

#if LMK_X86
extern const lmk_fp8_paths lmk_fp8_paths_avx2, lmk_fp8_paths_avx512;
#endif
#if LMK_ARM
extern const lmk_fp8_paths lmk_fp8_paths_neon;
#endif

#endif
