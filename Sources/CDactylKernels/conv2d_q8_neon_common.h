// The NEON output stage, shared by the smull and the sdot micro-kernels (included, not compiled alone).
#ifndef DACTYL_CONV2D_Q8_NEON_COMMON_H
#define DACTYL_CONV2D_Q8_NEON_COMMON_H
#include <arm_neon.h>
#include "conv2d_q8_internal.h"

// The output stage: v = rndnu(acc * m, s) [+ rndnu((r - r_zp) * m_r, s_r)] + zp, clamped, with
// rndnu(x, s) = (x * m + 2^(s-1)) >> s (int64). Two ways, both exact:
// - 64-bit lanes (any shift): smull, srshl by -s, narrow.
// - 32-bit lanes, XNNPACK's rndnu: srshl(sqdmulh(x << p, m), -(s + p - 31)), p = max(0, 32 - s).
//   sqdmulh(a, m) = floor(a * m / 2^31) (it saturates only for a = m = INT32_MIN), and for
//   k = s + p - 31 >= 1, floor((floor(y) + 2^(k-1)) / 2^k) = floor((y + 2^(k-1)) / 2^k): with
//   y = (x << p) * m / 2^31 that is (x * m + 2^(s-1)) >> s, if x << p does not overflow. The
//   accumulator takes p = 0, so every shift must be >= 32 (requant_32bit, checked at pack); the
//   residual's (r - r_zp), within +-255, takes p <= 14 (shift >= 18: residual_32bit) as a
//   multiply by 2^p (smull of int16 lanes, which also widens). Bounds, s >= 32:
//   |rndnu(acc * m, s)| <= 2^30 - 1 for |acc| <= 2^31, m < 2^31; s_r >= 18: |residual term| <=
//   255 * 2^31 / 2^18 + 1 < 2^22. So the sum is exact in int32 and the clamp below is unchanged.

// The constants of the output stage, made once per micro-kernel call (not once per pixel).
typedef struct dactyl_neon_output {
    int32x4_t zero_point;
    int8x8_t lower;
    // 64-bit lanes
    int32x4_t residual_zero_point;
    int32x2_t residual_multiplier;
    int64x2_t residual_shift;
    // 32-bit lanes
    int8x8_t residual_zero_point8;
    int16x4_t residual_scale;  // 2^p
    int32x4_t residual_multiplier4, residual_post_shift;  // -(s + p - 31)
} dactyl_neon_output;

// One vector of 4 channels' multipliers and shifts: in 64-bit lanes rndnu is srshl by -shift;
// in 32-bit lanes the post-shift is -(shift - 31).
typedef struct dactyl_neon_channels4 {
    int32x4_t multiplier;
    int64x2_t shift_low, shift_high;
    int32x4_t post_shift;
} dactyl_neon_channels4;

static inline __attribute__((always_inline)) dactyl_neon_output dactyl_neon_output_make(const dactyl_conv2d_q8 *conv, const int FAST) {
    dactyl_neon_output out;
    out.zero_point = vdupq_n_s32(conv->output_zero_point);
    int32_t lower = conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128;
    out.lower = vdup_n_s8((int8_t)lower);
    if (FAST) {
        int32_t shift = conv->residual_shift, pre_shift = shift >= 32 ? 0 : 32 - shift;
        if (pre_shift > 14) pre_shift = 14;  // not residual_32bit: unused
        out.residual_zero_point8 = vdup_n_s8((int8_t)conv->residual_zero_point);
        out.residual_scale = vdup_n_s16((int16_t)(1 << pre_shift));
        out.residual_multiplier4 = vdupq_n_s32(conv->residual_multiplier);
        out.residual_post_shift = vdupq_n_s32(31 - shift - pre_shift);
    } else {
        out.residual_zero_point = vdupq_n_s32(conv->residual_zero_point);
        out.residual_multiplier = vdup_n_s32(conv->residual_multiplier);
        out.residual_shift = vdupq_n_s64(-(int64_t)conv->residual_shift);
    }
    return out;
}

static inline __attribute__((always_inline)) dactyl_neon_channels4 dactyl_neon_channels4_load(const int32_t *multipliers, const int32_t *shifts,
                                                                                            const int FAST) {
    dactyl_neon_channels4 c;
    c.multiplier = vld1q_s32(multipliers);
    if (FAST) {
        c.post_shift = vsubq_s32(vdupq_n_s32(31), vld1q_s32(shifts));
    } else {
        int32x4_t negative_shift = vnegq_s32(vld1q_s32(shifts));
        c.shift_low = vmovl_s32(vget_low_s32(negative_shift));
        c.shift_high = vmovl_high_s32(negative_shift);
    }
    return c;
}

// Whether a run of `conv` (with a residual or not) takes the 32-bit lanes.
static inline __attribute__((always_inline)) int dactyl_neon_requant_fast(const dactyl_conv2d_q8 *conv, int residual) {
    return conv->requant_32bit && (!residual || conv->residual_32bit);
}

