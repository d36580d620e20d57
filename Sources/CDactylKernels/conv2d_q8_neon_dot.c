// int8 conv2d micro-kernel for aarch64 ARMv8.2 dotprod (Pi 5's Cortex-A76): sdot adds the dot
// product of 4 int8 pairs to each int32 lane. Only these functions are compiled for dotprod;
// the binary stays ARMv8.0 and calls them when getauxval reports HWCAP_ASIMDDP.
//
// Register tile: PIXELS x VECTORS accumulators (4 x 4 for blocks of 16 channels, or 5 x 4 on
// maps where 5-pixel tiles waste fewer pixels, as 7x7; 8 x 2 for blocks of 8), 24-29 of the 32
// q registers with the operands. A kernel row goes by quads of 4 groups (16 input bytes):
// each pixel's quad is one 16-byte load, each group's weights for the block one multi-register
// load (ld1 of 64 or 32 bytes; 5 x 4: one vector at a time), and the indexed sdot picks the
// group's 4 input bytes from the pixel's quad. 4 x 4: 8 loads per 64 sdot (the broadcast form
// this replaces did 8 per 16); 5 x 4: 13 per 80; 8 x 2: 12 per 64. Groups past the last whole
// quad (a row of 4k + 1..3 groups: the 7x7 stem, odd channel counts) take one broadcast 4-byte
// load each: reading 16 bytes there could run past the row's readable end.
#if defined(__aarch64__)
#include "conv2d_q8_neon_common.h"

#define TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#define INLINE static inline __attribute__((always_inline))

typedef struct { int8x16_t v[4]; } weight_vectors;

INLINE TARGET weight_vectors load_group_weights(const int8_t *w, const int VECTORS) {
    weight_vectors out;
    if (VECTORS == 4) {
        int8x16x4_t four = vld1q_s8_x4(w);
        out.v[0] = four.val[0]; out.v[1] = four.val[1]; out.v[2] = four.val[2]; out.v[3] = four.val[3];
    } else {
        int8x16x2_t two = vld1q_s8_x2(w);
        out.v[0] = two.val[0]; out.v[1] = two.val[1];
        out.v[2] = out.v[3] = two.val[0];  // unused
    }
    return out;
}

INLINE TARGET void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 4;
    const size_t group_bytes = block_channels * 4;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    const size_t quads = groups / 4;
    int32x4_t acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int v = 0; v < VECTORS; v++) {
        int32x4_t b = vld1q_s32(bias + 4 * v);
        for (int m = 0; m < PIXELS; m++) acc[m][v] = b;
    }
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int8_t *w = weights + r * groups * group_bytes;
        for (size_t q = 0; q < quads; q++) {
            int8x16_t xq[DACTYL_MAX_TILE_PIXELS];
            for (int m = 0; m < PIXELS; m++) xq[m] = vld1q_s8(x[m] + 16 * q);
            // The lane argument must be a literal: one step per group of the quad. 5 x 4 loads
            // the group's weights one vector at a time (the empty asm keeps clang from hoisting
            // the loads together): with all 4 (and the next group's) live, it spilled every
            // iteration.
#define DACTYL_SDOT_STEP(lane)                                                                   \
            if (PIXELS == 5) {                                                                   \
                for (int v = 0; v < VECTORS; v++) {                                              \
                    int8x16_t wv = vld1q_s8(w + 16 * v);                                         \
                    __asm__("" : "+w"(wv));                                                      \
                    for (int m = 0; m < PIXELS; m++)                                             \
                        acc[m][v] = vdotq_laneq_s32(acc[m][v], wv, xq[m], lane);                 \
                }                                                                                \
                w += group_bytes;                                                                \
            } else {                                                                             \
                weight_vectors wv = load_group_weights(w, VECTORS);                              \
                w += group_bytes;                                                                \
                for (int m = 0; m < PIXELS; m++)                                                 \
                    for (int v = 0; v < VECTORS; v++)                                            \
                        acc[m][v] = vdotq_laneq_s32(acc[m][v], wv.v[v], xq[m], lane);            \
            }
            DACTYL_SDOT_STEP(0)
            DACTYL_SDOT_STEP(1)
            DACTYL_SDOT_STEP(2)
            DACTYL_SDOT_STEP(3)
#undef DACTYL_SDOT_STEP
        }
        for (size_t g = quads * 4; g < groups; g++) {
            weight_vectors wv = load_group_weights(w, VECTORS);
            w += group_bytes;
            for (int m = 0; m < PIXELS; m++) {
                int8x16_t xv = vreinterpretq_s8_u32(vdupq_n_u32(dactyl_load_u32(x[m] + 4 * g)));
                for (int v = 0; v < VECTORS; v++) acc[m][v] = vdotq_s32(acc[m][v], wv.v[v], xv);
            }
        }
    }
    dactyl_neon_store_tile(conv, tile, multipliers, shifts, acc, PIXELS, VECTORS);
}

