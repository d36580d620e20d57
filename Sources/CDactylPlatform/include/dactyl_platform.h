// The one place where Dactyl touches the operating system and OpenBLAS. Swift (including
// Embedded Swift, which cannot import Glibc) calls these small, non-variadic functions.
#ifndef DACTYL_PLATFORM_H
#define DACTYL_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Error numbers beyond errno, for files the loaders refuse (dactyl_error_text describes them).
enum {
    DACTYL_ERROR_FIFO = -1001,
    DACTYL_ERROR_DIRECTORY = -1002,
    DACTYL_ERROR_DEVICE = -1003,
    DACTYL_ERROR_NOT_REGULAR = -1004,  // a socket or anything else that is not a regular file
    DACTYL_ERROR_SHRANK = -1005,       // the file was truncated while it was being read
};

// Opens a regular file for reading without ever blocking (a FIFO or device is refused, not
// waited on). Returns the descriptor and its size, or -1 with *error_number set (an errno
// value or a DACTYL_ERROR_*).
int dactyl_open_regular_file(const char *path, int64_t *size, int *error_number);
// Reads up to count bytes at offset (pread, retried until count or the end of the file).
// Returns the bytes read (fewer at the end of the file) or -1 with *error_number set.
long dactyl_read_at(int fd, void *buffer, size_t count, int64_t offset, int *error_number);
void dactyl_close(int fd);
// Reads a whole regular file into memory aligned to `alignment` (free it with dactyl_free).
// Returns NULL with *error_number set on failure; an empty file gives a non-NULL pointer and
// *size == 0.
void *dactyl_read_file(const char *path, size_t alignment, size_t *size, int *error_number);

// Maps a whole regular file read-only. Returns NULL and sets *error_number on failure; an
// empty file maps to a non-NULL dummy pointer with *size == 0. A mapped file that is
// truncated while mapped raises SIGBUS on access: the model and clip readers copy instead.
const void *dactyl_map_file(const char *path, size_t *size, int *error_number);
void dactyl_unmap_file(const void *address, size_t size);
// strerror for an errno value, or the text of a DACTYL_ERROR_*; static storage.
const char *dactyl_error_text(int error_number);

// Writes all bytes (retrying short writes); returns 0 or an errno value.
int dactyl_write_all(int fd, const void *bytes, size_t count);

// Aligned, zeroed memory for the arena; NULL on failure.
void *dactyl_alloc_aligned(size_t size, size_t alignment);
void dactyl_free(void *pointer);

// The process's command-line arguments (Embedded Swift has no CommandLine), captured at start-up.
int dactyl_argument_count(void);
const char *dactyl_argument(int index);

uint64_t dactyl_monotonic_ns(void);
_Noreturn void dactyl_exit(int status);
const char *dactyl_getenv(const char *name);
// The running executable's path into buffer (NUL-terminated); returns its length or -1.
long dactyl_executable_path(char *buffer, size_t capacity);
// 1 if path names a readable regular file.
int dactyl_is_readable_file(const char *path);

// CPU features that pick kernel paths at start-up (bits of dactyl_cpu_features()).
enum {
    DACTYL_CPU_NEON = 1u << 0,         // aarch64 Advanced SIMD (every ARMv8-A board)
    DACTYL_CPU_NEON_DOT = 1u << 1,     // aarch64 sdot/udot (ARMv8.2 dotprod: Pi 5's Cortex-A76)
    DACTYL_CPU_NEON_I8MM = 1u << 2,    // aarch64 smmla (ARMv8.6 int8 matrix multiply)
    DACTYL_CPU_AVX2 = 1u << 8,         // x86_64 AVX2
    DACTYL_CPU_AVX512_VNNI = 1u << 9,  // x86_64 AVX-512 VNNI (vpdpbusd)
    DACTYL_CPU_AVX_VNNI = 1u << 10,    // x86_64 AVX-VNNI (256-bit vpdpbusd)
};
// The features of this CPU, from getauxval(AT_HWCAP) on aarch64 and cpuid on x86_64.
uint32_t dactyl_cpu_features(void);

float dactyl_expf(float x);
float dactyl_tanhf(float x);
float dactyl_logf(float x);

// OpenBLAS on one thread: the head's matrices are small, and its thread pool allocates on every
// call that it spreads over threads (measured: 3-4 mallocs per head run), which the frame loop
// must not do; the encoder has threads of its own.
void dactyl_blas_use_one_thread(void);

// C = alpha * op(A) * op(B) + beta * C, row-major (cblas_sgemm).
void dactyl_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
// y = alpha * A * x + beta * y, row-major, A is m x n (cblas_sgemv).
void dactyl_sgemv(int m, int n, float alpha, const float *a, int lda, const float *x,
                  float beta, float *y);

#ifdef __cplusplus
}
#endif
#endif
