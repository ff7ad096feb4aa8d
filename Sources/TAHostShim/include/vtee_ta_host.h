/* Host-side helpers for TA processes (secure world, TAHost module): memfds, the doorbell
 * socket, posix_spawn with exactly the TA channel descriptors, pidfds and reaping. Thin,
 * checked wrappers; the policy is TAHost's. */
#ifndef VTEE_TA_HOST_H
#define VTEE_TA_HOST_H
#include <stddef.h>
#include <stdint.h>
#include "vtee_ta_channel.h"

/* A CLOEXEC memfd of `bytes` bytes (sparse); -1 with errno. */
int vtee_ta_memfd(const char *name, uint64_t bytes);
/* A CLOEXEC memfd holding `n` bytes of `bytes`, sealed against writes, resizing and further
 * sealing (the TA image the process loads); -1 with errno. */
int vtee_ta_image_memfd(const void *bytes, size_t n);
/* A CLOEXEC SOCK_SEQPACKET socketpair (the doorbell); 0 or -1. */
int vtee_ta_socketpair(int fds[2]);
/* posix_spawn of `exe` with argv {argv0, NULL}, environment `envp`, stdin/stdout on
 * /dev/null, stderr inherited, `chan`/`bell`/`image` on fds 3/4/5 and every other descriptor
 * closed. Stores the pid and a pidfd. Returns 0 or an errno value. */
int vtee_ta_spawn(const char *exe, const char *argv0, char *const envp[], int chan, int bell, int image,
                  int32_t *pid, int *pidfd);
/* Waits up to `timeout_ms` for the doorbell or the process's exit: bit 0 = doorbell readable
 * or hung up, bit 1 = process exited; 0 on timeout. */
int vtee_ta_poll(int bell, int pidfd, int timeout_ms);
/* Reads every pending doorbell byte (non-blocking). */
void vtee_ta_drain(int bell);
/* Writes one doorbell byte (non-blocking; a full socket already holds a wake-up). */
void vtee_ta_ring(int bell);
/* Wakes TEE_Wait sleepers on a shared futex word. */
void vtee_ta_futex_wake(uint32_t *word);
/* SIGKILL through the pidfd (or the pid when pidfd is -1). */
void vtee_ta_kill(int pidfd, int32_t pid);
/* Reaps `pid` (blocking); returns its wait status, or -1 when someone else reaped it. */
int vtee_ta_reap(int32_t pid);
/* Decodes a wait status: exit code (>= 0) or -signal. */
int vtee_ta_status_code(int status);
/* mmap(MAP_SHARED) of `bytes` of `fd`; NULL on failure. */
void *vtee_ta_map(int fd, uint64_t bytes);
/* munmap. */
void vtee_ta_unmap(void *p, uint64_t bytes);
/* close(2). */
void vtee_ta_close(int fd);
#endif
