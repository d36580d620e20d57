// int8 conv2d micro-kernel for x86_64 AVX2: vpmaddwd on sign-extended int16 (weights widened
// at pack time), exact where vpmaddubsw's int16 saturation would not be. One ymm holds 8
// output channels; each 4-byte input group is split into the pairs (x0, x1) and (x2, x3).
#if defined(__x86_64__)
#include <immintrin.h>
#include "conv2d_q8_internal.h"

#define TARGET __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline))

// Arithmetic shift right of int64 lanes (AVX2 has none): shift the biased value logically.
INLINE TARGET __m256i shift_right64(__m256i value, __m256i shift) {
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    return _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_xor_si256(value, sign), shift), _mm256_srlv_epi64(sign, shift));
}

INLINE TARGET __m256i max64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(b, a)); }
INLINE TARGET __m256i min64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }

// The fused output stage for 8 channels, in 64-bit lanes (even and odd channels apart).
INLINE TARGET void requantize8(const dactyl_conv2d_q8 *conv, __m256i acc, const int32_t *multipliers,
                               const int32_t *shifts, const int8_t *residual, int8_t *output, size_t count) {
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i low = _mm256_set1_epi64x(0xFFFFFFFF);
    __m256i multiplier = _mm256_loadu_si256((const __m256i *)multipliers);
    __m256i shift = _mm256_loadu_si256((const __m256i *)shifts);
    __m256i shift_even = _mm256_and_si256(shift, low), shift_odd = _mm256_srli_epi64(shift, 32);
    __m256i even = _mm256_mul_epi32(acc, multiplier);
    __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(multiplier, 32));
    even = shift_right64(_mm256_add_epi64(even, _mm256_sllv_epi64(one, _mm256_sub_epi64(shift_even, one))), shift_even);
    odd = shift_right64(_mm256_add_epi64(odd, _mm256_sllv_epi64(one, _mm256_sub_epi64(shift_odd, one))), shift_odd);
    if (residual) {
        int64_t bytes = 0;
        memcpy(&bytes, residual, count < 8 ? count : 8);
        __m256i r = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes));
        r = _mm256_sub_epi32(r, _mm256_set1_epi32(conv->residual_zero_point));
        __m256i residual_multiplier = _mm256_set1_epi32(conv->residual_multiplier);
        __m256i round = _mm256_set1_epi64x((int64_t)1 << (conv->residual_shift - 1));
        __m256i residual_shift = _mm256_set1_epi64x(conv->residual_shift);
        __m256i r_even = _mm256_mul_epi32(r, residual_multiplier);
        __m256i r_odd = _mm256_mul_epi32(_mm256_srli_epi64(r, 32), residual_multiplier);
        even = _mm256_add_epi64(even, shift_right64(_mm256_add_epi64(r_even, round), residual_shift));
        odd = _mm256_add_epi64(odd, shift_right64(_mm256_add_epi64(r_odd, round), residual_shift));
    }
    __m256i zero_point = _mm256_set1_epi64x(conv->output_zero_point);
    int32_t lower_bound = conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128;
    __m256i lower = _mm256_set1_epi64x(lower_bound), upper = _mm256_set1_epi64x(127);
    even = min64(max64(_mm256_add_epi64(even, zero_point), lower), upper);
    odd = min64(max64(_mm256_add_epi64(odd, zero_point), lower), upper);
    __m256i both = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(both), _mm256_extracti128_si256(both, 1));
    int64_t packed = _mm_cvtsi128_si64(_mm_packs_epi16(words, words));
    if (count >= 8) memcpy(output, &packed, 8);
    else memcpy(output, &packed, count);
}

INLINE TARGET void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 8;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int16_t *weights = (const int16_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    __m256i acc[DACTYL_MAX_TILE_PIXELS][2];
    for (int v = 0; v < VECTORS; v++) {
        __m256i b = _mm256_loadu_si256((const __m256i *)(bias + 8 * v));
        for (int m = 0; m < PIXELS; m++) acc[m][v] = b;
    }
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int16_t *w = weights + r * groups * block_channels * 4;
        for (size_t g = 0; g < groups; g++) {
            const int16_t *wg = w + g * block_channels * 4;
            for (int m = 0; m < PIXELS; m++) {
                __m256i xw = _mm256_cvtepi8_epi16(_mm_set1_epi32((int32_t)dactyl_load_u32(x[m] + 4 * g)));
                __m256i x01 = _mm256_shuffle_epi32(xw, 0x00), x23 = _mm256_shuffle_epi32(xw, 0x55);
                for (int v = 0; v < VECTORS; v++) {
                    __m256i w01 = _mm256_loadu_si256((const __m256i *)(wg + 32 * v));
                    __m256i w23 = _mm256_loadu_si256((const __m256i *)(wg + 32 * v + 16));
                    acc[m][v] = _mm256_add_epi32(acc[m][v], _mm256_add_epi32(_mm256_madd_epi16(x01, w01), _mm256_madd_epi16(x23, w23)));
                }
            }
        }
    }
    for (int m = 0; m < PIXELS; m++) {
        if ((size_t)m >= tile->valid) break;
        for (int v = 0; v < VECTORS; v++) {
            size_t first = 8 * (size_t)v;
            if (first >= tile->channels) break;
            requantize8(conv, acc[m][v], multipliers + first, shifts + first,
                        tile->residual ? tile->residual[m] + first : NULL, tile->output[m] + first, tile->channels - first);
        }
    }
}

TARGET void dactyl_conv_tile_avx2(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    if (conv->block_channels == 8) tile_kernel(conv, tile, 8, 1);
    else tile_kernel(conv, tile, 4, 2);
}

TARGET uint64_t dactyl_peak_avx2(uint64_t iterations) {
    // The kernel's own pattern: vpmaddwd then vpaddd, 12 independent accumulators.
    __m256i acc[12];
    __m256i a = _mm256_set1_epi32(0x00010002), b = _mm256_set1_epi32(0x00030004);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_epi32(i);
    for (uint64_t n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) {
            __asm__ volatile("" : "+x"(a));  // a fresh operand each time: no vpmaddwd is hoisted out of the loop
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(a, b));
        }
    }
    __m256i sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm256_add_epi32(sum, acc[i]);
    volatile int32_t sink = _mm256_extract_epi32(sum, 0);
    (void)sink;
    return iterations * 12 * 16;
}
#endif
