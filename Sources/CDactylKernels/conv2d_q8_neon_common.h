// The NEON output stage, shared by the smull and the sdot micro-kernels (included, not compiled alone).
#ifndef DACTYL_CONV2D_Q8_NEON_COMMON_H
#define DACTYL_CONV2D_Q8_NEON_COMMON_H
#include <arm_neon.h>
#include "conv2d_q8_internal.h"

// rndnu in 64-bit lanes is srshl by -shift: (x + 2^(s-1)) >> s, exactly the reference's rule.
static inline __attribute__((always_inline)) void dactyl_neon_requantize4(
    const dactyl_conv2d_q8 *conv, int32x4_t acc, const int32_t *multipliers, const int32_t *shifts,
    const int8_t *residual, int8_t *output, size_t count) {
    int32x4_t multiplier = vld1q_s32(multipliers);
    int32x4_t negative_shift = vnegq_s32(vld1q_s32(shifts));
    int64x2_t low = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(multiplier)), vmovl_s32(vget_low_s32(negative_shift)));
    int64x2_t high = vrshlq_s64(vmull_high_s32(acc, multiplier), vmovl_high_s32(negative_shift));
    if (residual) {
        int8_t bytes[8] = {0};
        memcpy(bytes, residual, count < 4 ? count : 4);
        int32x4_t r = vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(bytes))));
        r = vsubq_s32(r, vdupq_n_s32(conv->residual_zero_point));
        int32x2_t residual_multiplier = vdup_n_s32(conv->residual_multiplier);
        int64x2_t residual_shift = vdupq_n_s64(-(int64_t)conv->residual_shift);
        low = vaddq_s64(low, vrshlq_s64(vmull_s32(vget_low_s32(r), residual_multiplier), residual_shift));
        high = vaddq_s64(high, vrshlq_s64(vmull_s32(vget_high_s32(r), residual_multiplier), residual_shift));
    }
    int64x2_t zero_point = vdupq_n_s64(conv->output_zero_point);
    // Saturating to int32 first and clamping after gives the same as clamping the int64.
    int32x4_t value = vcombine_s32(vqmovn_s64(vaddq_s64(low, zero_point)), vqmovn_s64(vaddq_s64(high, zero_point)));
    int32_t lower = conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128;
    value = vminq_s32(vmaxq_s32(value, vdupq_n_s32(lower)), vdupq_n_s32(127));
    int8x8_t bytes = vmovn_s16(vcombine_s16(vmovn_s32(value), vdup_n_s16(0)));
    int8_t out[8];
    vst1_s8(out, bytes);
    memcpy(output, out, count < 4 ? count : 4);
}
#endif
