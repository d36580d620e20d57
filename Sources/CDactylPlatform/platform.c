#define _GNU_SOURCE
#include "dactyl_platform.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

static const char empty_mapping[1];

const void *dactyl_map_file(const char *path, size_t *size, int *error_number) {
    *size = 0;
    *error_number = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *error_number = errno; return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) { *error_number = errno; close(fd); return NULL; }
    if (!S_ISREG(st.st_mode)) { *error_number = S_ISDIR(st.st_mode) ? EISDIR : EINVAL; close(fd); return NULL; }
    if (st.st_size == 0) { close(fd); return empty_mapping; }
    void *address = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (address == MAP_FAILED) { *error_number = saved; return NULL; }
    *size = (size_t)st.st_size;
    return address;
}

void dactyl_unmap_file(const void *address, size_t size) {
    if (address != NULL && address != empty_mapping && size > 0) munmap((void *)address, size);
}

const char *dactyl_error_text(int error_number) { return strerror(error_number); }

int dactyl_write_all(int fd, const void *bytes, size_t count) {
    const char *p = bytes;
    while (count > 0) {
        ssize_t n = write(fd, p, count);
        if (n < 0) { if (errno == EINTR) continue; return errno; }
        p += n;
        count -= (size_t)n;
    }
    return 0;
}

void *dactyl_alloc_aligned(size_t size, size_t alignment) {
    void *p = NULL;
    if (posix_memalign(&p, alignment, size == 0 ? alignment : size) != 0) return NULL;
    memset(p, 0, size);
    return p;
}

void dactyl_free(void *pointer) { free(pointer); }

static int saved_argc;
static char **saved_argv;

// glibc passes (argc, argv, envp) to .init_array functions, so the arguments are known before
// Swift's top-level code runs, without a C main.
__attribute__((constructor)) static void capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

int dactyl_argument_count(void) { return saved_argc; }
const char *dactyl_argument(int index) { return index >= 0 && index < saved_argc ? saved_argv[index] : ""; }

uint64_t dactyl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dactyl_exit(int status) { exit(status); }

const char *dactyl_getenv(const char *name) { return getenv(name); }

long dactyl_executable_path(char *buffer, size_t capacity) {
    if (capacity == 0) return -1;
    ssize_t n = readlink("/proc/self/exe", buffer, capacity - 1);
    if (n < 0) return -1;
    buffer[n] = 0;
    return (long)n;
}

int dactyl_is_readable_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

uint32_t dactyl_cpu_features(void) {
    uint32_t features = 0;
#if defined(__aarch64__)
    // Bit numbers from the kernel's uapi asm/hwcap.h, spelled out so an old sysroot still builds.
    unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
    if (hwcap & (1ul << 1)) features |= DACTYL_CPU_NEON;        // HWCAP_ASIMD
    if (hwcap & (1ul << 20)) features |= DACTYL_CPU_NEON_DOT;   // HWCAP_ASIMDDP
    if (hwcap2 & (1ul << 13)) features |= DACTYL_CPU_NEON_I8MM; // HWCAP2_I8MM
#elif defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) features |= DACTYL_CPU_AVX2;
    if (__builtin_cpu_supports("avx512vnni")) features |= DACTYL_CPU_AVX512_VNNI;
    if (__builtin_cpu_supports("avxvnni")) features |= DACTYL_CPU_AVX_VNNI;
#endif
    return features;
}

float dactyl_expf(float x) { return expf(x); }
float dactyl_tanhf(float x) { return tanhf(x); }
float dactyl_logf(float x) { return logf(x); }

void dactyl_blas_use_one_thread(void) { openblas_set_num_threads(1); }

void dactyl_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dactyl_sgemv(int m, int n, float alpha, const float *a, int lda, const float *x,
                  float beta, float *y) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}
