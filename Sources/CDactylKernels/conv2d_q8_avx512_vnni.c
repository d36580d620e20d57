// int8 conv2d micro-kernel for x86_64 AVX-512 VNNI: vpdpbusd multiplies 4 u8 input bytes by
// 4 s8 weights and adds them to an int32 lane. The input is signed, so it is fed as x + 128:
// the driver's padded copy of the input holds x ^ 0x80 (dactyl_copy_flipped_avx512), and the
// packed bias already holds -128 * sum(w). One zmm holds 16 output channels.
#if defined(__x86_64__)
#include <immintrin.h>
#include "conv2d_q8_internal.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

// Per 16 channels, after the block's weights: the output stage's per-channel constants in the
// 64-bit lanes it works in (even channels in one vector, odd in another), so that it does not
// rebuild them for every pixel.
typedef struct {
    int64_t multiplier_odd[8];            // the odd channels' multipliers (the even ones: the int32 row)
    int64_t round_even[8], round_odd[8];  // 1 << (shift - 1)
    int64_t shift_even[8], shift_odd[8];
} requant_constants;

size_t dactyl_requant_bytes_avx512(size_t block_channels) { return block_channels / 16 * sizeof(requant_constants); }

void dactyl_pack_requant_avx512(const int32_t *multipliers, const int32_t *shifts, size_t block_channels, void *memory) {
    requant_constants *constants = memory;
    for (size_t lane = 0; lane < block_channels; lane++) {
        requant_constants *k = &constants[lane / 16];
        size_t half = lane % 16 / 2;
        int64_t shift = shifts[lane], round = (int64_t)((uint64_t)1 << (shift - 1));
        if (lane % 2 == 0) {
            k->round_even[half] = round;
            k->shift_even[half] = shift;
        } else {
            k->multiplier_odd[half] = multipliers[lane];
            k->round_odd[half] = round;
            k->shift_odd[half] = shift;
        }
    }
}

// The residual's constants, the same for every channel.
typedef struct {
    __m512i zero_point, multiplier, round;
    __m128i shift;
} residual_constants;

// The fused output stage for 16 channels: rndnu(acc * multiplier, shift) in 64-bit lanes
// (even and odd channels apart), plus the requantised residual, plus the zero point, clamped.
INLINE TARGET void requantize16(__m512i acc, const int32_t *multipliers, const requant_constants *k,
                                const residual_constants *rc, const int8_t *residual, __m512i zero_point, __m512i lower,
                                __m512i upper, int8_t *output, size_t count) {
    const __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    __m512i even = _mm512_mul_epi32(acc, _mm512_loadu_si512(multipliers));
    __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_loadu_si512(k->multiplier_odd));
    even = _mm512_srav_epi64(_mm512_add_epi64(even, _mm512_loadu_si512(k->round_even)), _mm512_loadu_si512(k->shift_even));
    odd = _mm512_srav_epi64(_mm512_add_epi64(odd, _mm512_loadu_si512(k->round_odd)), _mm512_loadu_si512(k->shift_odd));
    if (residual) {
        __m512i r = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, residual)), rc->zero_point);
        __m512i r_even = _mm512_mul_epi32(r, rc->multiplier);
        __m512i r_odd = _mm512_mul_epi32(_mm512_srli_epi64(r, 32), rc->multiplier);
        even = _mm512_add_epi64(even, _mm512_sra_epi64(_mm512_add_epi64(r_even, rc->round), rc->shift));
        odd = _mm512_add_epi64(odd, _mm512_sra_epi64(_mm512_add_epi64(r_odd, rc->round), rc->shift));
    }
    // Clamped in 64 bits, then the odd channels' low halves moved up beside the even ones.
    even = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(even, zero_point), lower), upper);
    odd = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(odd, zero_point), lower), upper);
    __m512i both = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, _mm512_slli_epi64(odd, 32));
    // vpmovdb into a register and a plain store: its masked store form is slow on AMD's cores.
    __m128i bytes = _mm512_cvtepi32_epi8(both);
    if (count >= 16) _mm_storeu_si128((__m128i *)output, bytes);
    else _mm_mask_storeu_epi8(output, mask, bytes);
}

