// int8 Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions on the ARMv8.0 NEON path (Pi 4's
// Cortex-A72, Zero 2 W's A53), bit-exact with the direct sum (docs/aarch64-estimate.md,
// "Winograd F(4x4, 3x3) on the smull path"). Not on the sdot path: sdot does 16 MACs per
// instruction on two pipes, int16 smlal 4 on one, so 2.25x fewer multiplies do not pay there.
//
// All matrices are scaled to integers: U = G' g G'^T (G' = 24 G with its last row / 4, |U| <=
// 18432), V = B^T d B on the raw int8 window d of the padded copy (|V| <= 12800), both int16;
// M = sum over input channels of U . V in int32 (smlal, wrapping); R = A''^T M A'' (A^T with its
// last column x 4) in int32, wrapping. Then R = 576 Y mod 2^32 for the exact direct sum Y, and
// since 9 is invertible mod 2^32, Y = (int32)(R * inv9) >> 6 exactly whenever |Y| < 2^25, which
// the packer checks per output channel (128 * sum|w| < 2^25) before it picks this path.
//
// Two phases per run: (1) every 4x4 output tile's 6x6 input window is transformed into V
// ([position][tile][input channel] int16); (2) per group of 4 tiles and block of 8 output
// channels, the 36 small products over the input channels, then the output transform, the bias
// (zero point folded, as the direct path) and the NEON output stage.
#if defined(__aarch64__)
#include "conv2d_q8_neon_common.h"

#define INLINE static inline __attribute__((always_inline))
#define WINO_INV9 954437177u  // 9 * WINO_INV9 = 1 mod 2^32

static const int8_t kernel_transform[6][3] = {{6, 0, 0}, {-4, -4, -4}, {-4, 4, -4}, {1, 2, 4}, {1, -2, 4}, {0, 0, 6}};

static size_t tiles_of(const dactyl_conv2d_q8 *conv) {
    return (size_t)conv->winograd_tiles_x * (size_t)conv->winograd_tiles_y;
}

// The tiles' transformed inputs are laid out in groups of DACTYL_WINOGRAD_TILE_GROUP.
static size_t grouped_tiles(const dactyl_conv2d_q8 *conv) {
    return (size_t)conv->winograd_tile_groups * DACTYL_WINOGRAD_TILE_GROUP;
}

int32_t dactyl_winograd_bound_holds(const dactyl_conv2d_q8 *conv, const int8_t *weights) {
    const size_t filter = 9 * (size_t)conv->input_channels;
    for (size_t o = 0; o < (size_t)conv->output_channels; o++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < filter; i++) {
            int32_t w = weights[o * filter + i];
            sum += (uint64_t)(w < 0 ? -w : w);
        }
        if (sum * 128 >= (1ull << 25)) return 0;
    }
    return 1;
}

void dactyl_winograd_pack_weights(const dactyl_conv2d_q8 *conv, const int8_t *weights, int16_t *transformed) {
    const size_t channels = (size_t)conv->input_channels, rounded = (size_t)conv->winograd_channels;
    const size_t block = dactyl_winograd_block(conv->output_channels);
    memset(transformed, 0, dactyl_winograd_lanes(conv->output_channels) * 36 * rounded * sizeof(int16_t));
    for (size_t o = 0; o < (size_t)conv->output_channels; o++) {
        for (size_t c = 0; c < channels; c++) {
            int32_t g[3][3], half[6][3];
            // OHWI: weight (o, ky, kx, c).
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) g[ky][kx] = weights[((o * 3 + (size_t)ky) * 3 + (size_t)kx) * channels + c];
            for (int i = 0; i < 6; i++)
                for (int k = 0; k < 3; k++)
                    half[i][k] = kernel_transform[i][0] * g[0][k] + kernel_transform[i][1] * g[1][k] + kernel_transform[i][2] * g[2][k];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) {
                    int32_t u = half[i][0] * kernel_transform[j][0] + half[i][1] * kernel_transform[j][1] + half[i][2] * kernel_transform[j][2];
                    // [output block][position][input channel][block output channels]
                    transformed[(((o / block) * 36 + (size_t)(i * 6 + j)) * rounded + c) * block + o % block] = (int16_t)u;
                }
        }
    }
}

