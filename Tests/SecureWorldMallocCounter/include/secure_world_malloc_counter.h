// Test support (SecureWorldTests only): counts heap allocations made by the calling thread,
// so a test can pin the secure world's share of a call at zero allocations. Never linked into
// a product.
#ifndef SECURE_WORLD_MALLOC_COUNTER_H
#define SECURE_WORLD_MALLOC_COUNTER_H

#include <stdint.h>

/// Starts counting this thread's allocations from zero.
void swmc_start(void);
/// Stops counting and returns how many allocations this thread made since swmc_start.
uint64_t swmc_stop(void);

#endif
