// The ISA-independent half of the fast int8 conv2d: weight packing (once, at load) and the
// driver that walks output pixel tiles and channel blocks and hands each to a micro-kernel.
//
// Direct convolution over NHWC without im2col: a kernel row of an output pixel reads
// kernel_width * input_channels contiguous input bytes, so the micro-kernels see each kernel
// row as one long dot product. The input zero point is folded into the bias at pack time
// (bias - zp * sum(w)); taps outside the input read a row filled with the zero point, which
// then contributes exactly nothing, so padding needs no special case in the inner loop.
#include <stdlib.h>
#include "conv2d_q8_internal.h"

int dactyl_kernel_path_compiled(int path) {
#if defined(__x86_64__)
    return path == DACTYL_PATH_AVX2 || path == DACTYL_PATH_AVX512_VNNI;
#elif defined(__aarch64__)
    return path == DACTYL_PATH_NEON || path == DACTYL_PATH_NEON_DOT;
#else
    (void)path;
    return 0;
#endif
}

// Output channels per block and pixels per tile: wide blocks for wide layers, more pixels
// per call for narrow ones (width-16 models), so the registers are used either way.
static void choose_blocking(int path, int32_t output_channels, int32_t *block_channels, int32_t *tile_pixels) {
    switch (path) {
    case DACTYL_PATH_AVX512_VNNI:
        if (output_channels <= 16) { *block_channels = 16; *tile_pixels = 8; }
        else if (output_channels <= 32) { *block_channels = 32; *tile_pixels = 6; }
        else { *block_channels = 64; *tile_pixels = 4; }
        break;
    case DACTYL_PATH_AVX2:
        if (output_channels <= 8) { *block_channels = 8; *tile_pixels = 8; }
        else { *block_channels = 16; *tile_pixels = 4; }
        break;
    case DACTYL_PATH_NEON_DOT:
        if (output_channels <= 8) { *block_channels = 8; *tile_pixels = 8; }
        else { *block_channels = 16; *tile_pixels = 4; }
        break;
    default:  // DACTYL_PATH_NEON
        if (output_channels <= 4) { *block_channels = 4; *tile_pixels = 8; }
        else { *block_channels = 8; *tile_pixels = 4; }
        break;
    }
}

static size_t block_bytes_for(int path, int32_t block_channels, int32_t kernel_height, int32_t row_groups) {
    size_t constants = (3 + (size_t)kernel_height) * sizeof(int32_t) * (size_t)block_channels;
    size_t weight_bytes = path == DACTYL_PATH_AVX2 ? 2 : 1;
    size_t weights = (size_t)kernel_height * (size_t)row_groups * (size_t)block_channels * 4 * weight_bytes;
    return (constants + weights + 63) & ~(size_t)63;
}

size_t dactyl_conv2d_q8_packed_bytes(const dactyl_conv2d_q8 *conv, int path) {
    if (!dactyl_kernel_path_compiled(path)) return 0;
    int32_t block_channels, tile_pixels;
    choose_blocking(path, conv->output_channels, &block_channels, &tile_pixels);
    int32_t row_groups = (conv->kernel_width * conv->input_channels + 3) / 4;
    // The driver's border buffer holds every kernel row of one tile.
    if (conv->kernel_height > 16) return 0;
    if ((size_t)tile_pixels * (size_t)conv->kernel_height * (size_t)row_groups * 4 + (size_t)row_groups * 4 > DACTYL_BORDER_BYTES)
        return 0;
    size_t blocks = (size_t)(conv->output_channels + block_channels - 1) / (size_t)block_channels;
    return blocks * block_bytes_for(path, block_channels, conv->kernel_height, row_groups);
}