// B^T applied to six vectors (rows or columns of the window).
INLINE void input_transform6(const int16x8_t d[6], int16x8_t out[6]) {
    int16x8_t d2_4 = vsubq_s16(d[4], d[2]);  // d4 - d2
    int16x8_t d1_3 = vsubq_s16(d[3], d[1]);  // d3 - d1
    out[0] = vaddq_s16(vmlsq_n_s16(vshlq_n_s16(d[0], 2), d[2], 5), d[4]);             // 4 d0 - 5 d2 + d4
    int16x8_t a = vsubq_s16(vaddq_s16(d[3], d[4]), vshlq_n_s16(vaddq_s16(d[1], d[2]), 2));  // -4 d1 - 4 d2 + d3 + d4
    int16x8_t b = vaddq_s16(vsubq_s16(d[4], d[3]), vshlq_n_s16(vsubq_s16(d[1], d[2]), 2));  // 4 d1 - 4 d2 - d3 + d4
    out[1] = a;
    out[2] = b;
    out[3] = vaddq_s16(d2_4, vshlq_n_s16(d1_3, 1));                                          // -2 d1 - d2 + 2 d3 + d4
    out[4] = vsubq_s16(d2_4, vshlq_n_s16(d1_3, 1));                                          // 2 d1 - d2 - 2 d3 + d4
    out[5] = vaddq_s16(vmlsq_n_s16(vshlq_n_s16(d[1], 2), d[3], 5), d[5]);             // 4 d1 - 5 d3 + d5
}

void dactyl_winograd_transform_inputs(const dactyl_conv2d_q8 *conv, size_t first, size_t end) {
    const size_t channels = (size_t)conv->input_channels, rounded = (size_t)conv->winograd_channels;
    const size_t tiles_x = (size_t)conv->winograd_tiles_x;
    const size_t row = (size_t)conv->padded_width * channels;
    const size_t position_stride = grouped_tiles(conv) * rounded;
    for (size_t t = first; t < end; t++) {
        size_t ty = t / tiles_x, tx = t - ty * tiles_x;
        const int8_t *origin = conv->padded + ty * 4 * row + tx * 4 * channels;
        int16_t *out = conv->winograd_input + t * rounded;
        // Channels past the last (c >= input_channels) read the next pixel's bytes or the slack
        // after the copy: their U is 0, so whatever V holds there adds nothing.
        for (size_t c = 0; c < rounded; c += 8) {
            int16x8_t columns[6][6];  // [k][j]: B^T applied down column j
            for (int j = 0; j < 6; j++) {
                int16x8_t d[6], k[6];
                for (int i = 0; i < 6; i++) d[i] = vmovl_s8(vld1_s8(origin + (size_t)i * row + (size_t)j * channels + c));
                input_transform6(d, k);
                for (int i = 0; i < 6; i++) columns[i][j] = k[i];
            }
            for (int k = 0; k < 6; k++) {
                int16x8_t v[6];
                input_transform6(columns[k], v);
                for (int l = 0; l < 6; l++) vst1q_s16(out + (size_t)(k * 6 + l) * position_stride + c, v[l]);
            }
        }
    }
}

// A''^T applied to six int32 vectors: four outputs.
INLINE void output_transform6(const int32x4_t m[6], int32x4_t out[4]) {
    int32x4_t s12 = vaddq_s32(m[1], m[2]), d12 = vsubq_s32(m[1], m[2]);
    int32x4_t s34 = vaddq_s32(m[3], m[4]), d34 = vsubq_s32(m[3], m[4]);
    out[0] = vaddq_s32(vaddq_s32(m[0], s12), s34);
    out[1] = vaddq_s32(d12, vshlq_n_s32(d34, 1));
    out[2] = vaddq_s32(s12, vshlq_n_s32(s34, 2));
    out[3] = vaddq_s32(vaddq_s32(d12, vshlq_n_s32(d34, 3)), vshlq_n_s32(m[5], 2));
}

