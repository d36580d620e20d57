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

// Pixels per tile for `pixels` output pixels, from the kernel's variants `options` (ascending):
// the fewest computed pixels (tiles x tile pixels; the last tile's extra pixels are wasted),
// the larger tile on ties (fewer calls, weights read fewer times).
static int32_t fitted_tile(size_t pixels, const int32_t *options, int count) {
    int32_t best = options[0];
    size_t best_cost = (size_t)-1;
    for (int i = 0; i < count; i++) {
        size_t cost = (pixels + (size_t)options[i] - 1) / (size_t)options[i] * (size_t)options[i];
        if (cost <= best_cost) { best_cost = cost; best = options[i]; }
    }
    return best;
}

// Output channels per block and pixels per tile: wide blocks for wide layers, more pixels
// per call for narrow ones (width-16 models), so the registers are used either way.
static void choose_blocking(int path, const dactyl_conv2d_q8 *conv, int32_t *block_channels, int32_t *tile_pixels) {
    const int32_t output_channels = conv->output_channels;
    const size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    switch (path) {
    case DACTYL_PATH_AVX512_VNNI: {
        // The variants conv2d_q8_avx512_vnni.c instantiates (accumulators + weights <= 32 zmm).
        static const int32_t narrow[] = {8, 12}, middle[] = {8, 10, 12}, wide[] = {4, 5, 6};
        if (output_channels <= 16) { *block_channels = 16; *tile_pixels = fitted_tile(pixels, narrow, 2); }
        else if (output_channels <= 32) { *block_channels = 32; *tile_pixels = fitted_tile(pixels, middle, 3); }
        else { *block_channels = 64; *tile_pixels = fitted_tile(pixels, wide, 3); }
        break;
    }
    case DACTYL_PATH_AVX2:
        if (output_channels <= 8) { *block_channels = 8; *tile_pixels = 8; }
        else { *block_channels = 16; *tile_pixels = 4; }
        break;
    case DACTYL_PATH_NEON_DOT: {
        // 4 or 5 pixels x 16 channels (conv2d_q8_neon_dot.c): 5 on 7x7 maps (10 tiles for 49
        // pixels, not 13 for 52).
        static const int32_t wide[] = {4, 5};
        if (output_channels <= 8) { *block_channels = 8; *tile_pixels = 8; }
        else { *block_channels = 16; *tile_pixels = fitted_tile(pixels, wide, 2); }
        break;
    }
    default:  // DACTYL_PATH_NEON
        if (output_channels <= 4) { *block_channels = 4; *tile_pixels = 8; }
        else { *block_channels = 8; *tile_pixels = 4; }
        break;
    }
}

// Every fast path reads kernel rows from a padded copy of the input (see dactyl_kernels.h), so
// no kernel row crosses a border: on the NEON paths it halved the driver's cost (12.3 -> 6.5 M
// instructions a ResNet34 @112 frame on the A76, 23.8 -> 12.0 M on the A72, qemu counts); on
// VNNI it also takes the xor out of the inner loop.

// Rows and columns of the padded copy: as far as the last output pixel's window reaches.
static void padded_extent(const dactyl_conv2d_q8 *conv, int32_t *height, int32_t *width) {
    *height = (conv->output_height - 1) * conv->stride_height + conv->kernel_height;
    *width = (conv->output_width - 1) * conv->stride_width + conv->kernel_width;
}

// Bytes of the padded copy, with room for the last row's read up to a whole 4-byte group.
static size_t padded_bytes_for(const dactyl_conv2d_q8 *conv) {
    int32_t height, width;
    padded_extent(conv, &height, &width);
    return ((size_t)height * (size_t)width * (size_t)conv->input_channels + 64 + 63) & ~(size_t)63;
}

// Bit k: kernel tap k of a window starting at input coordinate `start` lies inside [0, size).
static inline uint32_t inside_taps(long start, int32_t kernel, int32_t size) {
    long inside_first = start < 0 ? -start : 0;
    long inside_end = size - start < (long)kernel ? size - start : (long)kernel;
    if (inside_first >= inside_end) return 0;
    return (uint32_t)(((1ull << inside_end) - 1) & ~((1ull << inside_first) - 1));
}

// Per-pixel tap skips (run_padded), on the NEON paths' 4-pixel x 8-channel (smull) and 4- or
// 5-pixel x 16-channel (sdot) tiles, where a kernel column is a whole number of the kernel's
// load units: pairs of 4-byte groups (input channels % 8 == 0) and quads (% 16 == 0). Output
// rows whose windows have the same kernel rows inside the input form a row class (likewise
// columns); each block holds a bias per (row class, column class): the packed bias plus what
// the zero points of the taps outside the input would have added, so a pixel that skips
// exactly those taps starts from it.
enum { MAX_TAP_CLASSES = 64 };

