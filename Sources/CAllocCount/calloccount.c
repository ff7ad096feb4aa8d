/* Counting interposer over glibc's allocator. Each entry point bumps a thread-local counter and
 * forwards to glibc's own implementation (the __libc_* names glibc exports for this purpose), so
 * behaviour is glibc's; only the count is added. free is forwarded and not counted. */
#include <errno.h>
#include <stddef.h>
#include "calloccount.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *p);

/* initial-exec TLS in the executable: no allocation on first touch, safe inside malloc. */
static __thread unsigned long long thread_allocs __attribute__((tls_model("initial-exec")));

unsigned long long vtee_thread_alloc_count(void) { return thread_allocs; }

/* Under AddressSanitizer or ThreadSanitizer the sanitizer owns malloc: an interposer here would
 * run instrumented before the sanitizer is initialised (TSan crashes in its own start-up) and
 * would hide every heap block from it. Such builds count nothing and say so. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VTEE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VTEE_SANITIZED 1
#endif
#endif

#ifdef VTEE_SANITIZED
int vtee_alloc_counting(void) { return 0; }
#else
int vtee_alloc_counting(void) { return 1; }

void *malloc(size_t size) { thread_allocs++; return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { thread_allocs++; return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { thread_allocs++; return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }

void *memalign(size_t alignment, size_t size) { thread_allocs++; return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { thread_allocs++; return __libc_memalign(alignment, size); }
void *valloc(size_t size) { thread_allocs++; return __libc_memalign(4096, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    /* glibc's rule: a power of two that is a multiple of sizeof(void *). */
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
    thread_allocs++;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
#endif
