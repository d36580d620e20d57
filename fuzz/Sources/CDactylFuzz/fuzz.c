#define _GNU_SOURCE
#include "dactyl_fuzz.h"
#include <sys/mman.h>
#include <unistd.h>

int dactyl_fuzz_memfd(void) { return memfd_create("dactyl-fuzz", MFD_CLOEXEC); }

int dactyl_fuzz_fill(int fd, const void *bytes, size_t count) {
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)count) != 0) return -1;
    const char *cursor = bytes;
    size_t done = 0;
    while (done < count) {
        ssize_t written = pwrite(fd, cursor + done, count - done, (off_t)done);
        if (written <= 0) return -1;
        done += (size_t)written;
    }
    return 0;
}

/* In Targets.swift. */
void dactyl_fuzz_select(int *argc, char ***argv);
void dactyl_fuzz_run(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    dactyl_fuzz_select(argc, argv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dactyl_fuzz_run(data, size);
    return 0;
}