// Numbers the classes: `classes[i]` for output row / column i (if not NULL), `inside[class]`
// the kernel rows / columns inside; returns how many (0: more than MAX_TAP_CLASSES).
static int32_t tap_classes_of(int32_t outputs, int32_t stride, int32_t pad, int32_t kernel, int32_t size,
                              uint8_t *classes, uint32_t *inside) {
    int32_t count = 0;
    for (int32_t i = 0; i < outputs; i++) {
        uint32_t mask = inside_taps((long)i * stride - pad, kernel, size);
        int32_t found = 0;
        while (found < count && inside[found] != mask) found++;
        if (found == count) {
            if (count == MAX_TAP_CLASSES) return 0;
            inside[count++] = mask;
        }
        if (classes) classes[i] = (uint8_t)found;
    }
    return count;
}

// Row classes x column classes when `conv` skips taps per pixel on `path`, else 0.
static size_t tap_bias_classes(int path, const dactyl_conv2d_q8 *conv, int32_t block_channels) {
    int sdot = path == DACTYL_PATH_NEON_DOT && block_channels == 16 && conv->input_channels % 16 == 0;
    int smull = path == DACTYL_PATH_NEON && block_channels == 8 && conv->input_channels % 8 == 0;
    if (!sdot && !smull) return 0;
    if (conv->pad_height == 0 && conv->pad_width == 0) return 0;
    uint32_t inside[MAX_TAP_CLASSES];
    size_t rows = (size_t)tap_classes_of(conv->output_height, conv->stride_height, conv->pad_height, conv->kernel_height,
                                         conv->input_height, NULL, inside);
    size_t columns = (size_t)tap_classes_of(conv->output_width, conv->stride_width, conv->pad_width, conv->kernel_width,
                                            conv->input_width, NULL, inside);
    size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    return rows * columns <= MAX_TAP_CLASSES && conv->kernel_width <= 16 && pixels / 4 < 0x8000 ? rows * columns : 0;
}

// The tile plan for `tile_pixels`-pixel tiles: per tile an entry (if `entries` is not NULL):
// its class, or 0x8000 | the index of its border record (dactyl_tap_border in
// conv2d_q8_internal.h), written to `records` if not NULL (row_class / column_class: each
// output row's / column's class); returns the number of border tiles. A tile is at a border when one of its pixels has a kernel column
// in the padding or its pixels' windows differ in the kernel rows inside the input; the others
// are of one class, whose bias leaves out the rows the driver skips for the whole tile.
static size_t plan_tiles(const dactyl_conv2d_q8 *conv, size_t tile_pixels, const uint8_t *row_class,
                         const uint8_t *column_class, int32_t column_classes, uint16_t *entries, dactyl_tap_border *records) {
    const size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width, output_width = (size_t)conv->output_width;
    const size_t tiles = (pixels + tile_pixels - 1) / tile_pixels;
    const uint32_t all_columns = (uint32_t)((1ull << conv->kernel_width) - 1);
    size_t borders = 0;
    for (size_t t = 0; t < tiles; t++) {
        uint32_t rows_in[DACTYL_MAX_TILE_PIXELS], columns_in[DACTYL_MAX_TILE_PIXELS];
        size_t classes[DACTYL_MAX_TILE_PIXELS];
        int border = 0;
        for (size_t m = 0; m < tile_pixels; m++) {
            size_t pixel = t * tile_pixels + m < pixels ? t * tile_pixels + m : pixels - 1;  // past the last: repeat it
            size_t oy = pixel / output_width, ox = pixel % output_width;
            rows_in[m] = inside_taps((long)oy * conv->stride_height - conv->pad_height, conv->kernel_height, conv->input_height);
            columns_in[m] = inside_taps((long)ox * conv->stride_width - conv->pad_width, conv->kernel_width, conv->input_width);
            classes[m] = row_class ? (size_t)row_class[oy] * (size_t)column_classes + column_class[ox] : 0;
            border |= columns_in[m] != all_columns || rows_in[m] != rows_in[0];
        }
        if (!border) {
            if (entries) entries[t] = (uint16_t)classes[0];
            continue;
        }
        if (entries) entries[t] = (uint16_t)(0x8000 | borders);
        if (records) {
            dactyl_tap_border *record = &records[borders];
            memset(record, 0, sizeof *record);
            uint32_t any_rows = 0;
            for (size_t m = 0; m < tile_pixels; m++) {
                for (int32_t r = 0; r < conv->kernel_height; r++)
                    if (rows_in[m] >> r & 1) record->tap_rows[r] |= (uint8_t)(1u << m);
                for (int32_t c = 0; c < conv->kernel_width; c++)
                    if (columns_in[m] >> c & 1) record->tap_columns[c] |= (uint8_t)(1u << m);
                record->pixel_classes[m] = (uint8_t)classes[m];
                any_rows |= rows_in[m];
            }
            record->skip_rows = (uint32_t)((1ull << conv->kernel_height) - 1) & ~any_rows;
        }
        borders++;
    }
    return borders;
}

