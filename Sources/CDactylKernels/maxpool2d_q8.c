// int8 max pooling over NHWC for the fast paths: for each output pixel, the element-wise
// maximum of the taps' channel vectors. Plain C whose channel loop the compiler vectorises
// (pmaxsb / smax) on every ISA; padding taps are skipped, as in the reference.
#include "dactyl_kernels.h"

void dactyl_maxpool2d_q8(const dactyl_pool2d_q8 *pool) {
    const long channels = pool->channels;
    for (long oy = 0; oy < pool->output_height; oy++) {
        long top = oy * pool->stride_height - pool->pad_height;
        long row_first = top < 0 ? -top : 0;
        long row_end = pool->kernel_height < pool->input_height - top ? pool->kernel_height : pool->input_height - top;
        for (long ox = 0; ox < pool->output_width; ox++) {
            long left = ox * pool->stride_width - pool->pad_width;
            long column_first = left < 0 ? -left : 0;
            long column_end = pool->kernel_width < pool->input_width - left ? pool->kernel_width : pool->input_width - left;
            int8_t *restrict out = pool->output + (oy * pool->output_width + ox) * channels;
            for (long c = 0; c < channels; c++) out[c] = INT8_MIN;
            for (long ky = row_first; ky < row_end; ky++) {
                for (long kx = column_first; kx < column_end; kx++) {
                    const int8_t *restrict tap = pool->input + ((top + ky) * pool->input_width + left + kx) * channels;
                    for (long c = 0; c < channels; c++) out[c] = tap[c] > out[c] ? tap[c] : out[c];
                }
            }
        }
    }
}
