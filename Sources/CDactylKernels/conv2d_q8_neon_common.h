// The NEON output stage, shared by the smull and the sdot micro-kernels (included, not compiled alone).
#ifndef DACTYL_CONV2D_Q8_NEON_COMMON_H
#define DACTYL_CONV2D_Q8_NEON_COMMON_H
#include <arm_neon.h>
#include "conv2d_q8_internal.h"

// The constants of the output stage, made once per micro-kernel call (not once per pixel).
typedef struct dactyl_neon_output {
    int32x4_t zero_point;
    int8x8_t lower;
    int32x4_t residual_zero_point;
    int32x2_t residual_multiplier;
    int64x2_t residual_shift;
} dactyl_neon_output;

// One vector of 4 channels' multipliers and shifts (rndnu in 64-bit lanes is srshl by -shift).
typedef struct dactyl_neon_channels4 {
    int32x4_t multiplier;
    int64x2_t shift_low, shift_high;
} dactyl_neon_channels4;

static inline __attribute__((always_inline)) dactyl_neon_output dactyl_neon_output_make(const dactyl_conv2d_q8 *conv) {
    dactyl_neon_output out;
    out.zero_point = vdupq_n_s32(conv->output_zero_point);
    int32_t lower = conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128;
    out.lower = vdup_n_s8((int8_t)lower);
    out.residual_zero_point = vdupq_n_s32(conv->residual_zero_point);
    out.residual_multiplier = vdup_n_s32(conv->residual_multiplier);
    out.residual_shift = vdupq_n_s64(-(int64_t)conv->residual_shift);
    return out;
}

static inline __attribute__((always_inline)) dactyl_neon_channels4 dactyl_neon_channels4_load(const int32_t *multipliers, const int32_t *shifts) {
    dactyl_neon_channels4 c;
    c.multiplier = vld1q_s32(multipliers);
    int32x4_t negative_shift = vnegq_s32(vld1q_s32(shifts));
    c.shift_low = vmovl_s32(vget_low_s32(negative_shift));
    c.shift_high = vmovl_high_s32(negative_shift);
    return c;
}

// Requantises 4 accumulators, adds the residual (if any), clamps and stores `count` (<= 4 used)
// bytes, exactly the reference's rule: (x + 2^(s-1)) >> s in 64 bits.
static inline __attribute__((always_inline)) void dactyl_neon_requantize4(
    const dactyl_neon_output *stage, const dactyl_neon_channels4 *channels, int32x4_t acc,
    const int8_t *residual, int8_t *output, size_t count) {
    int64x2_t low = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(channels->multiplier)), channels->shift_low);
    int64x2_t high = vrshlq_s64(vmull_high_s32(acc, channels->multiplier), channels->shift_high);
    if (residual) {
        uint32_t word = 0;
        if (count >= 4) memcpy(&word, residual, 4);  // a constant size: one load, not a call
        else memcpy(&word, residual, count);
        int32x4_t r = vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(word)))));
        r = vsubq_s32(r, stage->residual_zero_point);
        low = vaddq_s64(low, vrshlq_s64(vmull_s32(vget_low_s32(r), stage->residual_multiplier), stage->residual_shift));
        high = vaddq_s64(high, vrshlq_s64(vmull_s32(vget_high_s32(r), stage->residual_multiplier), stage->residual_shift));
    }
    // The reference clamps value + zero point (int64) to [lower, 127]. Here: saturate to int32, add
    // the zero point saturating, saturate to int16 and to int8, then max with lower. The same:
    // within int32 minus the zero point's reach nothing saturates; beyond it both end at 127 or
    // at lower. 6 instructions, not 8.
    int32x4_t value = vqaddq_s32(vcombine_s32(vqmovn_s64(low), vqmovn_s64(high)), stage->zero_point);
    int16x4_t half = vqmovn_s32(value);
    int8x8_t bytes = vmax_s8(vqmovn_s16(vcombine_s16(half, half)), stage->lower);
    uint32_t word = vget_lane_u32(vreinterpret_u32_s8(bytes), 0);
    if (count >= 4) memcpy(output, &word, 4);
    else memcpy(output, &word, count);
}

static inline __attribute__((always_inline)) void dactyl_neon_store_vectors(
    const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int32_t *multipliers, const int32_t *shifts,
    int32x4_t acc[][4], const int PIXELS, const int VECTORS, const int WHOLE, const int RESIDUAL) {
    const dactyl_neon_output stage = dactyl_neon_output_make(conv);
    // Fully unrolled, so that acc[][] stays in registers: when clang left the 5 x 4 tile's
    // loops rolled, it kept the accumulators in memory through the whole kernel.
    _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) {
        size_t first = 4 * (size_t)v;
        if (!WHOLE && first >= tile->channels) break;
        const dactyl_neon_channels4 channels = dactyl_neon_channels4_load(multipliers + first, shifts + first);
        _Pragma("clang loop unroll(full)") for (int m = 0; m < PIXELS; m++) {
            if (!WHOLE && (size_t)m >= tile->valid) break;
            const int8_t *residual = WHOLE ? (RESIDUAL ? tile->residual[m] + first : NULL)
                                           : (tile->residual ? tile->residual[m] + first : NULL);
            dactyl_neon_requantize4(&stage, &channels, acc[m][v], residual, tile->output[m] + first,
                                    WHOLE ? 4 : tile->channels - first);
        }
    }
}

// Requantises and stores a micro-kernel's PIXELS x VECTORS accumulators (bias included). A whole
// tile (every pixel and channel stored: nearly all calls) takes code with no per-vector checks.
static inline __attribute__((always_inline)) void dactyl_neon_store_tile(
    const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int32_t *multipliers, const int32_t *shifts,
    int32x4_t acc[][4], const int PIXELS, const int VECTORS) {
    if (tile->valid == (size_t)PIXELS && tile->channels == (size_t)VECTORS * 4) {
        if (tile->residual) dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 1);
        else dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 0);
    } else {
        dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 0, 0);
    }
}
#endif