// The class tables (row class per output row, then column class per output column) and the
// tile plan (entries, then border records), after the blocks.
static size_t tap_table_bytes(const dactyl_conv2d_q8 *conv, size_t classes, int32_t tile_pixels) {
    if (!classes) return 0;
    size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    size_t tiles = (pixels + (size_t)tile_pixels - 1) / (size_t)tile_pixels;
    size_t borders = plan_tiles(conv, (size_t)tile_pixels, NULL, NULL, 0, NULL, NULL);
    return (((size_t)conv->output_height + (size_t)conv->output_width + 63) & ~(size_t)63)
           + ((tiles * sizeof(uint16_t) + 63) & ~(size_t)63) + ((borders * sizeof(dactyl_tap_border) + 63) & ~(size_t)63);
}

static size_t block_bytes_for(int path, int32_t block_channels, int32_t kernel_height, int32_t row_groups, size_t classes) {
    size_t constants = (3 + (size_t)kernel_height + classes) * sizeof(int32_t) * (size_t)block_channels;
    size_t weight_bytes = path == DACTYL_PATH_AVX2 ? 2 : 1;
    size_t weights = (size_t)kernel_height * (size_t)row_groups * (size_t)block_channels * 4 * weight_bytes;
#if defined(__x86_64__)
    if (path == DACTYL_PATH_AVX512_VNNI) weights += dactyl_requant_bytes_avx512((size_t)block_channels);
#endif
    return (constants + weights + 63) & ~(size_t)63;
}

static size_t packed_bytes_direct(const dactyl_conv2d_q8 *conv, int path);

// Whether the NEON output stage may run in 32-bit lanes (the proof: conv2d_q8_neon_common.h).
static void choose_requant(dactyl_conv2d_q8 *conv, const int32_t *multipliers, const int32_t *shifts) {
    int32_t holds = conv->path == DACTYL_PATH_NEON || conv->path == DACTYL_PATH_NEON_DOT;
    conv->residual_32bit = holds && conv->residual_shift >= 18 && conv->residual_shift <= 62
                           && conv->residual_multiplier != INT32_MIN && conv->residual_zero_point >= -128
                           && conv->residual_zero_point <= 127;
    for (int32_t c = 0; c < conv->output_channels; c++) holds &= shifts[c] >= 32 && shifts[c] <= 62 && multipliers[c] != INT32_MIN;
    conv->requant_32bit = holds;
}

// --- Winograd F(4x4, 3x3) on the NEON smull path: selection and packing (the arithmetic and
// the kernels: conv2d_q8_neon_winograd.c; measurements: docs/aarch64-estimate.md) ---

// When the packer picks Winograd by itself (qemu instruction counts per conv, cortex-a72, in
// docs/aarch64-estimate.md): from a full group of 4 tiles on it executes 1.7-2.7x fewer
// instructions than the direct path (1.3-1.4x with 1-2 input channels, so no channel minimum); 2 and 3
// tiles would gain 1.4x and 2.0x but read U (8x the int8 weights' bytes) for less work; 1 tile
// loses (0.2-0.8x). U is read once a run: on ResNet34 @112's stage 3 (7x7, 4 tiles, 4.7 MB of
// U a conv) that is 45 MB more a frame from memory, which costs less than the instructions it
// saves down to ~1.5 GB/s at 1 thread, ~2.9 GB/s at 4 if none of it overlaps the arithmetic.
#define WINOGRAD_MIN_TILES 4

// The conv's own choice, else the environment's (DACTYL_WINOGRAD=0 / 1), else 0 (the rule).
static int winograd_mode(const dactyl_conv2d_q8 *conv) {
    if (conv->winograd_mode) return conv->winograd_mode < 0 ? -1 : 1;
    const char *setting = getenv("DACTYL_WINOGRAD");
    if (setting && setting[0] == '0') return -1;
    if (setting && setting[0] == '1') return 1;
    return 0;
}

static size_t winograd_tiles(const dactyl_conv2d_q8 *conv, size_t *tiles_x, size_t *tiles_y) {
    *tiles_x = ((size_t)conv->output_width + 3) / 4;
    *tiles_y = ((size_t)conv->output_height + 3) / 4;
    return *tiles_x * *tiles_y;
}

