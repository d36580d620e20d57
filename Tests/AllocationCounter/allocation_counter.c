#include "allocation_counter.h"

#include <stddef.h>

// glibc's own entry points, which its malloc, calloc and realloc are aliases of.
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int counting;
static _Thread_local uint64_t allocations;
// Process-wide counting, for work split across threads (the encoder's pool).
static _Atomic int counting_all;
static _Atomic uint64_t all_allocations;

void allocation_counter_start(void) { allocations = 0; counting = 1; }
uint64_t allocation_counter_stop(void) { counting = 0; return allocations; }
void allocation_counter_start_all_threads(void) { all_allocations = 0; counting_all = 1; }
uint64_t allocation_counter_stop_all_threads(void) { counting_all = 0; return all_allocations; }

static inline void count(void) {
    if (counting) allocations++;
    if (counting_all) all_allocations++;
}

// A sanitizer's runtime owns malloc and free (ASan and TSan track every block): glibc's blocks
// would reach its free as foreign, and our malloc runs before its thread-local set-up. Under a
// sanitizer nothing is interposed and nothing counted; the allocation tests run on the plain
// release build (scripts/test.sh), the sanitizer jobs on debug builds, where they are skipped.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define ALLOCATION_COUNTER_UNDER_SANITIZER 1
#endif
#endif
#ifndef ALLOCATION_COUNTER_UNDER_SANITIZER
void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t count_, size_t size) { count(); return __libc_calloc(count_, size); }
void *realloc(void *pointer, size_t size) { count(); return __libc_realloc(pointer, size); }
int posix_memalign(void **result, size_t alignment, size_t size) {
    count();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return 12;  // ENOMEM
    *result = pointer;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
#endif
