// int8 conv2d micro-kernel for aarch64 ARMv8.0 NEON (Pi 4's Cortex-A72, Zero 2 W's A53):
// smull multiplies 8 int8 pairs into int16, sadalp adds neighbouring pairs into int32 lanes.
// A block of 4 channels x 4 input bytes fills one q register. Where no weight is -128 (the
// exporter's symmetric range is -127..127), smlal first adds the next group's products in
// int16 (|w x| <= 127 * 128, two of them < 2^15), as ncnn and ruy do: 3 instructions per 16
// multiply-accumulates instead of 4. A weight of -128 keeps the unpaired loop.
#if defined(__aarch64__)
#include "conv2d_q8_neon_common.h"

#define INLINE static inline __attribute__((always_inline))
// The pixel loops must unroll so that the accumulators live in registers (clang left the 8-pixel
// and 4-pixel loops rolled, loading and storing every accumulator on each group).
#define UNROLL _Pragma("GCC unroll 8")

// One group's 4 input bytes in every lane (ld1r). The empty asm hides that the two halves are
// equal: knowing it, clang replaces smull2 with smull on an ext of the weights, one more
// instruction and one more register per weight vector, and the tile then spills.
INLINE int8x16_t broadcast_group(const int8_t *p) {
    int8x16_t x = vreinterpretq_s8_u32(vdupq_n_u32(dactyl_load_u32(p)));
    __asm__("" : "+w"(x));
    return x;
}

// The same, stepping *p to the next group with a post-indexed ld1r: written by hand because
// clang's loop strength reduction copies each pixel's pointer and adds to it (3 scalar
// instructions per pixel and pair of groups).
INLINE int8x16_t broadcast_next_group(const int8_t **p) {
    int8x16_t x;
    __asm__("ld1r {%0.4s}, [%1], #4" : "=w"(x), "+r"(*p) : "m"(*(const int8_t(*)[4]) * p));
    return x;
}

INLINE void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 4;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    // Per channel vector: lanes (c0 k01, c0 k23, c1 k01, c1 k23) and likewise for c2, c3.
    int32x4_t acc_low[DACTYL_MAX_TILE_PIXELS][2], acc_high[DACTYL_MAX_TILE_PIXELS][2];
    for (int m = 0; m < PIXELS; m++)
        for (int v = 0; v < VECTORS; v++) acc_low[m][v] = acc_high[m][v] = vdupq_n_s32(0);
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int8_t *w = weights + r * groups * block_channels * 4;
        size_t g = 0;
        if (conv->weights_above_min) {
            // Pointers that step along the row (post-indexed loads), one counter: the loop's
            // scalar work is 2 instructions, not one address computation per load.
            const int8_t *xp[DACTYL_MAX_TILE_PIXELS];
            for (int m = 0; m < PIXELS; m++) xp[m] = x[m];
            const int8_t *wp = w;
            for (size_t pairs = groups / 2; pairs; pairs--) {
                int8x16_t wa[2], wb[2];
                for (int v = 0; v < VECTORS; v++) {
                    wa[v] = vld1q_s8(wp + 16 * (size_t)v);
                    wb[v] = vld1q_s8(wp + (block_channels + 4 * (size_t)v) * 4);
                }
                wp += 8 * block_channels;
                UNROLL for (int m = 0; m < PIXELS; m++) {
                    int8x16_t xa = broadcast_next_group(&xp[m]);
                    int8x16_t xb = broadcast_next_group(&xp[m]);
                    for (int v = 0; v < VECTORS; v++) {
                        int16x8_t low = vmlal_s8(vmull_s8(vget_low_s8(wa[v]), vget_low_s8(xa)), vget_low_s8(wb[v]), vget_low_s8(xb));
                        int16x8_t high = vmlal_high_s8(vmull_high_s8(wa[v], xa), wb[v], xb);
                        acc_low[m][v] = vpadalq_s16(acc_low[m][v], low);
                        acc_high[m][v] = vpadalq_s16(acc_high[m][v], high);
                    }
                }
            }
            g = groups / 2 * 2;
        }
        for (; g < groups; g++) {
            int8x16_t wv[2];
            for (int v = 0; v < VECTORS; v++) wv[v] = vld1q_s8(w + (g * block_channels + 4 * (size_t)v) * 4);
            UNROLL for (int m = 0; m < PIXELS; m++) {
                int8x16_t xv = broadcast_group(x[m] + 4 * g);
                for (int v = 0; v < VECTORS; v++) {
                    acc_low[m][v] = vpadalq_s16(acc_low[m][v], vmull_s8(vget_low_s8(wv[v]), vget_low_s8(xv)));
                    acc_high[m][v] = vpadalq_s16(acc_high[m][v], vmull_high_s8(wv[v], xv));
                }
            }
        }
    }
    int32x4_t acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int v = 0; v < VECTORS; v++) {
        const int32x4_t block_bias = vld1q_s32(bias + 4 * v);
        for (int m = 0; m < PIXELS; m++) acc[m][v] = vaddq_s32(vpaddq_s32(acc_low[m][v], acc_high[m][v]), block_bias);
    }
    dactyl_neon_store_tile(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS);
}