// Requantises 4 accumulators, adds the residual (if any), clamps and stores `count` (<= 4 used)
// bytes, exactly the reference's rule (above). FAST: in 32-bit lanes.
static inline __attribute__((always_inline)) void dactyl_neon_requantize4(
    const dactyl_neon_output *stage, const dactyl_neon_channels4 *channels, int32x4_t acc,
    const int8_t *residual, int8_t *output, size_t count, const int FAST) {
    uint32_t residual_word = 0;
    if (residual) {
        if (count >= 4) memcpy(&residual_word, residual, 4);  // a constant size: one load, not a call
        else memcpy(&residual_word, residual, count);
    }
    int32x4_t value;
    if (FAST) {
        int32x4_t sum = vrshlq_s32(vqdmulhq_s32(acc, channels->multiplier), channels->post_shift);
        if (residual) {
            int16x8_t centred = vsubl_s8(vreinterpret_s8_u32(vdup_n_u32(residual_word)), stage->residual_zero_point8);
            int32x4_t scaled = vmull_s16(vget_low_s16(centred), stage->residual_scale);
            sum = vaddq_s32(sum, vrshlq_s32(vqdmulhq_s32(scaled, stage->residual_multiplier4), stage->residual_post_shift));
        }
        value = vqaddq_s32(sum, stage->zero_point);
    } else {
        int64x2_t low = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(channels->multiplier)), channels->shift_low);
        int64x2_t high = vrshlq_s64(vmull_high_s32(acc, channels->multiplier), channels->shift_high);
        if (residual) {
            int32x4_t r = vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(residual_word)))));
            r = vsubq_s32(r, stage->residual_zero_point);
            low = vaddq_s64(low, vrshlq_s64(vmull_s32(vget_low_s32(r), stage->residual_multiplier), stage->residual_shift));
            high = vaddq_s64(high, vrshlq_s64(vmull_s32(vget_high_s32(r), stage->residual_multiplier), stage->residual_shift));
        }
        value = vqaddq_s32(vcombine_s32(vqmovn_s64(low), vqmovn_s64(high)), stage->zero_point);
    }
    // The reference clamps value + zero point (int64) to [lower, 127]. Here: saturate to int32
    // (64-bit lanes), add the zero point saturating, saturate to int16 and to int8, then max with
    // lower. The same: within int32 minus the zero point's reach nothing saturates; beyond it
    // both end at 127 or at lower (in 32-bit lanes the sum is within +-2^31 - 2^29: exact).
    int16x4_t half = vqmovn_s32(value);
    int8x8_t bytes = vmax_s8(vqmovn_s16(vcombine_s16(half, half)), stage->lower);
    uint32_t word = vget_lane_u32(vreinterpret_u32_s8(bytes), 0);
    if (count >= 4) memcpy(output, &word, 4);
    else memcpy(output, &word, count);
}

static inline __attribute__((always_inline)) void dactyl_neon_store_vectors(
    const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int32_t *multipliers, const int32_t *shifts,
    int32x4_t acc[][4], const int PIXELS, const int VECTORS, const int WHOLE, const int RESIDUAL, const int FAST) {
    const dactyl_neon_output stage = dactyl_neon_output_make(conv, FAST);
    // Fully unrolled, so that acc[][] stays in registers: when clang left the 5 x 4 tile's
    // loops rolled, it kept the accumulators in memory through the whole kernel.
    _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) {
        size_t first = 4 * (size_t)v;
        if (!WHOLE && first >= tile->channels) break;
        const dactyl_neon_channels4 channels = dactyl_neon_channels4_load(multipliers + first, shifts + first, FAST);
        _Pragma("clang loop unroll(full)") for (int m = 0; m < PIXELS; m++) {
            if (!WHOLE && (size_t)m >= tile->valid) break;
            const int8_t *residual = WHOLE ? (RESIDUAL ? tile->residual[m] + first : NULL)
                                           : (tile->residual ? tile->residual[m] + first : NULL);
            dactyl_neon_requantize4(&stage, &channels, acc[m][v], residual, tile->output[m] + first,
                                    WHOLE ? 4 : tile->channels - first, FAST);
        }
    }
}

// Requantises and stores a micro-kernel's PIXELS x VECTORS accumulators (bias included). A whole
// tile (every pixel and channel stored: nearly all calls) takes code with no per-vector checks.
static inline __attribute__((always_inline)) void dactyl_neon_store_tile(
    const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int32_t *multipliers, const int32_t *shifts,
    int32x4_t acc[][4], const int PIXELS, const int VECTORS) {
    const int residual = tile->residual != NULL;
    if (tile->valid == (size_t)PIXELS && tile->channels == (size_t)VECTORS * 4) {
        if (dactyl_neon_requant_fast(conv, residual)) {
            if (residual) dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 1, 1);
            else dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 0, 1);
        } else {
            if (residual) dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 1, 0);
            else dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 1, 0, 0);
        }
    } else if (dactyl_neon_requant_fast(conv, residual)) {
        dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 0, 0, 1);
    } else {
        dactyl_neon_store_vectors(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS, 0, 0, 0);
    }
}
#endif