// The 36 products of one group of 4 tiles x BLOCK (8 or 16) output channels, over all input
// channels: M[position][tile][BLOCK channels]. Per 8 input channels: 4 V loads (one per tile),
// BLOCK / 2 loads of U (BLOCK channels per input channel), 8 * BLOCK smlal by element.
INLINE void products(const int16_t *u_block, const int16_t *v_group, size_t rounded, size_t position_stride,
                     int32_t m[36][DACTYL_WINOGRAD_TILE_GROUP][16], const size_t BLOCK) {
    for (size_t p = 0; p < 36; p++) {
        const int16_t *u = u_block + p * rounded * BLOCK;
        const int16_t *v = v_group + p * position_stride;
        int32x4_t acc[4][4];
        for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = vdupq_n_s32(0);
        // Pointers stepped along the channels, one counter: no index arithmetic per load.
        const int16_t *v0p = v, *v1p = v + rounded, *v2p = v + 2 * rounded, *v3p = v + 3 * rounded, *up = u;
        for (size_t groups = rounded / 8; groups; groups--) {
            const int16x8_t v0 = vld1q_s16(v0p), v1 = vld1q_s16(v1p), v2 = vld1q_s16(v2p), v3 = vld1q_s16(v3p);
            v0p += 8;
            v1p += 8;
            v2p += 8;
            v3p += 8;
#define WINO_TILE(t, vt, j)                                                      \
    acc[t][0] = vmlal_laneq_s16(acc[t][0], vget_low_s16(w0), vt, j);             \
    acc[t][1] = vmlal_high_laneq_s16(acc[t][1], w0, vt, j);                      \
    if (BLOCK == 16) {                                                           \
        acc[t][2] = vmlal_laneq_s16(acc[t][2], vget_low_s16(w1), vt, j);         \
        acc[t][3] = vmlal_high_laneq_s16(acc[t][3], w1, vt, j);                  \
    }
#define WINO_LANE(j)                                                             \
    {                                                                            \
        const int16x8_t w0 = vld1q_s16(up + (j) * BLOCK);                        \
        const int16x8_t w1 = BLOCK == 16 ? vld1q_s16(up + (j) * BLOCK + 8) : w0; \
        WINO_TILE(0, v0, j) WINO_TILE(1, v1, j) WINO_TILE(2, v2, j) WINO_TILE(3, v3, j)          \
    }
            WINO_LANE(0) WINO_LANE(1) WINO_LANE(2) WINO_LANE(3) WINO_LANE(4) WINO_LANE(5) WINO_LANE(6) WINO_LANE(7)
#undef WINO_LANE
#undef WINO_TILE
            up += 8 * BLOCK;
        }
        for (int t = 0; t < 4; t++)
            for (size_t q = 0; q < BLOCK / 4; q++) vst1q_s32(m[p][t] + 4 * q, acc[t][q]);
    }
}

// The second pass of the output transform for one tile and 4 channels, Y = R * inv9 >> 6, the
// bias and the output stage, for `rows` x `columns` pixels and `count` channels.
INLINE void finish_quarter(const dactyl_conv2d_q8 *conv, const dactyl_neon_output *stage, const dactyl_neon_channels4 *constants,
                        int32x4_t first_pass[4][6], int32x4_t bias, int32x4_t inverse9, size_t first_pixel, size_t channel,
                        size_t rows, size_t columns, size_t count, int residual, const int FAST) {
    const size_t output_width = (size_t)conv->output_width, output_channels = (size_t)conv->output_channels;
    for (size_t r = 0; r < rows; r++) {
        int32x4_t out[4];
        output_transform6(first_pass[r], out);
        for (size_t c = 0; c < columns; c++) {
            // R = 576 Y (mod 2^32): times inv9 is 64 Y, exact in int32 for |Y| < 2^25.
            int32x4_t y = vshrq_n_s32(vmulq_s32(out[c], inverse9), 6);
            size_t offset = (first_pixel + r * output_width + c) * output_channels + channel;
            dactyl_neon_requantize4(stage, constants, vaddq_s32(y, bias), residual ? conv->residual + offset : NULL,
                                    conv->output + offset, count, FAST);
        }
    }
}