// Kernel columns (`groups` 4-byte groups from `offset` in each pixel's row: even, so that
// the pairs line up) for the tile's pixels in MASK only (a compile-time constant, so the
// accumulators stay in registers); the other pixels' accumulators are left as they are.
INLINE void column_groups(int32x4_t acc_low[][2], int32x4_t acc_high[][2], const int8_t *const *x, size_t offset,
                          const int8_t *w, size_t groups, int paired, const int MASK) {
    const size_t block_channels = 8;
    if (paired) {
        const int8_t *xp[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < 4; m++) xp[m] = x[m] + offset;
        for (size_t pairs = groups / 2; pairs; pairs--) {
            int8x16_t wa[2], wb[2];
            for (int v = 0; v < 2; v++) {
                wa[v] = vld1q_s8(w + 16 * (size_t)v);
                wb[v] = vld1q_s8(w + (block_channels + 4 * (size_t)v) * 4);
            }
            w += 8 * block_channels;
            UNROLL for (int m = 0; m < 4; m++) {
                if (!(MASK >> m & 1)) continue;
                int8x16_t xa = broadcast_next_group(&xp[m]);
                int8x16_t xb = broadcast_next_group(&xp[m]);
                for (int v = 0; v < 2; v++) {
                    int16x8_t low = vmlal_s8(vmull_s8(vget_low_s8(wa[v]), vget_low_s8(xa)), vget_low_s8(wb[v]), vget_low_s8(xb));
                    int16x8_t high = vmlal_high_s8(vmull_high_s8(wa[v], xa), wb[v], xb);
                    acc_low[m][v] = vpadalq_s16(acc_low[m][v], low);
                    acc_high[m][v] = vpadalq_s16(acc_high[m][v], high);
                }
            }
        }
    } else {
        for (size_t g = 0; g < groups; g++) {
            int8x16_t wv[2];
            for (int v = 0; v < 2; v++) wv[v] = vld1q_s8(w + (g * block_channels + 4 * (size_t)v) * 4);
            UNROLL for (int m = 0; m < 4; m++) {
                if (!(MASK >> m & 1)) continue;
                int8x16_t xv = broadcast_group(x[m] + offset + 4 * g);
                for (int v = 0; v < 2; v++) {
                    acc_low[m][v] = vpadalq_s16(acc_low[m][v], vmull_s8(vget_low_s8(wv[v]), vget_low_s8(xv)));
                    acc_high[m][v] = vpadalq_s16(acc_high[m][v], vmull_high_s8(wv[v], xv));
                }
            }
        }
    }
}

