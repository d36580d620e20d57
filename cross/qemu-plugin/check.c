/*
 * A known instruction stream for checking insn_count.c: scripts/aarch64-estimate.sh builds it with
 * -march=armv8.2-a+dotprod and runs it under qemu-aarch64 -cpu cortex-a76 with 1000 and 2000
 * iterations. Each iteration executes exactly one sdot (16 int8 MACs), one smlal .4s (4), one
 * fmla .4s (4 fp), one ld1, one st1, one subs and one b.ne.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: check ITERATIONS\n"); return 2; }
    uint64_t iterations = strtoull(argv[1], NULL, 10);
    if (iterations == 0) return 0;
    _Alignas(16) int8_t buffer[32] = {1};
    __asm__ volatile(
        "1:\n"
        "sdot v0.4s, v1.16b, v2.16b\n"
        "smlal v3.4s, v4.4h, v5.4h\n"
        "fmla v7.4s, v8.4s, v9.4s\n"
        "ld1 {v6.16b}, [%[in]]\n"
        "st1 {v6.16b}, [%[out]]\n"
        "subs %[n], %[n], #1\n"
        "b.ne 1b\n"
        : [n] "+r"(iterations)
        : [in] "r"(buffer), [out] "r"(buffer + 16)
        : "v0", "v3", "v6", "v7", "memory", "cc");
    printf("%d\n", buffer[16]);
    return 0;
}
