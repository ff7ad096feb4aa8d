#define _GNU_SOURCE
#include "cshim.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <unistd.h>
#include <time.h>

int vtee_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int vtee_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns > 0) { ts.tv_sec = timeout_ns / 1000000000; ts.tv_nsec = timeout_ns % 1000000000; tp = &ts; }
    return (int)syscall(SYS_futex, addr, FUTEX_WAIT, expected, tp, NULL, 0);
}

int vtee_futex_wake(uint32_t *addr, int n) {
    return (int)syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}