// PIXELS x VECTORS accumulators; the compiler unrolls the constant loops into registers.
INLINE TARGET void tile_kernel(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile, const int PIXELS, const int VECTORS) {
    const size_t block_channels = (size_t)VECTORS * 16;
    const int32_t *bias = tile->bias;
    const int32_t *multipliers = (const int32_t *)tile->block + block_channels;
    const int8_t *weights = (const int8_t *)dactyl_block_weights(conv, tile->block);
    const size_t kernel_height = (size_t)conv->kernel_height, groups = (size_t)conv->row_groups;
    const requant_constants *constants = (const requant_constants *)(weights + kernel_height * groups * block_channels * 4);
    __m512i acc[DACTYL_MAX_TILE_PIXELS][4];
    for (int v = 0; v < VECTORS; v++) {
        __m512i b = _mm512_loadu_si512(bias + 16 * v);
        for (int m = 0; m < PIXELS; m++) acc[m][v] = b;
    }
    const int8_t *prefetch = tile->prefetch, *prefetch_end = prefetch + tile->prefetch_lines * 64;
    const size_t prefetch_step = tile->prefetch_per_group * 64;
    for (size_t r = 0; r < kernel_height; r++) {
        if (tile->skip_rows >> r & 1) continue;
        const int8_t *x[DACTYL_MAX_TILE_PIXELS];
        for (int m = 0; m < PIXELS; m++) x[m] = tile->rows[(size_t)m * kernel_height + r];
        const int8_t *w = weights + r * groups * block_channels * 4;
        for (size_t g = 0; g < groups; g++) {
            if (prefetch < prefetch_end) {
                for (size_t line = 0; line < prefetch_step; line += 64) _mm_prefetch((const char *)prefetch + line, _MM_HINT_T1);
                prefetch += prefetch_step;
            }
            __m512i wv[4];
            for (int v = 0; v < VECTORS; v++) wv[v] = _mm512_loadu_si512(w + (g * block_channels + 16 * (size_t)v) * 4);
            for (int m = 0; m < PIXELS; m++) {
                // One vpbroadcastd from memory (a load, no shuffle).
                __m512i xv = _mm512_set1_epi32((int32_t)dactyl_load_u32(x[m] + 4 * g));
                for (int v = 0; v < VECTORS; v++) acc[m][v] = _mm512_dpbusd_epi32(acc[m][v], xv, wv[v]);
            }
        }
    }
    residual_constants rc = {
        .zero_point = _mm512_set1_epi32(conv->residual_zero_point), .multiplier = _mm512_set1_epi32(conv->residual_multiplier),
        .round = _mm512_set1_epi64((int64_t)((uint64_t)1 << (conv->residual_shift - 1))),
        .shift = _mm_cvtsi32_si128(conv->residual_shift),
    };
    const __m512i zero_point = _mm512_set1_epi64(conv->output_zero_point);
    const __m512i lower = _mm512_set1_epi64(conv->relu ? (conv->output_zero_point > -128 ? conv->output_zero_point : -128) : -128);
    const __m512i upper = _mm512_set1_epi64(127);
    for (int m = 0; m < PIXELS; m++) {
        if ((size_t)m >= tile->valid) break;
        for (int v = 0; v < VECTORS; v++) {
            size_t first = 16 * (size_t)v;
            if (first >= tile->channels) break;
            requantize16(acc[m][v], multipliers + first, &constants[v], &rc, tile->residual ? tile->residual[m] + first : NULL,
                         zero_point, lower, upper, tile->output[m] + first, tile->channels - first);
        }
    }
}

// The variants choose_blocking (conv2d_q8.c) picks from: pixels x channel vectors.
TARGET void dactyl_conv_tile_avx512_vnni(const dactyl_conv2d_q8 *conv, const dactyl_conv_tile *tile) {
    switch (conv->block_channels * 16 + conv->tile_pixels) {
    case 16 * 16 + 8: tile_kernel(conv, tile, 8, 1); break;
    case 16 * 16 + 12: tile_kernel(conv, tile, 12, 1); break;
    case 32 * 16 + 8: tile_kernel(conv, tile, 8, 2); break;
    case 32 * 16 + 10: tile_kernel(conv, tile, 10, 2); break;
    case 32 * 16 + 12: tile_kernel(conv, tile, 12, 2); break;
    case 64 * 16 + 4: tile_kernel(conv, tile, 4, 4); break;
    case 64 * 16 + 5: tile_kernel(conv, tile, 5, 4); break;
    default: tile_kernel(conv, tile, 6, 4); break;
    }
}

TARGET void dactyl_copy_flipped_avx512(int8_t *destination, const int8_t *source, size_t bytes) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64)
        _mm512_storeu_si512(destination + i, _mm512_xor_si512(_mm512_loadu_si512(source + i), flip));
    if (i < bytes) {
        __mmask64 mask = ((__mmask64)1 << (bytes - i)) - 1;
        _mm512_mask_storeu_epi8(destination + i, mask, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, source + i), flip));
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
