// int8 conv2d micro-kernel for x86_64 AVX-512 VNNI: vpdpbusd multiplies 4 u8 input bytes by
// 4 s8 weights and adds them to an int32 lane. The input is signed, so it is fed as x + 128
// (xor 0x80) and the packed bias already holds -128 * sum(w). One zmm holds 16 output channels.
#if defined(__x86_64__)
#include <immintrin.h>
#include "conv2d_q8_internal.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

// The fused output stage for 16 channels: rndnu(acc * multiplier, shift) in 64-bit lanes
// (even and odd channels apart), plus the requantised residual, plus the zero point, clamped.
INLINE TARGET void requantize16(const dactyl_conv2d_q8 *conv, __m512i acc, const int32_t *multipliers,
                                const int32_t *shifts, const int8_t *residual, int8_t *output, size_t count) {
    const __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i low = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i multiplier = _mm512_loadu_si512(multipliers);
    __m512i shift = _mm512_loadu_si512(shifts);
    __m512i shift_even = _mm512_and_si512(shift, low), shift_odd = _mm512_srli_epi64(shift, 32);
    __m512i even = _mm512_mul_epi32(acc, multiplier);
    __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(multiplier, 32));
    even = _mm512_srav_epi64(_mm512_add_epi64(even, _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_even, one))), shift_even);
    odd = _mm512_srav_epi64(_mm512_add_epi64(odd, _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_odd, one))), shift_odd);
    if (residual) {
        __m512i r = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, residual));
        r = _mm512_sub_epi32(r, _mm512_set1_epi32(conv->residual_zero_point));
        __m512i residual_multiplier = _mm512_set1_epi32(conv->residual_multiplier);
        __m512i round = _mm512_set1_epi64((int64_t)1 << (conv->residual_shift - 1));
        __m128i residual_shift = _mm_cvtsi32_si128(conv->residual_shift);
        __m512i r_even = _mm512_mul_epi32(r, residual_multiplier);
        __m512i r_odd = _mm512_mul_epi32(_mm512_srli_epi64(r, 32), residual_multiplier);
        even = _mm512_add_epi64(even, _mm512_sra_epi64(_mm512_add_epi64(r_even, round), residual_shift));
        odd = _mm512_add_epi64(odd, _mm512_sra_epi64(_mm512_add_epi64(r_odd, round), residual_shift));
    }
    __m512i zero_point = _mm512_set1_epi64(conv->output_zero_point);
    even = _mm512_add_epi64(even, zero_point);
    odd = _mm512_add_epi64(odd, zero_point);
    // Saturating to int32 first and clamping after gives the same as clamping the int64.
    __m256i even32 = _mm512_cvtsepi64_epi32(even), odd32 = _mm512_cvtsepi64_epi32(odd);
    __m512i both = _mm512_or_si512(_mm512_and_si512(_mm512_cvtepu32_epi64(even32), low),
                                   _mm512_slli_epi64(_mm512_cvtepu32_epi64(odd32), 32));
    int32_t lower = conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128;
    both = _mm512_min_epi32(_mm512_max_epi32(both, _mm512_set1_epi32(lower)), _mm512_set1_epi32(127));
    _mm_mask_storeu_epi8(output, mask, _mm512_cvtepi32_epi8(both));
}

// PIXELS x VECTORS accumulators; the compiler unrolls the constant loops into registers.
INLINE TARGET void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 16;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int32_t *shifts = multipliers + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    __m512i acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int v = 0; v < VECTORS; v++) {
        __m512i b = _mm512_loadu_si512(bias + 16 * v);
        for (int m = 0; m < PIXELS; m++) acc[m][v] = b;
    }
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int8_t *w = weights + r * groups * block_channels * 4;
        for (size_t g = 0; g < groups; g++) {
            __m512i wv[4];
            for (int v = 0; v < VECTORS; v++) wv[v] = _mm512_loadu_si512(w + (g * block_channels + 16 * (size_t)v) * 4);
            for (int m = 0; m < PIXELS; m++) {
                __m512i xv = _mm512_xor_si512(_mm512_set1_epi32((int32_t)dactyl_load_u32(x[m] + 4 * g)), flip);
                for (int v = 0; v < VECTORS; v++) acc[m][v] = _mm512_dpbusd_epi32(acc[m][v], xv, wv[v]);
            }
        }
    }
    for (int m = 0; m < PIXELS; m++) {
        if ((size_t)m >= tile->valid) break;
        for (int v = 0; v < VECTORS; v++) {
            size_t first = 16 * (size_t)v;
            if (first >= tile->channels) break;
            requantize16(conv, acc[m][v], multipliers + first, shifts + first,
                         tile->residual ? tile->residual[m] + first : NULL, tile->output[m] + first, tile->channels - first);
        }
    }
}

TARGET void dactyl_conv_tile_avx512_vnni(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    switch (conv->block_channels) {
    case 16: tile_kernel(conv, tile, 8, 1); break;
    case 32: tile_kernel(conv, tile, 6, 2); break;
    default: tile_kernel(conv, tile, 4, 4); break;
    }
}

TARGET uint64_t dactyl_peak_avx512_vnni(uint64_t iterations) {
    // 24 independent accumulators: more than latency x throughput on any VNNI core.
    __m512i acc[24];
    __m512i a = _mm512_set1_epi32(0x01020304), b = _mm512_set1_epi32(0x05060708);
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_epi32(i);
    for (uint64_t n = 0; n < iterations; n++) {
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
        __asm__ volatile("" : "+v"(a));  // keeps the loop from being folded away
    }
    __m512i sum = acc[0];
    for (int i = 1; i < 24; i++) sum = _mm512_add_epi32(sum, acc[i]);
    volatile int32_t sink = _mm512_reduce_add_epi32(sum);
    (void)sink;
    return iterations * 24 * 64;
}
#endif
