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

// O_NONBLOCK so that a FIFO with no writer (or a device) does not block open(); the type is
// checked on the descriptor itself, so nothing can swap the file between the check and the use.
int dactyl_open_regular_file(const char *path, int64_t *size, int *error_number) {
    *size = 0;
    *error_number = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) { *error_number = errno; return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { *error_number = errno; close(fd); return -1; }
    if (!S_ISREG(st.st_mode)) {
        *error_number = S_ISFIFO(st.st_mode) ? DACTYL_ERROR_FIFO
            : S_ISDIR(st.st_mode) ? DACTYL_ERROR_DIRECTORY
            : (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ? DACTYL_ERROR_DEVICE
            : DACTYL_ERROR_NOT_REGULAR;
        close(fd);
        return -1;
    }
    // Regular files never block; clearing the flag keeps reads plain.
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (int64_t)st.st_size;
    return fd;
}

long dactyl_read_at(int fd, void *buffer, size_t count, int64_t offset, int *error_number) {
    *error_number = 0;
    char *p = buffer;
    size_t done = 0;
    while (done < count) {
        ssize_t n = pread(fd, p + done, count - done, (off_t)offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR) continue;
            *error_number = errno;
            return -1;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    return (long)done;
}

void dactyl_close(int fd) {
    if (fd >= 0) close(fd);
}

void *dactyl_read_file(const char *path, size_t alignment, size_t *size, int *error_number) {
    *size = 0;
    int64_t file_size = 0;
    int fd = dactyl_open_regular_file(path, &file_size, error_number);
    if (fd < 0) return NULL;
    if ((uint64_t)file_size > (uint64_t)SIZE_MAX / 2) { *error_number = EFBIG; close(fd); return NULL; }
    void *bytes = dactyl_alloc_aligned((size_t)file_size, alignment);
    if (bytes == NULL) { *error_number = ENOMEM; close(fd); return NULL; }
    long n = dactyl_read_at(fd, bytes, (size_t)file_size, 0, error_number);
    close(fd);
    if (n < 0) { free(bytes); return NULL; }
    if ((size_t)n != (size_t)file_size) { *error_number = DACTYL_ERROR_SHRANK; free(bytes); return NULL; }
    *size = (size_t)file_size;
    return bytes;
}

const void *dactyl_map_file(const char *path, size_t *size, int *error_number) {
    *size = 0;
    int64_t file_size = 0;
    int fd = dactyl_open_regular_file(path, &file_size, error_number);
    if (fd < 0) return NULL;
    if (file_size == 0) { close(fd); return empty_mapping; }
    void *address = mmap(NULL, (size_t)file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (address == MAP_FAILED) { *error_number = saved; return NULL; }
    *size = (size_t)file_size;
    return address;
}

void dactyl_unmap_file(const void *address, size_t size) {
    if (address != NULL && address != empty_mapping && size > 0) munmap((void *)address, size);
}

const char *dactyl_error_text(int error_number) {
    switch (error_number) {
    case DACTYL_ERROR_FIFO: return "not a regular file (it is a FIFO)";
    case DACTYL_ERROR_DIRECTORY: return "not a regular file (it is a directory)";
    case DACTYL_ERROR_DEVICE: return "not a regular file (it is a device)";
    case DACTYL_ERROR_NOT_REGULAR: return "not a regular file";
    case DACTYL_ERROR_SHRANK: return "the file became shorter while it was read";
    default: return strerror(error_number);
    }
}

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
