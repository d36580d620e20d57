#ifndef DACTYL_FUZZ_H
#define DACTYL_FUZZ_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (libclang_rt.fuzzer): runs the fuzzer with the command line, calling
/// `callback` per input. Lets the Swift executable keep its own `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// libFuzzer's entry points (fuzz.c), forwarding to the Swift target chosen at start-up.
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/// An anonymous in-memory regular file (memfd) for the readers that take a path; -1 on error.
int dactyl_fuzz_memfd(void);
/// Replaces the memfd's contents with `bytes`; 0 on success.
int dactyl_fuzz_fill(int fd, const void *bytes, size_t count);

#endif