void dactyl_conv2d_q8_pack(dactyl_conv2d_q8 *conv, int path, const int8_t *weights, const int32_t *bias,
                           const int32_t *multipliers, const int32_t *shifts, void *memory) {
    int32_t block_channels, tile_pixels;
    choose_blocking(path, conv->output_channels, &block_channels, &tile_pixels);
    int32_t row_length = conv->kernel_width * conv->input_channels;
    int32_t row_groups = (row_length + 3) / 4;
    size_t block_bytes = block_bytes_for(path, block_channels, conv->kernel_height, row_groups);
    size_t blocks = (size_t)(conv->output_channels + block_channels - 1) / (size_t)block_channels;
    size_t filter_bytes = (size_t)conv->kernel_height * (size_t)row_length;
    // VNNI multiplies u8 by s8: it sees x + 128, so the bias also takes 128 * sum(w) off.
    int32_t input_offset = conv->input_zero_point + (path == DACTYL_PATH_AVX512_VNNI ? 128 : 0);
    memset(memory, 0, blocks * block_bytes);
    for (size_t block = 0; block < blocks; block++) {
        uint8_t *base = (uint8_t *)memory + block * block_bytes;
        int32_t *packed_bias = (int32_t *)base;
        int32_t *packed_multipliers = packed_bias + block_channels;
        int32_t *packed_shifts = packed_multipliers + block_channels;
        int32_t *padding_rows = packed_shifts + block_channels;
        void *packed_weights = padding_rows + (size_t)conv->kernel_height * (size_t)block_channels;
        for (int32_t lane = 0; lane < block_channels; lane++) {
            size_t channel = block * (size_t)block_channels + (size_t)lane;
            if (channel >= (size_t)conv->output_channels) {
                packed_shifts[lane] = 1;  // a harmless shift for lanes never stored
                continue;
            }
            const int8_t *filter = weights + channel * filter_bytes;
            uint32_t sum = 0;  // wrapping, as the reference's int32 accumulator
            for (size_t i = 0; i < filter_bytes; i++) sum += (uint32_t)(int32_t)filter[i];
            packed_bias[lane] = (int32_t)((uint32_t)bias[channel] - (uint32_t)input_offset * sum);
            for (int32_t row = 0; row < conv->kernel_height; row++) {
                uint32_t row_sum = 0;
                for (int32_t k = 0; k < row_length; k++) row_sum += (uint32_t)(int32_t)filter[(size_t)row * (size_t)row_length + (size_t)k];
                padding_rows[(size_t)row * (size_t)block_channels + (size_t)lane] = (int32_t)((uint32_t)input_offset * row_sum);
            }
            packed_multipliers[lane] = multipliers[channel];
            packed_shifts[lane] = shifts[channel];
            for (int32_t row = 0; row < conv->kernel_height; row++) {
                for (int32_t k = 0; k < row_length; k++) {
                    int8_t w = filter[(size_t)row * (size_t)row_length + (size_t)k];
                    size_t group = (size_t)row * (size_t)row_groups + (size_t)(k / 4);
                    if (path == DACTYL_PATH_AVX2) {
                        // [group][vector of 8 lanes][pair k01 / k23][lane][2]
                        size_t index = ((group * (size_t)(block_channels / 8) + (size_t)(lane / 8)) * 2 + (size_t)(k % 4 / 2)) * 16
                                       + (size_t)(lane % 8) * 2 + (size_t)(k % 2);
                        ((int16_t *)packed_weights)[index] = w;
                    } else {
                        ((int8_t *)packed_weights)[(group * (size_t)block_channels + (size_t)lane) * 4 + (size_t)(k % 4)] = w;
                    }
                }
            }
        }
    }
    int32_t above_min = 1;
    for (size_t i = 0; i < (size_t)conv->output_channels * filter_bytes; i++) above_min &= weights[i] != -128;
    conv->weights_above_min = above_min;
    conv->path = path;
    conv->block_channels = block_channels;
    conv->tile_pixels = tile_pixels;
    conv->row_groups = row_groups;
    conv->block_bytes = block_bytes;
    conv->packed = memory;
}

static size_t pixel_tiles(const dactyl_conv2d_q8 *conv) {
    size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    return (pixels + (size_t)conv->tile_pixels - 1) / (size_t)conv->tile_pixels;
}

size_t dactyl_conv2d_q8_tasks(const dactyl_conv2d_q8 *conv) {
    size_t blocks = (size_t)(conv->output_channels + conv->block_channels - 1) / (size_t)conv->block_channels;
    return blocks * pixel_tiles(conv);
}

