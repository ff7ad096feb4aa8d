/* Test support: counts heap allocations made by the calling thread between start and stop.
 * The test binary's malloc family is wrapped (glibc's __libc_* do the work), so a test can pin
 * how many allocations a code path makes. Host only; no world sees it. */
#ifndef VTEE_MALLOC_COUNT_H
#define VTEE_MALLOC_COUNT_H

/* Starts counting this thread's allocations from zero. */
void vtee_malloc_count_start(void);
/* Stops counting and returns the allocations this thread made since start. */
unsigned long vtee_malloc_count_stop(void);
/* 1 when the wrappers are active in this binary (glibc), 0 when counting is unavailable. */
int vtee_malloc_count_available(void);

#endif
