/* Test support: the malloc family of the test binary, wrapped to count allocations per thread.
 * Each wrapper forwards to glibc's __libc_* entry point (no dlsym, so nothing allocates while a
 * wrapper resolves), and counts only while the calling thread asked for it. */
#define _GNU_SOURCE
#include "malloc_count.h"
#include <errno.h>
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int counting;
static _Thread_local unsigned long allocations;

static inline void note(void) {
    if (counting) allocations++;
}

void *malloc(size_t size) { note(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { note(); return __libc_calloc(count, size); }
void *realloc(void *ptr, size_t size) { note(); return __libc_realloc(ptr, size); }
void *memalign(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    note();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void vtee_malloc_count_start(void) { allocations = 0; counting = 1; }
unsigned long vtee_malloc_count_stop(void) { counting = 0; return allocations; }
int vtee_malloc_count_available(void) { return 1; }
#else
void vtee_malloc_count_start(void) {}
unsigned long vtee_malloc_count_stop(void) { return 0; }
int vtee_malloc_count_available(void) { return 0; }
#endif