// Tasks run channel block by channel block (block-major), so a thread's share of the weights
// stays in cache while it walks the pixels.
void dactyl_conv2d_q8_run(const dactyl_conv2d_q8 *conv, size_t first, size_t end) {
    const size_t kernel_height = (size_t)conv->kernel_height;
    const size_t row_bytes = (size_t)conv->row_groups * 4;
    const size_t tiles = pixel_tiles(conv);
    const size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    const size_t tile_pixels = (size_t)conv->tile_pixels;
    const size_t input_row = (size_t)conv->input_width * (size_t)conv->input_channels;
    const int8_t *input_end = conv->input + (size_t)conv->input_height * input_row;
    const int8_t zero_point = (int8_t)conv->input_zero_point;

    // Kernel rows outside the input read `padding`; rows that cross the left or right border
    // (or would read past the tensor's end) are copied into `border` with the zero point around.
    _Alignas(64) int8_t scratch[DACTYL_BORDER_BYTES];
    int8_t *padding = scratch;
    int8_t *border = scratch + row_bytes;
    memset(padding, zero_point, row_bytes);
    const int8_t *rows[DACTYL_MAX_TILE_PIXELS * 8];
    const int8_t **row_table = kernel_height <= 8 ? rows : NULL;
    const int8_t *big_rows[DACTYL_MAX_TILE_PIXELS * 16];
    if (!row_table) row_table = big_rows;  // kernels up to 16 rows tall (packed_bytes allows no more rows than fit)
    int8_t *outputs[DACTYL_MAX_TILE_PIXELS];
    const int8_t *residuals[DACTYL_MAX_TILE_PIXELS];

    for (size_t task = first; task < end; task++) {
        size_t block = task / tiles, tile_index = task % tiles;
        size_t channel = block * (size_t)conv->block_channels;
        size_t first_pixel = tile_index * tile_pixels;
        size_t valid = pixels - first_pixel < tile_pixels ? pixels - first_pixel : tile_pixels;
        for (size_t m = 0; m < tile_pixels; m++) {
            size_t pixel = first_pixel + (m < valid ? m : valid - 1);
            long oy = (long)(pixel / (size_t)conv->output_width), ox = (long)(pixel % (size_t)conv->output_width);
            long top = oy * conv->stride_height - conv->pad_height;
            long left = ox * conv->stride_width - conv->pad_width;
            for (size_t r = 0; r < kernel_height; r++) {
                long iy = top + (long)r;
                const int8_t **slot = &row_table[m * kernel_height + r];
                if (iy < 0 || iy >= conv->input_height) { *slot = padding; continue; }
                const int8_t *row = conv->input + (size_t)iy * input_row;
                if (left >= 0 && left + conv->kernel_width <= conv->input_width) {
                    const int8_t *start = row + (size_t)left * (size_t)conv->input_channels;
                    if (start + row_bytes <= input_end) {
                        *slot = start;
                        continue;
                    }
                }
                // The taps inside the input are contiguous: one copy between zero-point margins.
                int8_t *copy = border + (m * kernel_height + r) * row_bytes;
                long first_column = left < 0 ? -left : 0;
                long end_column = conv->input_width - left < conv->kernel_width ? conv->input_width - left : conv->kernel_width;
                size_t channels = (size_t)conv->input_channels;
                size_t head = (size_t)first_column * channels, body = (size_t)(end_column - first_column) * channels;
                memset(copy, zero_point, head);
                memcpy(copy + head, row + (size_t)(left + first_column) * channels, body);
                memset(copy + head + body, zero_point, row_bytes - head - body);
                *slot = copy;
            }
            size_t offset = pixel * (size_t)conv->output_channels + channel;
            outputs[m] = conv->output + offset;
            residuals[m] = conv->residual ? conv->residual + offset : NULL;
        }
        size_t remaining = (size_t)conv->output_channels - channel;
        const void *packed_block = (const uint8_t *)conv->packed + block * conv->block_bytes;
        // Kernel rows in the padding for the whole tile are skipped; the bias takes what their
        // zero points would have added (the packed bias assumes every row is computed).
        uint32_t skip_rows = 0;
        for (size_t r = 0; r < kernel_height; r++) {
            size_t m = 0;
            while (m < tile_pixels && row_table[m * kernel_height + r] == padding) m++;
            if (m == tile_pixels) skip_rows |= 1u << r;
        }
        const int32_t *bias = (const int32_t *)packed_block;
        _Alignas(64) int32_t adjusted_bias[64];
        if (skip_rows) {
            const int32_t *padding_rows = bias + 3 * (size_t)conv->block_channels;
            for (int32_t lane = 0; lane < conv->block_channels; lane++) {
                uint32_t value = (uint32_t)bias[lane];
                for (size_t r = 0; r < kernel_height; r++)
                    if (skip_rows >> r & 1) value += (uint32_t)padding_rows[r * (size_t)conv->block_channels + (size_t)lane];
                adjusted_bias[lane] = (int32_t)value;
            }
            bias = adjusted_bias;
        }
        dactyl_conv_tile tile = {
            .rows = row_table, .output = outputs, .residual = conv->residual ? residuals : NULL, .valid = valid,
            .channels = remaining < (size_t)conv->block_channels ? remaining : (size_t)conv->block_channels,
            .block = packed_block, .bias = bias, .skip_rows = skip_rows,
        };
        switch (conv->path) {
#if defined(__x86_64__)
        case DACTYL_PATH_AVX512_VNNI: dactyl_conv_tile_avx512_vnni(conv, &tile); break;
        case DACTYL_PATH_AVX2: dactyl_conv_tile_avx2(conv, &tile); break;
#elif defined(__aarch64__)
        case DACTYL_PATH_NEON: dactyl_conv_tile_neon(conv, &tile); break;
        case DACTYL_PATH_NEON_DOT: dactyl_conv_tile_neon_dot(conv, &tile); break;
#endif
        default: abort();
        }
    }
}

uint64_t dactyl_peak_loop(int path, uint64_t iterations) {
    switch (path) {
#if defined(__x86_64__)
    case DACTYL_PATH_AVX512_VNNI: return dactyl_peak_avx512_vnni(iterations);
    case DACTYL_PATH_AVX2: return dactyl_peak_avx2(iterations);
#elif defined(__aarch64__)
    case DACTYL_PATH_NEON: return dactyl_peak_neon(iterations);
    case DACTYL_PATH_NEON_DOT: return dactyl_peak_neon_dot(iterations);
#endif
    default: (void)iterations; return 0;
    }
}