// The output stage of one tile's 4 channels (bias: the channels' bias).
INLINE void finish_channels(const dactyl_conv2d_q8 *conv, const dactyl_neon_output *stage, const int32_t *multipliers,
                            const int32_t *shifts, int32x4_t first_pass[4][6], int32x4_t bias, int32x4_t inverse9,
                            size_t first_pixel, size_t channel, size_t rows, size_t columns, size_t count, const int FAST) {
    const dactyl_neon_channels4 constants = dactyl_neon_channels4_load(multipliers + channel, shifts + channel, FAST);
    // A whole tile (16 pixels, 4 channels: nearly all) takes code with constant trip
    // counts and no residual test per pixel.
    if (rows == 4 && columns == 4 && count == 4) {
        if (conv->residual)
            finish_quarter(conv, stage, &constants, first_pass, bias, inverse9, first_pixel, channel, 4, 4, 4, 1, FAST);
        else
            finish_quarter(conv, stage, &constants, first_pass, bias, inverse9, first_pixel, channel, 4, 4, 4, 0, FAST);
    } else {
        finish_quarter(conv, stage, &constants, first_pass, bias, inverse9, first_pixel, channel, rows, columns, count,
                       conv->residual != NULL, FAST);
    }
}

INLINE void run_products(const dactyl_conv2d_q8 *conv, size_t first, size_t end, const size_t BLOCK) {
    const size_t rounded = (size_t)conv->winograd_channels, groups = (size_t)conv->winograd_tile_groups;
    const size_t position_stride = grouped_tiles(conv) * rounded, tiles = tiles_of(conv);
    const size_t tiles_x = (size_t)conv->winograd_tiles_x;
    const size_t output_height = (size_t)conv->output_height, output_width = (size_t)conv->output_width;
    const size_t output_channels = (size_t)conv->output_channels;
    const size_t lanes = (output_channels + BLOCK - 1) / BLOCK * BLOCK;
    const int32_t *bias = (const int32_t *)conv->packed;
    const int32_t *multipliers = bias + lanes, *shifts = multipliers + lanes;
    const int16_t *transformed_weights = (const int16_t *)dactyl_winograd_weights(conv);
    const int fast = dactyl_neon_requant_fast(conv, conv->residual != NULL);
    const dactyl_neon_output stage = dactyl_neon_output_make(conv, fast);
    const int32x4_t inverse9 = vreinterpretq_s32_u32(vdupq_n_u32(WINO_INV9));
    _Alignas(16) int32_t m[36][DACTYL_WINOGRAD_TILE_GROUP][16];
    for (size_t task = first; task < end; task++) {
        size_t block = task / groups, group = task - block * groups;
        products(transformed_weights + block * 36 * rounded * BLOCK, conv->winograd_input + group * DACTYL_WINOGRAD_TILE_GROUP * rounded,
                 rounded, position_stride, m, BLOCK);
        for (size_t t = 0; t < DACTYL_WINOGRAD_TILE_GROUP; t++) {
            size_t tile = group * DACTYL_WINOGRAD_TILE_GROUP + t;
            if (tile >= tiles) break;
            size_t ty = tile / tiles_x, tx = tile - ty * tiles_x;
            size_t rows = output_height - ty * 4 < 4 ? output_height - ty * 4 : 4;
            size_t columns = output_width - tx * 4 < 4 ? output_width - tx * 4 : 4;
            for (size_t quarter = 0; quarter < BLOCK / 4; quarter++) {
                size_t channel = block * BLOCK + quarter * 4;
                if (channel >= output_channels) break;
                size_t count = output_channels - channel < 4 ? output_channels - channel : 4;
                int32x4_t first_pass[4][6];  // [r][j] = A''^T down column j
                for (int j = 0; j < 6; j++) {
                    int32x4_t column[6], out[4];
                    for (int i = 0; i < 6; i++) column[i] = vld1q_s32(m[i * 6 + j][t] + quarter * 4);
                    output_transform6(column, out);
                    for (int r = 0; r < 4; r++) first_pass[r][j] = out[r];
                }
                const int32x4_t channel_bias = vld1q_s32(bias + channel);
                const size_t first_pixel = ty * 4 * output_width + tx * 4;
                if (fast)
                    finish_channels(conv, &stage, multipliers, shifts, first_pass, channel_bias, inverse9, first_pixel, channel,
                                    rows, columns, count, 1);
                else
                    finish_channels(conv, &stage, multipliers, shifts, first_pass, channel_bias, inverse9, first_pixel, channel,
                                    rows, columns, count, 0);
            }
        }
    }
}

void dactyl_winograd_run_products(const dactyl_conv2d_q8 *conv, size_t first, size_t end) {
    if (conv->block_channels == 16) run_products(conv, first, end, 16);
    else run_products(conv, first, end, 8);
}
#endif
