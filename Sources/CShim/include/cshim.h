// C shim: the few Linux calls Swift's Glibc module does not expose cleanly
// (memfd_create, futex). Host side only; no guest data passes through here.
#ifndef VTEE_CSHIM_H
#define VTEE_CSHIM_H
#include <stdint.h>
#include <stddef.h>

/// memfd_create(name, MFD_CLOEXEC); returns fd or -1 with errno set.
int vtee_memfd_create(const char *name);
/// futex wait on *addr while it equals expected, up to timeout_ns (0 = forever).
int vtee_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns);
/// futex wake up to n waiters on addr.
int vtee_futex_wake(uint32_t *addr, int n);
#endif
