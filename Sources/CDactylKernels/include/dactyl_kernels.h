// Fast int8 encoder kernels (intrinsics), called from DactylKernels. Every path computes exactly
// what conv2dQ8Reference computes (docs/model-format.md, "Arithmetic"); only the speed differs.
#ifndef DACTYL_KERNELS_H
#define DACTYL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Kernel paths with a fast conv2d (the values of KernelPath's fast cases).
enum {
    DACTYL_PATH_AVX2 = 1,         // x86_64 AVX2: vpmaddwd on int16-widened weights
    DACTYL_PATH_AVX512_VNNI = 2,  // x86_64 AVX-512 VNNI: vpdpbusd on (x + 128) as u8 x s8 weights
    DACTYL_PATH_NEON = 3,         // aarch64 ARMv8.0 NEON: smull + sadalp
    DACTYL_PATH_NEON_DOT = 4,     // aarch64 ARMv8.2 dotprod: sdot
};

// 1 if this binary holds the code of `path` (x86_64 paths on x86_64, aarch64 paths on aarch64).
int dactyl_kernel_path_compiled(int path);

// A conv2d with its weights packed for one path. Geometry and quantisation as in the model;
// the tensors (input, output, residual) are set before each run (they live in the arena).
typedef struct dactyl_conv2d_q8 {
    int32_t input_height, input_width, input_channels;
    int32_t output_height, output_width, output_channels;
    int32_t kernel_height, kernel_width, stride_height, stride_width, pad_height, pad_width;
    int32_t input_zero_point, output_zero_point, relu;
    int32_t residual_zero_point, residual_multiplier, residual_shift;
    const int8_t *input;
    int8_t *output;
    const int8_t *residual;  // NULL: no residual add
    // Set by dactyl_conv2d_q8_pack.
    int32_t path;
    int32_t block_channels;  // output channels per packed block
    int32_t tile_pixels;     // output pixels per micro-kernel call
    int32_t row_groups;      // 4-byte groups per kernel row (kernel_width * input_channels, rounded up)
    size_t block_bytes;      // bytes of one packed block (constants + weights)
    int32_t weights_above_min; // no weight is -128: two int8 products sum within int16 (the NEON smlal pairing)
    // The NEON paths' output stage in 32-bit lanes (sqdmulh, rounding shift; conv2d_q8_neon_common.h)
    // where it is exact: requant_32bit, every channel's shift is 32..62 and no multiplier is
    // INT32_MIN; residual_32bit, the residual's shift is 18..62, its multiplier not INT32_MIN and
    // its zero point an int8. Else the 64-bit lanes.
    int32_t requant_32bit, residual_32bit;
    // Per-pixel skips of the kernel taps that lie in the padding (sdot path; see conv2d_q8.c):
    // row_classes x column_classes biases per block, and per pixel tile an entry in tap_plan
    // (a class, or a record in tap_borders); NULL and 0 where the conv does not skip them.
    int32_t row_classes, column_classes;
    const uint16_t *tap_plan;
    const struct dactyl_tap_border *tap_borders;
    const void *packed;
    // Fast paths: the input copied (by dactyl_conv2d_q8_prepare) into a buffer with its padding
    // around it, filled with the zero point once at pack time, so kernel rows never cross a
    // border; on VNNI as x + 128 (the u8 operand of vpdpbusd).
    int8_t *padded;
    int32_t padded_height, padded_width;
    // The conv that runs next (packed for the same path), or NULL: a thread's last block
    // prefetches the weights that thread will start that conv with.
    const struct dactyl_conv2d_q8 *next;
    // Winograd F(4x4, 3x3) (3x3 stride-1 convs on DACTYL_PATH_NEON; conv2d_q8_neon_winograd.c).
    // Set before packed_bytes and pack: 0 lets the packer choose (DACTYL_WINOGRAD=0 / =1 in the
    // environment turns it off / on for every eligible conv), 1 forces it on where it is exact,
    // -1 off. Tests use it to run both branches on every eligible shape.
    int32_t winograd_mode;
    // Set by dactyl_conv2d_q8_pack: 1 if the conv runs as Winograd, with its tiling.
    int32_t winograd;
    int32_t winograd_channels;  // input channels rounded up to 8
    int32_t winograd_tiles_x, winograd_tiles_y, winograd_tile_groups;
    int16_t *winograd_input;    // V, the transformed input tiles (inside the packed memory)
} dactyl_conv2d_q8;

