// Test support (SecureWorldTests only): a malloc family that forwards to glibc's own
// __libc_* entry points and counts the calls the current thread makes while counting is on.
// The definitions are weak so that a counting malloc elsewhere in the same link (the bench's)
// wins without a duplicate-symbol error; a test first checks that a known allocation is counted.
#include "secure_world_malloc_counter.h"

#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int counting;
static _Thread_local uint64_t count;
static inline void note(void) {
    if (counting) count++;
}

__attribute__((weak)) void *malloc(size_t size) { note(); return __libc_malloc(size); }
__attribute__((weak)) void *calloc(size_t n, size_t size) { note(); return __libc_calloc(n, size); }
__attribute__((weak)) void *realloc(void *p, size_t size) { note(); return __libc_realloc(p, size); }
__attribute__((weak)) void *aligned_alloc(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
__attribute__((weak)) void *memalign(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
__attribute__((weak)) int posix_memalign(void **out, size_t alignment, size_t size) {
    note();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void swmc_start(void) { count = 0; counting = 1; }

uint64_t swmc_stop(void) { counting = 0; return count; }