// One kernel column (`quads` quads of 16 input bytes from `offset` in each pixel's row) for the
// tile's pixels in MASK only (bit m: pixel m; a compile-time constant, so acc[][] stays in
// registers); the other pixels' accumulators are left as they are.
INLINE TARGET void column_quads(int32x4_t acc[][4], const int8_t *const *x, size_t offset, const int8_t *w, size_t quads,
                                const int MASK) {
    const size_t group_bytes = 64;
    for (size_t q = 0; q < quads; q++) {
        int8x16_t xq[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < 5; m++)
            if (MASK >> m & 1) xq[m] = vld1q_s8(x[m] + offset + 16 * q);
        // As tile_kernel: with 5 pixels one weight vector at a time.
#define DACTYL_SDOT_STEP(lane)                                                                   \
        if (MASK == 31) {                                                                        \
            for (int v = 0; v < 4; v++) {                                                        \
                int8x16_t wv = vld1q_s8(w + 16 * v);                                             \
                __asm__("" : "+w"(wv));                                                          \
                for (int m = 0; m < 5; m++) acc[m][v] = vdotq_laneq_s32(acc[m][v], wv, xq[m], lane); \
            }                                                                                    \
        } else {                                                                                 \
            weight_vectors wv = load_group_weights(w, 4);                                        \
            for (int m = 0; m < 5; m++)                                                          \
                if (MASK >> m & 1)                                                               \
                    for (int v = 0; v < 4; v++) acc[m][v] = vdotq_laneq_s32(acc[m][v], wv.v[v], xq[m], lane); \
        }                                                                                        \
        w += group_bytes;
        DACTYL_SDOT_STEP(0)
        DACTYL_SDOT_STEP(1)
        DACTYL_SDOT_STEP(2)
        DACTYL_SDOT_STEP(3)
#undef DACTYL_SDOT_STEP
    }
}

// A tile at a border of a conv with tap classes (16-channel blocks, input channels % 16 == 0:
// a kernel column is whole quads): each tap runs for the pixels whose window has it inside the
// input (border->tap_rows[r] & border->tap_columns[c]), from a bias per pixel.
INLINE TARGET void tile_kernel_taps(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS) {
    const size_t block_channels = 16, group_bytes = 64;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, kernel_width = (size_t)conv->kernel_width;
    const size_t groups = (size_t)conv->row_groups, channels = (size_t)conv->input_channels, quads = channels / 16;
    const dactyl_tap_border *border = tile->border;
    int32x4_t acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int m = 0; m < PIXELS; m++)
        for (int v = 0; v < 4; v++) acc[m][v] = vld1q_s32(dactyl_class_bias(conv, tile->block, border->pixel_classes[m]) + 4 * v);
    for (size_t r = 0; r < kernel_height; r++) {
        const unsigned row_pixels = border->tap_rows[r];
        if (!row_pixels) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        for (size_t c = 0; c < kernel_width; c++) {
            const int8_t *w = weights + (r * groups + c * quads * 4) * group_bytes;
            size_t offset = c * channels;
            switch (row_pixels & border->tap_columns[c]) {
#define DACTYL_MASK_CASE(mask) \
            case mask: if (mask < 1 << PIXELS) column_quads(acc, x, offset, w, quads, mask); break;
            DACTYL_MASK_CASE(1) DACTYL_MASK_CASE(2) DACTYL_MASK_CASE(3) DACTYL_MASK_CASE(4) DACTYL_MASK_CASE(5)
            DACTYL_MASK_CASE(6) DACTYL_MASK_CASE(7) DACTYL_MASK_CASE(8) DACTYL_MASK_CASE(9) DACTYL_MASK_CASE(10)
            DACTYL_MASK_CASE(11) DACTYL_MASK_CASE(12) DACTYL_MASK_CASE(13) DACTYL_MASK_CASE(14) DACTYL_MASK_CASE(15)
            DACTYL_MASK_CASE(16) DACTYL_MASK_CASE(17) DACTYL_MASK_CASE(18) DACTYL_MASK_CASE(19) DACTYL_MASK_CASE(20)
            DACTYL_MASK_CASE(21) DACTYL_MASK_CASE(22) DACTYL_MASK_CASE(23) DACTYL_MASK_CASE(24) DACTYL_MASK_CASE(25)
            DACTYL_MASK_CASE(26) DACTYL_MASK_CASE(27) DACTYL_MASK_CASE(28) DACTYL_MASK_CASE(29) DACTYL_MASK_CASE(30)
            DACTYL_MASK_CASE(31)
#undef DACTYL_MASK_CASE
            default: break;  // 0: no pixel computes this tap
            }
        }
    }
    dactyl_neon_store_tile(conv, tile, multipliers, shifts, acc, PIXELS, 4);
}

TARGET void dactyl_conv_tile_neon_dot(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    if (tile->border) {
        if (conv->tile_pixels == 5) tile_kernel_taps(conv, tile, 5);
        else tile_kernel_taps(conv, tile, 4);
    }
    else if (conv->block_channels == 8) tile_kernel(conv, tile, 8, 2);
    else if (conv->tile_pixels == 5) tile_kernel(conv, tile, 5, 4);
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