// Whether `conv` runs as Winograd on `path` if its weights pass the bound (checked at pack).
static int winograd_candidate(const dactyl_conv2d_q8 *conv, int path) {
#if defined(__aarch64__)
    if (path != DACTYL_PATH_NEON || conv->kernel_height != 3 || conv->kernel_width != 3 || conv->stride_height != 1
        || conv->stride_width != 1)
        return 0;
    int mode = winograd_mode(conv);
    if (mode) return mode > 0;
    size_t tiles_x, tiles_y;
    return winograd_tiles(conv, &tiles_x, &tiles_y) >= WINOGRAD_MIN_TILES;
#else
    (void)conv;
    (void)path;
    return 0;
#endif
}

#if defined(__aarch64__)
// Sizes of the Winograd layout's parts (conv2d_q8_internal.h): U, V, the padded copy.
static void winograd_parts(const dactyl_conv2d_q8 *conv, size_t *weights, size_t *inputs, size_t *padded) {
    size_t tiles_x, tiles_y, tiles = winograd_tiles(conv, &tiles_x, &tiles_y);
    size_t rounded = ((size_t)conv->input_channels + 7) / 8 * 8;
    size_t groups = (tiles + DACTYL_WINOGRAD_TILE_GROUP - 1) / DACTYL_WINOGRAD_TILE_GROUP;
    *weights = (dactyl_winograd_lanes(conv->output_channels) * 36 * rounded * sizeof(int16_t) + 63) & ~(size_t)63;
    *inputs = (36 * groups * DACTYL_WINOGRAD_TILE_GROUP * rounded * sizeof(int16_t) + 63) & ~(size_t)63;
    // Whole tiles plus the 2-pixel halo, and slack for the last channel group's 8-byte read.
    *padded = ((tiles_y * 4 + 2) * (tiles_x * 4 + 2) * (size_t)conv->input_channels + 64 + 63) & ~(size_t)63;
}

static size_t winograd_bytes(const dactyl_conv2d_q8 *conv) {
    size_t weights, inputs, padded;
    winograd_parts(conv, &weights, &inputs, &padded);
    return dactyl_winograd_constants_bytes(conv) + weights + inputs + padded;
}

static void winograd_pack(dactyl_conv2d_q8 *conv, const int8_t *weights, const int32_t *bias, const int32_t *multipliers,
                          const int32_t *shifts, void *memory) {
    size_t tiles_x, tiles_y, tiles = winograd_tiles(conv, &tiles_x, &tiles_y);
    size_t weight_bytes, input_bytes, padded_bytes;
    winograd_parts(conv, &weight_bytes, &input_bytes, &padded_bytes);
    const size_t filter = 9 * (size_t)conv->input_channels;
    const size_t lanes = dactyl_winograd_lanes(conv->output_channels);
    conv->path = DACTYL_PATH_NEON;
    conv->winograd = 1;
    conv->winograd_channels = (conv->input_channels + 7) / 8 * 8;
    conv->winograd_tiles_x = (int32_t)tiles_x;
    conv->winograd_tiles_y = (int32_t)tiles_y;
    conv->winograd_tile_groups = (int32_t)((tiles + DACTYL_WINOGRAD_TILE_GROUP - 1) / DACTYL_WINOGRAD_TILE_GROUP);
    conv->block_channels = (int32_t)dactyl_winograd_block(conv->output_channels);
    conv->tile_pixels = 16;
    conv->row_groups = (3 * conv->input_channels + 3) / 4;
    conv->block_bytes = 0;
    conv->packed = memory;
    size_t constants = dactyl_winograd_constants_bytes(conv);
    memset(memory, 0, constants + weight_bytes + input_bytes);
    int32_t *packed_bias = (int32_t *)memory, *packed_multipliers = packed_bias + lanes, *packed_shifts = packed_multipliers + lanes;
    int32_t above_min = 1;
    for (size_t channel = 0; channel < lanes; channel++) {
        if (channel >= (size_t)conv->output_channels) {
            packed_shifts[channel] = 1;  // a harmless shift for lanes never stored
            continue;
        }
        uint32_t sum = 0;  // wrapping, as the direct path's fold
        for (size_t i = 0; i < filter; i++) {
            sum += (uint32_t)(int32_t)weights[channel * filter + i];
            above_min &= weights[channel * filter + i] != -128;
        }
        packed_bias[channel] = (int32_t)((uint32_t)bias[channel] - (uint32_t)conv->input_zero_point * sum);
        packed_multipliers[channel] = multipliers[channel];
        packed_shifts[channel] = shifts[channel];
    }
    conv->weights_above_min = above_min;
    choose_requant(conv, multipliers, shifts);
    dactyl_winograd_pack_weights(conv, weights, (int16_t *)((uint8_t *)memory + constants));
    conv->winograd_input = (int16_t *)((uint8_t *)memory + constants + weight_bytes);
    conv->padded = (int8_t *)memory + constants + weight_bytes + input_bytes;
    conv->padded_height = (int32_t)tiles_y * 4 + 2;
    conv->padded_width = (int32_t)tiles_x * 4 + 2;
    memset(conv->padded, conv->input_zero_point, padded_bytes);
}
#endif