// A tile at a border of a conv with tap classes (4 pixels x 8 channels, input channels % 8 ==
// 0): each tap runs for the pixels whose window has it inside the input (border->tap_rows[r] &
// border->tap_columns[c]), and each pixel adds its own class's bias.
static void tile_kernel_taps(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    const size_t block_channels = 8;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, kernel_width = (size_t)conv->kernel_width;
    const size_t groups = (size_t)conv->row_groups, column_groups_count = (size_t)conv->input_channels / 4;
    const int paired = conv->weights_above_min;
    const dactyl_tap_border *border = tile->border;
    int32x4_t acc_low[DACTYL_MAX_TILE_PIXELS][2], acc_high[DACTYL_MAX_TILE_PIXELS][2];
    for (int m = 0; m < 4; m++)
        for (int v = 0; v < 2; v++) acc_low[m][v] = acc_high[m][v] = vdupq_n_s32(0);
    for (size_t r = 0; r < kernel_height; r++) {
        const unsigned row_pixels = border->tap_rows[r];
        if (!row_pixels) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < 4; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        // Neighbouring columns computed for the same pixels go as one run (contiguous in the
        // input row and in the weights): one loop, not one per column.
        for (size_t c = 0, end; c < kernel_width; c = end) {
            const unsigned mask = row_pixels & border->tap_columns[c];
            for (end = c + 1; end < kernel_width && (row_pixels & border->tap_columns[end]) == mask; end++) {}
            const int8_t *w = weights + (r * groups + c * column_groups_count) * block_channels * 4;
            const size_t offset = c * (size_t)conv->input_channels, run = (end - c) * column_groups_count;
            switch (mask) {
#define DACTYL_MASK_CASE(mask) \
            case mask: column_groups(acc_low, acc_high, x, offset, w, run, paired, mask); break;
            DACTYL_MASK_CASE(1) DACTYL_MASK_CASE(2) DACTYL_MASK_CASE(3) DACTYL_MASK_CASE(4) DACTYL_MASK_CASE(5)
            DACTYL_MASK_CASE(6) DACTYL_MASK_CASE(7) DACTYL_MASK_CASE(8) DACTYL_MASK_CASE(9) DACTYL_MASK_CASE(10)
            DACTYL_MASK_CASE(11) DACTYL_MASK_CASE(12) DACTYL_MASK_CASE(13) DACTYL_MASK_CASE(14) DACTYL_MASK_CASE(15)
#undef DACTYL_MASK_CASE
            default: break;  // 0: no pixel computes this tap
            }
        }
    }
    int32x4_t acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int m = 0; m < 4; m++)
        for (int v = 0; v < 2; v++)
            acc[m][v] = vaddq_s32(vpaddq_s32(acc_low[m][v], acc_high[m][v]), vld1q_s32(dactyl_class_bias(conv, tile->block, border->pixel_classes[m]) + 4 * v));
    dactyl_neon_store_tile(conv, tile, multipliers, shifts, acc, 4, 2);
}

void dactyl_conv_tile_neon(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    if (tile->border) tile_kernel_taps(conv, tile);
    else if (conv->block_channels == 4) tile_kernel(conv, tile, 8, 1);
    else tile_kernel(conv, tile, 4, 2);
}
uint64_t dactyl_peak_neon(uint64_t iterations) {
    int32x4_t acc[8];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(5);
    for (int i = 0; i < 8; i++) acc[i] = vdupq_n_s32(i);
    for (uint64_t n = 0; n < iterations; n++) {
        for (int i = 0; i < 8; i += 2) {
            __asm__ volatile("" : "+w"(a));  // a fresh operand each time: no smull is hoisted out of the loop
            // The paired sequence of the kernel: smull, smlal, sadalp (16 multiply-accumulates each half).
            acc[i] = vpadalq_s16(acc[i], vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), vget_low_s8(b), vget_low_s8(a)));
            acc[i + 1] = vpadalq_s16(acc[i + 1], vmlal_high_s8(vmull_high_s8(a, b), b, a));
        }
    }
    int32x4_t sum = acc[0];
    for (int i = 1; i < 8; i++) sum = vaddq_s32(sum, acc[i]);
    volatile int32_t sink = vaddvq_s32(sum);
    (void)sink;
    return iterations * 4 * 32;
}
#endif
