// Counts heap allocations made by the calling thread, by interposing malloc and friends in the
// test executable and forwarding to glibc's implementations. Tests only.
#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H
#include <stdint.h>

void allocation_counter_start(void);
// Stops counting and returns the allocations made by this thread since start.
uint64_t allocation_counter_stop(void);
// The same for allocations by any thread of the process.
void allocation_counter_start_all_threads(void);
uint64_t allocation_counter_stop_all_threads(void);

#endif
