/* CAllocCount: counts heap allocations made by the calling thread, for the benchmark's
 * `invoke_allocations` key and the test that pins it. Host side only. Linking this target into an
 * executable interposes malloc and friends (each counts, then forwards to glibc's allocator). */
#ifndef VTEE_CALLOCCOUNT_H
#define VTEE_CALLOCCOUNT_H

/* Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc)
 * made by the calling thread since it started. */
unsigned long long vtee_thread_alloc_count(void);

/* 1 when allocations are counted; 0 in a sanitizer build (the sanitizer owns malloc, nothing is
 * interposed and the count stays 0: allocation tests skip themselves). */
int vtee_alloc_counting(void);

#endif