// Bytes the packed weights and padded input copy of `conv` (geometry set) need on `path`; 0 if the
// path cannot run it (not compiled in, or a kernel taller than 16 rows), so the caller keeps the
// reference for it.
size_t dactyl_conv2d_q8_packed_bytes(const dactyl_conv2d_q8 *conv, int path);
// Packs OHWI weights, bias and the per-channel multipliers and shifts into `memory`
// (dactyl_conv2d_q8_packed_bytes bytes, 64-byte aligned) and records the layout in `conv`.
void dactyl_conv2d_q8_pack(dactyl_conv2d_q8 *conv, int path, const int8_t *weights, const int32_t *bias,
                           const int32_t *multipliers, const int32_t *shifts, void *memory);
// Copies the input into the padded buffer, if the conv has one: once per run, before its tasks.
void dactyl_conv2d_q8_prepare(const dactyl_conv2d_q8 *conv);
// Units of work of one run (output pixel tiles x channel blocks), for splitting across threads.
size_t dactyl_conv2d_q8_tasks(const dactyl_conv2d_q8 *conv);
// A run is 1 phase (direct) or 2 (Winograd: input transform, then products): phase p is tasks
// [phase_end(p - 1), phase_end(p)) (phase_end(-1) = 0), and every task of a phase must be done
// before any of the next starts. Run in order on one thread, tasks [0, tasks) do that anyway.
size_t dactyl_conv2d_q8_phases(const dactyl_conv2d_q8 *conv);
size_t dactyl_conv2d_q8_phase_end(const dactyl_conv2d_q8 *conv, size_t phase);
// Runs tasks [first, end) of the convolution (after dactyl_conv2d_q8_prepare).
void dactyl_conv2d_q8_run(const dactyl_conv2d_q8 *conv, size_t first, size_t end);
// The same, when the calling thread will probably run task `then` next (its next chunk; past
// the last task: the next conv), so that it can prefetch those weights.
void dactyl_conv2d_q8_run_then(const dactyl_conv2d_q8 *conv, size_t first, size_t end, size_t then);

// int8 max pooling over NHWC (taps in the padding never win), as maxPool2dQ8Reference.
typedef struct dactyl_pool2d_q8 {
    int32_t input_height, input_width, channels, output_height, output_width;
    int32_t kernel_height, kernel_width, stride_height, stride_width, pad_height, pad_width;
    const int8_t *input;
    int8_t *output;
    int32_t path;  // a DACTYL_PATH_*: the x86 paths' own vector loops; anything else the plain loop
} dactyl_pool2d_q8;
void dactyl_maxpool2d_q8(const dactyl_pool2d_q8 *pool);

// int8 global average pooling over NHWC, as globalAvgPoolQ8Reference: the integer mean of
// (x - input_zero_point) rounded half up, requantised with rndnu, plus the output zero point.
typedef struct dactyl_global_avgpool_q8_args {
    int32_t pixels, channels, input_zero_point, multiplier, shift, output_zero_point;
    const int8_t *input;
    int8_t *output;
} dactyl_global_avgpool_q8_args;
void dactyl_global_avgpool_q8(const dactyl_global_avgpool_q8_args *pool);

// A fixed pool of worker threads, created at start-up; running work on it allocates nothing.
typedef struct dactyl_thread_pool dactyl_thread_pool;
// `threads` counts the calling thread; NULL if a thread cannot be created.
dactyl_thread_pool *dactyl_thread_pool_create(int threads);
void dactyl_thread_pool_destroy(dactyl_thread_pool *pool);
int dactyl_thread_pool_threads(const dactyl_thread_pool *pool);
// Makes the conv's padded input, then runs its tasks on the pool's threads (the caller's
// included), which claim them in chunks; returns when all are done. pool NULL: runs them all
// on the calling thread.
void dactyl_thread_pool_run_conv2d_q8(dactyl_thread_pool *pool, const dactyl_conv2d_q8 *conv);
// Number of online CPUs.
int dactyl_cpu_count(void);

// Peak-rate loops for `dactyl bench`: `iterations` of independent int8 multiply-accumulates in
// registers with the path's main instruction; returns the multiply-accumulates done.
uint64_t dactyl_peak_loop(int path, uint64_t iterations);

#ifdef __cplusplus
}
#endif
#endif
