// int8 pooling over NHWC for the fast paths. Max pooling: for each output pixel, the element-wise
// maximum of the taps' channel vectors; padding taps are skipped, as in the reference. On
// x86_64 the channel loop is written for the path's vectors (64 channels a zmm on VNNI, 32 a
// ymm on AVX2): the compiler's own vectorisation of the plain loop only reaches SSE2 there.
// Elsewhere the plain loop, which the compiler vectorises (smax on aarch64).
#include "dactyl_kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The taps of output pixel (oy, ox) inside the input: rows [*row_first, *row_end), columns likewise.
static inline void pool_window(const dactyl_pool2d_q8 *pool, long oy, long ox, long *top, long *left, long *row_first,
                               long *row_end, long *column_first, long *column_end) {
    *top = oy * pool->stride_height - pool->pad_height;
    *row_first = *top < 0 ? -*top : 0;
    *row_end = pool->kernel_height < pool->input_height - *top ? pool->kernel_height : pool->input_height - *top;
    *left = ox * pool->stride_width - pool->pad_width;
    *column_first = *left < 0 ? -*left : 0;
    *column_end = pool->kernel_width < pool->input_width - *left ? pool->kernel_width : pool->input_width - *left;
}

#define FOR_EACH_OUTPUT_PIXEL(pool, BODY)                                                                    \
    for (long oy = 0; oy < (pool)->output_height; oy++) {                                                    \
        for (long ox = 0; ox < (pool)->output_width; ox++) {                                                 \
            long top, left, row_first, row_end, column_first, column_end;                                    \
            pool_window(pool, oy, ox, &top, &left, &row_first, &row_end, &column_first, &column_end);        \
            int8_t *out = (pool)->output + (oy * (pool)->output_width + ox) * (pool)->channels;              \
            const int8_t *corner = (pool)->input + (top * (pool)->input_width + left) * (pool)->channels;    \
            const long row_bytes = (long)(pool)->input_width * (pool)->channels;                             \
            BODY                                                                                             \
        }                                                                                                    \
    }

#define FOR_EACH_TAP(BODY)                                                                                   \
    for (long ky = row_first; ky < row_end; ky++)                                                            \
        for (long kx = column_first; kx < column_end; kx++) {                                                \
            const int8_t *tap = corner + ky * row_bytes + kx * channels;                                     \
            BODY                                                                                             \
        }

static void maxpool_plain(const dactyl_pool2d_q8 *pool) {
    const long channels = pool->channels;
    FOR_EACH_OUTPUT_PIXEL(pool, {
        for (long c = 0; c < channels; c++) out[c] = INT8_MIN;
        FOR_EACH_TAP({
            for (long c = 0; c < channels; c++) out[c] = tap[c] > out[c] ? tap[c] : out[c];
        })
    })
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw"))) static void maxpool_avx512(const dactyl_pool2d_q8 *pool) {
    const long channels = pool->channels;
    FOR_EACH_OUTPUT_PIXEL(pool, {
        for (long c = 0; c < channels; c += 64) {
            __mmask64 mask = channels - c >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (channels - c)) - 1;
            __m512i largest = _mm512_set1_epi8(INT8_MIN);
            FOR_EACH_TAP({ largest = _mm512_max_epi8(largest, _mm512_maskz_loadu_epi8(mask, tap + c)); })
            _mm512_mask_storeu_epi8(out + c, mask, largest);
        }
    })
}

__attribute__((target("avx2"))) static void maxpool_avx2(const dactyl_pool2d_q8 *pool) {
    const long channels = pool->channels;
    FOR_EACH_OUTPUT_PIXEL(pool, {
        long c = 0;
        for (; c + 32 <= channels; c += 32) {
            __m256i largest = _mm256_set1_epi8(INT8_MIN);
            FOR_EACH_TAP({ largest = _mm256_max_epi8(largest, _mm256_loadu_si256((const __m256i *)(tap + c))); })
            _mm256_storeu_si256((__m256i *)(out + c), largest);
        }
        for (; c + 16 <= channels; c += 16) {
            __m128i largest = _mm_set1_epi8(INT8_MIN);
            FOR_EACH_TAP({ largest = _mm_max_epi8(largest, _mm_loadu_si128((const __m128i *)(tap + c))); })
            _mm_storeu_si128((__m128i *)(out + c), largest);
        }
        for (; c < channels; c++) {
            int8_t largest = INT8_MIN;
            FOR_EACH_TAP({ largest = tap[c] > largest ? tap[c] : largest; })
            out[c] = largest;
        }
    })
}
#endif

// Channels summed at a time: the int32 sums stay in registers and the loop over them vectorises.
#define AVERAGE_CHUNK 64

void dactyl_global_avgpool_q8(const dactyl_global_avgpool_q8_args *pool) {
    const long channels = pool->channels, pixels = pool->pixels;
    for (long first = 0; first < channels; first += AVERAGE_CHUNK) {
        long count = channels - first < AVERAGE_CHUNK ? channels - first : AVERAGE_CHUNK;
        int32_t sums[AVERAGE_CHUNK] = {0};  // |sum| < 256 * pixels: exact for any frame
        for (long p = 0; p < pixels; p++) {
            const int8_t *restrict row = pool->input + p * channels + first;
            for (long c = 0; c < count; c++) sums[c] += row[c];
        }
        for (long c = 0; c < count; c++) {
            int64_t sum = (int64_t)sums[c] - (int64_t)pool->input_zero_point * pixels;
            // The mean rounded half up: floor((2 sum + n) / 2n).
            int64_t numerator = 2 * sum + pixels, denominator = 2 * (int64_t)pixels;
            int64_t mean = numerator / denominator - (numerator % denominator != 0 && numerator < 0);
            int64_t value = (mean * pool->multiplier + ((int64_t)1 << (pool->shift - 1))) >> pool->shift;
            value += pool->output_zero_point;
            pool->output[first + c] = (int8_t)(value < -128 ? -128 : value > 127 ? 127 : value);
        }
    }
}

void dactyl_maxpool2d_q8(const dactyl_pool2d_q8 *pool) {
#if defined(__x86_64__)
    if (pool->path == DACTYL_PATH_AVX512_VNNI) { maxpool_avx512(pool); return; }
    if (pool->path == DACTYL_PATH_AVX2) { maxpool_avx2(pool); return; }
#endif
    maxpool_plain(pool);
}
