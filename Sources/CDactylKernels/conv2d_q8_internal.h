// Shared by the conv2d driver and its per-ISA micro-kernels (not part of the public header).
#ifndef DACTYL_CONV2D_Q8_INTERNAL_H
#define DACTYL_CONV2D_Q8_INTERNAL_H

#include <string.h>
#include "dactyl_kernels.h"

// Most output pixels any micro-kernel computes per call.
#define DACTYL_MAX_TILE_PIXELS 12

// One micro-kernel call: `tile_pixels` output pixels (the last `valid` of which are real; the
// others repeat the last real one and are not stored) x one block of output channels.
typedef struct dactyl_conv_tile {
    const int8_t *const *rows;      // [tile_pixels][kernel_height]: kernel_width * input_channels bytes each, readable to row_groups * 4
    int8_t *const *output;          // [tile_pixels]: the output pixel, at the block's first channel
    const int8_t *const *residual;  // [tile_pixels] likewise, or NULL
    size_t valid;                   // pixels to store
    size_t channels;                // channels of this block to store (<= block_channels)
    const void *block;              // packed block (below)
    const int32_t *bias;            // the block's bias, plus what the skipped rows would have added
    uint32_t skip_rows;             // bit r: kernel row r lies in the padding for every pixel of the tile
    const struct dactyl_tap_border *border;  // a tile at a border of a conv with tap classes, else NULL (below)
    // Weights a later task will read, for the kernel to prefetch (into L2) while it computes:
    // `prefetch_per_group` 64-byte lines per 4-byte group, `prefetch_lines` in all (0: none).
    const int8_t *prefetch;
    size_t prefetch_lines, prefetch_per_group;
} dactyl_conv_tile;

// A pixel tile at a border of a conv that skips taps per pixel (a pixel's window has a kernel
// column in the padding, or the pixels' windows differ in the kernel rows inside the input),
// made at pack time: tap (kernel row r, column c) is computed for the pixels tap_rows[r] &
// tap_columns[c] (bit m: pixel m), those whose window has it inside the input; pixel m starts
// from its class's bias (class_bias[pixel_classes[m]] of the block); rows in skip_rows (none of
// the pixels has them inside) are skipped, and the tile's `bias` is unused.
typedef struct dactyl_tap_border {
    uint8_t tap_rows[16], tap_columns[16];
    uint8_t pixel_classes[DACTYL_MAX_TILE_PIXELS];
    uint32_t skip_rows;
} dactyl_tap_border;

static inline const int32_t *dactyl_class_bias(const dactyl_conv2d_q8 *conv, const void *block, size_t class) {
    return (const int32_t *)block + (size_t)(3 + conv->kernel_height + class) * (size_t)conv->block_channels;
}

static inline uint32_t dactyl_load_u32(const int8_t *p) {
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

// A packed block (NR = block_channels, G = row_groups): int32 bias[NR], multiplier[NR],
// shift[NR], padding_row[kernel_height][NR] (what a kernel row of zero points adds: zp * the
// row's weight sum), with tap classes class_bias[row_classes][column_classes][NR] (the bias of a
// pixel that skips the taps outside the input), then the weights, laid out per path:
//   int8 groups   (AVX-512 VNNI, NEON, NEON dot): [kernel row][G][NR][4] int8
//   int16 pairs   (AVX2):                         [kernel row][G][NR / 8][2][8][2] int16
// and on AVX-512 VNNI the output stage's constants in 64-bit lanes after the weights.
static inline const void *dactyl_block_weights(const dactyl_conv2d_q8 *conv, const void *block) {
    size_t classes = (size_t)conv->row_classes * (size_t)conv->column_classes;
    return (const int32_t *)block + ((size_t)(3 + conv->kernel_height) + classes) * (size_t)conv->block_channels;
}

void dactyl_conv_tile_avx512_vnni(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile);
void dactyl_conv_tile_avx2(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile);
void dactyl_conv_tile_neon(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile);
void dactyl_conv_tile_neon_dot(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile);

// VNNI: the output stage's constants that follow each block's weights (conv2d_q8_avx512_vnni.c).
size_t dactyl_requant_bytes_avx512(size_t block_channels);
void dactyl_pack_requant_avx512(const int32_t *multipliers, const int32_t *shifts, size_t block_channels, void *memory);
// dst[i] = src[i] ^ 0x80 (x + 128 as u8), for the VNNI path's padded copy.
void dactyl_copy_flipped_avx512(int8_t *destination, const int8_t *source, size_t bytes);

// Winograd F(4x4, 3x3) on the NEON smull path (conv2d_q8_neon_winograd.c). Packed memory:
// int32 bias[lanes] (zero point folded), multiplier[lanes], shift[lanes] (lanes: output channels
// rounded up to the block); then, 64-byte aligned, U as [output block of 8 or 16][position 0..35]
// [input channel, rounded up to 8][8 or 16]
// int16; then V, [position][tile, rounded up to whole groups][input channel, rounded up] int16;
// then the padded input copy (whole 4x4 tiles plus the 2-pixel halo).
#define DACTYL_WINOGRAD_TILE_GROUP 4
// Output channels per packed block and register tile: 16 (1.12 instructions per smlal, 1.17 with
// 8), or 8 where 16 would leave 8 or more lanes of the last block empty.
static inline size_t dactyl_winograd_block(int32_t output_channels) {
    return (size_t)output_channels % 16 != 0 && (size_t)output_channels % 16 <= 8 ? 8 : 16;
}
static inline size_t dactyl_winograd_lanes(int32_t output_channels) {
    size_t block = dactyl_winograd_block(output_channels);
    return ((size_t)output_channels + block - 1) / block * block;
}
static inline size_t dactyl_winograd_constants_bytes(const dactyl_conv2d_q8 *conv) {
    return (dactyl_winograd_lanes(conv->output_channels) * 3 * sizeof(int32_t) + 63) & ~(size_t)63;
}
static inline const void *dactyl_winograd_weights(const dactyl_conv2d_q8 *conv) {
    return (const uint8_t *)conv->packed + dactyl_winograd_constants_bytes(conv);
}
// 1 if |Y| < 2^25 for every output channel and input (128 * sum|w| < 2^25): the exact recovery.
int32_t dactyl_winograd_bound_holds(const dactyl_conv2d_q8 *conv, const int8_t *weights);
void dactyl_winograd_pack_weights(const dactyl_conv2d_q8 *conv, const int8_t *weights, int16_t *transformed);
// Phase 1, tasks = tiles: the input transform into V.
void dactyl_winograd_transform_inputs(const dactyl_conv2d_q8 *conv, size_t first, size_t end);
// Phase 2, tasks = output block * tile groups + tile group: products, output transform, output stage.
void dactyl_winograd_run_products(const dactyl_conv2d_q8 *conv, size_t first, size_t end);

uint64_t dactyl_peak_avx512_vnni(uint64_t iterations);
uint64_t dactyl_peak_avx2(uint64_t iterations);
uint64_t dactyl_peak_neon(uint64_t iterations);
uint64_t dactyl_peak_neon_dot(uint64_t iterations);

#endif
