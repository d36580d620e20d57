// int8 conv2d micro-kernel for aarch64 ARMv8.2 dotprod (Pi 5's Cortex-A76): sdot adds the dot
// product of 4 int8 pairs to each int32 lane. Only these functions are compiled for dotprod;
// the binary stays ARMv8.0 and calls them when getauxval reports HWCAP_ASIMDDP.
#if defined(__aarch64__)
#include "conv2d_q8_neon_common.h"

#define TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#define INLINE static inline __attribute__((always_inline))

INLINE TARGET void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 4;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    int32x4_t acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int v = 0; v < VECTORS; v++) {
        int32x4_t b = vld1q_s32(bias + 4 * v);
        for (int m = 0; m < PIXELS; m++) acc[m][v] = b;
    }
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int8_t *w = weights + r * groups * block_channels * 4;
        for (size_t g = 0; g < groups; g++) {
            int8x16_t wv[4];
            for (int v = 0; v < VECTORS; v++) wv[v] = vld1q_s8(w + (g * block_channels + 4 * (size_t)v) * 4);
            for (int m = 0; m < PIXELS; m++) {
                int8x16_t xv = vreinterpretq_s8_u32(vdupq_n_u32(dactyl_load_u32(x[m] + 4 * g)));
                for (int v = 0; v < VECTORS; v++) acc[m][v] = vdotq_s32(acc[m][v], wv[v], xv);
            }
        }
    }
    for (int m = 0; m < PIXELS; m++) {
        if ((size_t)m >= tile->valid) break;
        for (int v = 0; v < VECTORS; v++) {
            size_t first = 4 * (size_t)v;
            if (first >= tile->channels) break;
            dactyl_neon_requantize4(conv, acc[m][v], multipliers + first, shifts + first,
                                    tile->residual ? tile->residual[m] + first : NULL, tile->output[m] + first, tile->channels - first);
        }
    }
}

TARGET void dactyl_conv_tile_neon_dot(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    if (conv->block_channels == 8) tile_kernel(conv, tile, 8, 2);
    else tile_kernel(conv, tile, 4, 4);
}

TARGET uint64_t dactyl_peak_neon_dot(uint64_t iterations) {
    int32x4_t acc[12];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(5);
    for (int i = 0; i < 12; i++) acc[i] = vdupq_n_s32(i);
    for (uint64_t n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) acc[i] = vdotq_s32(acc[i], a, b);
        __asm__ volatile("" : "+w"(a));
    }
    int32x4_t sum = acc[0];
    for (int i = 1; i < 12; i++) sum = vaddq_s32(sum, acc[i]);
    volatile int32_t sink = vaddvq_s32(sum);
    (void)sink;
    return iterations * 12 * 16;
}
#endif