size_t dactyl_conv2d_q8_packed_bytes(const dactyl_conv2d_q8 *conv, int path) {
    size_t direct = packed_bytes_direct(conv, path);
#if defined(__aarch64__)
    // Room for either layout: whether the weights pass Winograd's bound is known at pack.
    if (direct && winograd_candidate(conv, path)) {
        size_t winograd = winograd_bytes(conv);
        return winograd > direct ? winograd : direct;
    }
#endif
    return direct;
}

static size_t packed_bytes_direct(const dactyl_conv2d_q8 *conv, int path) {
    if (!dactyl_kernel_path_compiled(path)) return 0;
    int32_t block_channels, tile_pixels;
    choose_blocking(path, conv, &block_channels, &tile_pixels);
    int32_t row_groups = (conv->kernel_width * conv->input_channels + 3) / 4;
    if (conv->kernel_height > 16) return 0;
    size_t blocks = (size_t)(conv->output_channels + block_channels - 1) / (size_t)block_channels;
    size_t classes = tap_bias_classes(path, conv, block_channels);
    return blocks * block_bytes_for(path, block_channels, conv->kernel_height, row_groups, classes)
           + tap_table_bytes(conv, classes, tile_pixels) + padded_bytes_for(conv);
}

void dactyl_conv2d_q8_pack(dactyl_conv2d_q8 *conv, int path, const int8_t *weights, const int32_t *bias,
                           const int32_t *multipliers, const int32_t *shifts, void *memory) {
    conv->winograd = 0;
#if defined(__aarch64__)
    if (winograd_candidate(conv, path) && dactyl_winograd_bound_holds(conv, weights)) {
        winograd_pack(conv, weights, bias, multipliers, shifts, memory);
        return;
    }
#endif
    int32_t block_channels, tile_pixels;
    choose_blocking(path, conv, &block_channels, &tile_pixels);
    int32_t row_length = conv->kernel_width * conv->input_channels;
    int32_t row_groups = (row_length + 3) / 4;
    const size_t classes = tap_bias_classes(path, conv, block_channels);
    size_t block_bytes = block_bytes_for(path, block_channels, conv->kernel_height, row_groups, classes);
    size_t blocks = (size_t)(conv->output_channels + block_channels - 1) / (size_t)block_channels;
    uint8_t *class_tables = (uint8_t *)memory + blocks * block_bytes;
    uint32_t row_inside[MAX_TAP_CLASSES], column_inside[MAX_TAP_CLASSES];
    int32_t row_classes = 0, column_classes = 0;
    if (classes) {
        row_classes = tap_classes_of(conv->output_height, conv->stride_height, conv->pad_height, conv->kernel_height,
                                     conv->input_height, class_tables, row_inside);
        column_classes = tap_classes_of(conv->output_width, conv->stride_width, conv->pad_width, conv->kernel_width,
                                        conv->input_width, class_tables + conv->output_height, column_inside);
    }
    size_t filter_bytes = (size_t)conv->kernel_height * (size_t)row_length;
    // VNNI multiplies u8 by s8: it sees x + 128, so the bias also takes 128 * sum(w) off.
    int32_t input_offset = conv->input_zero_point + (path == DACTYL_PATH_AVX512_VNNI ? 128 : 0);
    memset(memory, 0, blocks * block_bytes);  // not the class tables, just made
    for (size_t block = 0; block < blocks; block++) {
        uint8_t *base = (uint8_t *)memory + block * block_bytes;
        int32_t *packed_bias = (int32_t *)base;
        int32_t *packed_multipliers = packed_bias + block_channels;
        int32_t *packed_shifts = packed_multipliers + block_channels;
        int32_t *padding_rows = packed_shifts + block_channels;
        int32_t *class_bias = padding_rows + (size_t)conv->kernel_height * (size_t)block_channels;
        void *packed_weights = class_bias + classes * (size_t)block_channels;
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
            for (size_t class = 0; class < classes; class++) {
                uint32_t rows_in = row_inside[class / (size_t)column_classes], columns_in = column_inside[class % (size_t)column_classes];
                uint32_t outside_sum = 0;
                for (int32_t row = 0; row < conv->kernel_height; row++)
                    for (int32_t column = 0; column < conv->kernel_width; column++) {
                        if (rows_in >> row & columns_in >> column & 1) continue;
                        const int8_t *tap = filter + (size_t)row * (size_t)row_length + (size_t)column * (size_t)conv->input_channels;
                        for (int32_t k = 0; k < conv->input_channels; k++) outside_sum += (uint32_t)(int32_t)tap[k];
                    }
                class_bias[class * (size_t)block_channels + (size_t)lane] =
                    (int32_t)((uint32_t)packed_bias[lane] + (uint32_t)input_offset * outside_sum);
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
#if defined(__x86_64__)
        if (path == DACTYL_PATH_AVX512_VNNI)
            dactyl_pack_requant_avx512(packed_multipliers, packed_shifts, (size_t)block_channels,
                                       (int8_t *)packed_weights + (size_t)conv->kernel_height * (size_t)row_groups * (size_t)block_channels * 4);
#endif
    }
    int32_t above_min = 1;
    for (size_t i = 0; i < (size_t)conv->output_channels * filter_bytes; i++) above_min &= weights[i] != -128;
    conv->weights_above_min = above_min;
    conv->path = path;
    choose_requant(conv, multipliers, shifts);
    conv->block_channels = block_channels;
    conv->tile_pixels = tile_pixels;
    conv->row_groups = row_groups;
    conv->row_classes = row_classes;
    conv->column_classes = column_classes;
    conv->tap_plan = NULL;
    if (classes) {
        size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
        size_t tiles = (pixels + (size_t)tile_pixels - 1) / (size_t)tile_pixels;
        uint16_t *entries = (uint16_t *)(class_tables + (((size_t)conv->output_height + (size_t)conv->output_width + 63) & ~(size_t)63));
        dactyl_tap_border *records = (dactyl_tap_border *)((uint8_t *)entries + ((tiles * sizeof(uint16_t) + 63) & ~(size_t)63));
        plan_tiles(conv, (size_t)tile_pixels, class_tables, class_tables + conv->output_height, column_classes, entries, records);
        conv->tap_plan = entries;
        conv->tap_borders = records;
    }
    conv->block_bytes = block_bytes;
    conv->packed = memory;
    // The margins hold the zero point (as VNNI sees it) for good; prepare fills the inside.
    conv->padded = (int8_t *)memory + blocks * block_bytes + tap_table_bytes(conv, classes, tile_pixels);
    padded_extent(conv, &conv->padded_height, &conv->padded_width);
    int8_t margin = (int8_t)(conv->input_zero_point ^ (path == DACTYL_PATH_AVX512_VNNI ? 0x80 : 0));
    memset(conv->padded, margin, padded_bytes_for(conv));
}

void dactyl_conv2d_q8_prepare(const dactyl_conv2d_q8 *conv) {
    if (!conv->padded) return;
    const size_t channels = (size_t)conv->input_channels;
    const size_t padded_row = (size_t)conv->padded_width * channels, input_row = (size_t)conv->input_width * channels;
    // Input rows and columns past the last window's reach are not copied (they are never read).
    long rows = conv->padded_height - conv->pad_height < conv->input_height ? conv->padded_height - conv->pad_height : conv->input_height;
    long columns = conv->padded_width - conv->pad_width < conv->input_width ? conv->padded_width - conv->pad_width : conv->input_width;
    if (rows <= 0 || columns <= 0) return;
    int8_t *destination = conv->padded + (size_t)conv->pad_height * padded_row + (size_t)conv->pad_width * channels;
    size_t bytes = (size_t)columns * channels;
    for (long row = 0; row < rows; row++) {
#if defined(__x86_64__)
        if (conv->path == DACTYL_PATH_AVX512_VNNI) {
            dactyl_copy_flipped_avx512(destination + (size_t)row * padded_row, conv->input + (size_t)row * input_row, bytes);
            continue;
        }
#endif
        memcpy(destination + (size_t)row * padded_row, conv->input + (size_t)row * input_row, bytes);
    }
}

static size_t pixel_tiles(const dactyl_conv2d_q8 *conv) {
    size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    return (pixels + (size_t)conv->tile_pixels - 1) / (size_t)conv->tile_pixels;
}

size_t dactyl_conv2d_q8_phases(const dactyl_conv2d_q8 *conv) { return conv->winograd ? 2 : 1; }

size_t dactyl_conv2d_q8_phase_end(const dactyl_conv2d_q8 *conv, size_t phase) {
    if (!conv->winograd) return dactyl_conv2d_q8_tasks(conv);
    size_t tiles = (size_t)conv->winograd_tiles_x * (size_t)conv->winograd_tiles_y;
    size_t blocks = dactyl_winograd_lanes(conv->output_channels) / dactyl_winograd_block(conv->output_channels);
    return phase == 0 ? tiles : tiles + blocks * (size_t)conv->winograd_tile_groups;
}

size_t dactyl_conv2d_q8_tasks(const dactyl_conv2d_q8 *conv) {
    if (conv->winograd) return dactyl_conv2d_q8_phase_end(conv, 1);
    size_t blocks = (size_t)(conv->output_channels + conv->block_channels - 1) / (size_t)conv->block_channels;
    return blocks * pixel_tiles(conv);
}

static inline void run_tile(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    switch (conv->path) {
#if defined(__x86_64__)
    case DACTYL_PATH_AVX512_VNNI: dactyl_conv_tile_avx512_vnni(conv, tile); break;
    case DACTYL_PATH_AVX2: dactyl_conv_tile_avx2(conv, tile); break;
#elif defined(__aarch64__)
    case DACTYL_PATH_NEON: dactyl_conv_tile_neon(conv, tile); break;
    case DACTYL_PATH_NEON_DOT: dactyl_conv_tile_neon_dot(conv, tile); break;
#endif
    default: abort();
    }
}

// Kernel rows in the padding for the whole tile are skipped; the bias takes what their zero
// points would have added (the packed bias assumes every row is computed).
static inline const int32_t *bias_without_rows(const dactyl_conv2d_q8 *conv, const void *packed_block, uint32_t skip_rows,
                                               int32_t *adjusted) {
    const int32_t *bias = (const int32_t *)packed_block;
    if (!skip_rows) return bias;
    const int32_t *padding_rows = bias + 3 * (size_t)conv->block_channels;
    for (int32_t lane = 0; lane < conv->block_channels; lane++) {
        uint32_t value = (uint32_t)bias[lane];
        for (size_t r = 0; r < (size_t)conv->kernel_height; r++)
            if (skip_rows >> r & 1) value += (uint32_t)padding_rows[r * (size_t)conv->block_channels + (size_t)lane];
        adjusted[lane] = (int32_t)value;
    }
    return adjusted;
}

// Bit r: kernel row r of output row oy lies inside the input (not in the padding).
static inline uint32_t inside_rows(const dactyl_conv2d_q8 *conv, size_t oy) {
    long top = (long)oy * conv->stride_height - conv->pad_height;
    long inside_first = top < 0 ? -top : 0;
    long inside_end = conv->input_height - top < (long)conv->kernel_height ? conv->input_height - top : (long)conv->kernel_height;
    if (inside_first >= inside_end) return 0;
    return (uint32_t)(((1ull << inside_end) - 1) & ~((1ull << inside_first) - 1));
}

// The driver over the padded copy: every kernel row is a plain offset into it.
static void run_padded(const dactyl_conv2d_q8 *conv, size_t first, size_t end, size_t then) {
    const size_t kernel_height = (size_t)conv->kernel_height;
    const size_t tiles = pixel_tiles(conv);
    const size_t blocks = (size_t)(conv->output_channels + conv->block_channels - 1) / (size_t)conv->block_channels;
    const size_t pixels = (size_t)conv->output_height * (size_t)conv->output_width;
    const size_t tile_pixels = (size_t)conv->tile_pixels;
    const size_t channels = (size_t)conv->input_channels;
    const size_t padded_row = (size_t)conv->padded_width * channels;
    const uint32_t all_rows = (uint32_t)((1ull << kernel_height) - 1);
    const size_t output_width = (size_t)conv->output_width, output_channels = (size_t)conv->output_channels;
    const size_t row_step = (size_t)conv->stride_height * padded_row, column_step = (size_t)conv->stride_width * channels;
    const int8_t *rows[DACTYL_MAX_TILE_PIXELS * 16];
    int8_t *outputs[DACTYL_MAX_TILE_PIXELS];
    const int8_t *residuals[DACTYL_MAX_TILE_PIXELS];
    _Alignas(64) int32_t adjusted_bias[64];
    const uint16_t *tap_plan = conv->tap_plan;
    const size_t class_bias_offset = (3 + kernel_height) * (size_t)conv->block_channels;

    const int prefetches = conv->path == DACTYL_PATH_AVX512_VNNI;
    // Task = block * tiles + tile_index, stepped without a division per task.
    size_t block = first / tiles, tile_index = first % tiles;
    for (size_t task = first; task < end; task++) {
        size_t channel = block * (size_t)conv->block_channels;
        size_t first_pixel = tile_index * tile_pixels;
        size_t valid = pixels - first_pixel < tile_pixels ? pixels - first_pixel : tile_pixels;
        // One division per task: the tile's pixels follow from its first by steps along the row.
        size_t oy = first_pixel / output_width, ox = first_pixel - oy * output_width;
        const int8_t *window = conv->padded + oy * row_step + ox * column_step;
        uint32_t skip_rows = all_rows & ~inside_rows(conv, oy);
        int8_t *output = conv->output + first_pixel * output_channels + channel;
        const int8_t *residual = conv->residual ? conv->residual + first_pixel * output_channels + channel : NULL;
        for (size_t m = 0; m < tile_pixels; m++) {
            for (size_t r = 0; r < kernel_height; r++) rows[m * kernel_height + r] = window + r * padded_row;
            outputs[m] = output;
            residuals[m] = residual;
            // Pixels past the last real one repeat it (computed, not stored).
            if (m + 1 < valid) {
                output += output_channels;
                if (residual) residual += output_channels;
                if (++ox == output_width) {
                    ox = 0;
                    oy++;
                    window = conv->padded + oy * row_step;
                    skip_rows &= ~inside_rows(conv, oy);
                } else {
                    window += column_step;
                }
            }
        }
        size_t remaining = (size_t)conv->output_channels - channel;
        const void *packed_block = (const uint8_t *)conv->packed + block * conv->block_bytes;
        // Convs that skip taps per pixel: a border tile follows its record, any other starts
        // from its class's bias (which leaves out the rows skipped for the whole tile).
        const int32_t *bias;
        const dactyl_tap_border *border = NULL;
        if (!tap_plan) {
            bias = bias_without_rows(conv, packed_block, skip_rows, adjusted_bias);
        } else if (tap_plan[tile_index] & 0x8000) {
            border = conv->tap_borders + (tap_plan[tile_index] & 0x7fff);
            skip_rows = border->skip_rows;
            bias = NULL;
        } else {
            bias = (const int32_t *)packed_block + class_bias_offset + (size_t)tap_plan[tile_index] * (size_t)conv->block_channels;
        }
        dactyl_conv_tile tile = {
            .rows = rows, .output = outputs, .residual = conv->residual ? residuals : NULL, .valid = valid,
            .channels = remaining < (size_t)conv->block_channels ? remaining : (size_t)conv->block_channels,
            .block = packed_block, .bias = bias, .skip_rows = skip_rows, .border = border,
        };
        // Wide layers' weights come from L3 or memory once a frame: while this block's tiles
        // run, each fetches its share of the next block this thread runs (in this range, or
        // from task `then` on) into L2, or in its last block, of the next conv's. Only the
        // VNNI kernel prefetches: for the others `following` is this block, and none is sought.
        const int8_t *ahead = NULL;
        size_t ahead_bytes = 0;
        size_t following = !prefetches ? block
                         : (block + 1) * tiles < end ? block + 1 : then < blocks * tiles ? then / tiles : blocks;
        if (following > block && following < blocks) {
            ahead = (const int8_t *)conv->packed + following * conv->block_bytes;
            ahead_bytes = conv->block_bytes;
        } else if (following >= blocks && following > block && conv->next && conv->next->packed) {
            // Which block a thread starts the next conv with is up to the claims: guess the
            // same share of it as of this one.
            const dactyl_conv2d_q8 *next = conv->next;
            size_t next_tiles = pixel_tiles(next), next_tasks = dactyl_conv2d_q8_tasks(next);
            size_t next_block = (size_t)((double)first / (double)(blocks * tiles) * (double)next_tasks) / next_tiles;
            ahead = (const int8_t *)next->packed + next_block * next->block_bytes;
            ahead_bytes = next->block_bytes;
        }
        if (ahead) {
            size_t lines = ahead_bytes / 64, share = (lines + tiles - 1) / tiles, begin = tile_index * share;
            if (begin < lines) {
                size_t groups = (size_t)__builtin_popcount(all_rows & ~skip_rows) * (size_t)conv->row_groups;
                tile.prefetch = ahead + begin * 64;
                tile.prefetch_lines = lines - begin < share ? lines - begin : share;
                tile.prefetch_per_group = groups ? (tile.prefetch_lines + groups - 1) / groups : 0;
            }
        }
        run_tile(conv, &tile);
        if (++tile_index == tiles) {
            tile_index = 0;
            block++;
        }
    }
}

// Tasks run channel block by channel block (block-major), so a thread's share of the weights
// stays in cache while it walks the pixels.
void dactyl_conv2d_q8_run(const dactyl_conv2d_q8 *conv, size_t first, size_t end) {
    dactyl_conv2d_q8_run_then(conv, first, end, end);
}

void dactyl_conv2d_q8_run_then(const dactyl_conv2d_q8 *conv, size_t first, size_t end, size_t then) {
#if defined(__aarch64__)
    if (conv->winograd) {
        // Tasks [0, tiles) transform the input, the rest are the products (block-major).
        size_t tiles = dactyl_conv2d_q8_phase_end(conv, 0);
        if (first < tiles) dactyl_winograd_transform_inputs(conv, first, end < tiles ? end : tiles);
        if (end > tiles) dactyl_winograd_run_products(conv, (first > tiles ? first : tiles) - tiles, end - tiles);
        return;
    }
#endif
    run_padded(conv, first, end, then);
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
