// C shim: the few Linux calls Swift's Glibc module does not expose cleanly
// (memfd_create, futex, SCM_RIGHTS, SO_PEERCRED, sockaddr_un, C11 atomics on
// shared memory). Host side only: these are thin, checked wrappers; no policy here.
#ifndef VTEE_CSHIM_H
#define VTEE_CSHIM_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// memfd_create(name, MFD_CLOEXEC); returns fd or -1 with errno set.
int vtee_memfd_create(const char *name);
/// futex wait on *addr while it equals expected, up to timeout_ns (0 = forever).
int vtee_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns);
/// futex wake up to n waiters on addr.
int vtee_futex_wake(uint32_t *addr, int n);

// MARK: - Transport: memfds that can be sealed against resizing

/// Seals that freeze a memfd's size (F_SEAL_SHRINK | F_SEAL_GROW).
#define VTEE_SEALS_SIZE 0x6
/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), sized to `bytes`, then sealed against
/// shrinking, growing and further sealing. Returns fd or -1 with errno set.
int vtee_memfd_create_sealed(const char *name, uint64_t bytes);
/// Tries to add the size seals to `fd` (harmless when present), then reports its seals, or -1
/// with errno (not a memfd, or sealing forbidden and the seals absent are both visible in the result).
int vtee_memfd_freeze_size(int fd);
/// Size in bytes of the file behind `fd` and whether it is a regular file (memfds are);
/// returns 0 or -1 with errno.
int vtee_fd_size(int fd, uint64_t *size, int *is_regular);
/// mmap(MAP_SHARED, read-write) of `bytes` of `fd`; NULL on failure with errno set.
void *vtee_map_shared(int fd, uint64_t bytes);
/// munmap of a mapping made by vtee_map_shared.
void vtee_unmap(void *p, uint64_t bytes);

// MARK: - Transport: Unix sockets

/// Creates, fchmods (so the file is born with `mode`), binds and listens on a Unix stream
/// socket at `path` (CLOEXEC, non-blocking). Returns fd or -1 with errno (ENAMETOOLONG for long paths).
int vtee_unix_listen(const char *path, uint32_t mode, int backlog);
/// accept4 (CLOEXEC, non-blocking) and the peer's credentials (SO_PEERCRED). Returns fd or -1.
int vtee_unix_accept(int listen_fd, uint32_t *uid, uint32_t *gid, int32_t *pid);
/// Connects a blocking CLOEXEC Unix stream socket to `path`. Returns fd or -1 with errno.
int vtee_unix_connect(const char *path);
/// Like vtee_unix_connect, but gives up after `timeout_ms` when the listener's backlog stays full
/// (a blocking connect would wait forever on a wedged daemon). Returns a blocking fd or -1 with
/// errno (ETIMEDOUT when the time ran out).
int vtee_unix_connect_timeout(const char *path, int timeout_ms);
/// The peer credentials (SO_PEERCRED) of a connected Unix socket. Returns 0 or -1.
int vtee_peer_credentials(int fd, uint32_t *uid, uint32_t *gid, int32_t *pid);
/// sendmsg of `len` bytes with up to 8 descriptors as SCM_RIGHTS, MSG_NOSIGNAL. Returns bytes sent or -1.
ssize_t vtee_send_with_fds(int fd, const void *buf, size_t len, const int *fds, int nfds, int dontwait);
/// recvmsg into `buf`, CLOEXEC on received descriptors. Up to `maxfds` descriptors land in `fds`
/// (count in *nfds); any beyond are closed and *truncated is set, as it is for MSG_CTRUNC.
/// Returns bytes read (0 = EOF) or -1 with errno.
ssize_t vtee_recv_with_fds(int fd, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated, int dontwait);
/// The sender of the bytes one recvmsg returned, from SCM_CREDENTIALS (the receiving socket
/// needs SO_PASSCRED): pid as this process's pid namespace sees it, real uid and gid.
typedef struct { int32_t pid; uint32_t uid; uint32_t gid; int present; } vtee_sender_t;
/// Turns on SO_PASSCRED (a listening Unix socket passes it to the sockets it accepts, so every
/// message read from them names its sender). Returns 0 or -1 with errno.
int vtee_set_passcred(int fd);
/// Like vtee_recv_with_fds, and also reports the sender of the bytes read (SCM_CREDENTIALS; a
/// stream read never joins bytes of two senders when SO_PASSCRED is on). `sender->present` is 0
/// when the message carried no credentials.
ssize_t vtee_recv_with_fds_creds(int fd, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated,
                                 int dontwait, vtee_sender_t *sender);
/// The effective uid and gid of process `pid` (the Uid:/Gid: lines of /proc/PID/status).
/// Returns 0, or -1 when the process is gone or its status unreadable.
int vtee_process_effective_ids(int32_t pid, uint32_t *euid, uint32_t *egid);
/// Sets (blocking = 1) or clears (0) blocking mode on `fd` (O_NONBLOCK). Sockets from
/// vtee_unix_listen / vtee_unix_accept start non-blocking: a server that reads them with plain
/// read() and SO_RCVTIMEO must make them blocking first. Returns 0 or -1 with errno.
int vtee_set_blocking(int fd, int blocking);
/// An eventfd (CLOEXEC, non-blocking) for waking a poll loop; -1 on failure.
int vtee_eventfd(void);
/// Adds one to an eventfd (wakes its poller).
void vtee_eventfd_signal(int fd);
/// Drains an eventfd.
void vtee_eventfd_drain(int fd);
/// pidfd_open(pid, 0): a descriptor that becomes readable when process `pid` exits; -1 on failure.
int vtee_pidfd_open(int32_t pid);
/// Whether `fd` is readable right now (poll with zero timeout): 1 or 0.
int vtee_fd_readable(int fd);
/// POLLRDHUP (peer shut down its writing side), which Swift does not import.
#define VTEE_POLLRDHUP 0x2000
/// Names the calling thread (first 15 bytes), for debuggers and `top -H`.
void vtee_set_thread_name(const char *name);
/// Whether a connected socket has hung up or has data/EOF pending (poll with zero timeout):
/// returns 1 when POLLHUP/POLLERR/POLLRDHUP is set, 0 otherwise.
int vtee_socket_hung_up(int fd);

// MARK: - Transport: atomics on shared (cross-process) memory

/// Acquire load of a shared 32-bit word.
static inline uint32_t vtee_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
/// Sequentially consistent load of a shared 32-bit word.
static inline uint32_t vtee_load_seqcst_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
/// Release store to a shared 32-bit word.
static inline void vtee_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/// Sequentially consistent store to a shared 32-bit word.
static inline void vtee_store_seqcst_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
/// Sequentially consistent exchange; returns the old value.
static inline uint32_t vtee_exchange_u32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
/// Compare-and-swap (seq_cst); returns 1 on success.
static inline int vtee_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
/// Relaxed load of a shared 64-bit word (the other side may be writing it).
static inline uint64_t vtee_load_relaxed_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
/// Relaxed store to a shared 64-bit word.
static inline void vtee_store_relaxed_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
/// A spin-wait hint to the CPU.
static inline void vtee_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Publishes the CPU the calling thread runs on (cpu + 1) in `word` (a mailbox slot's hint).
void vtee_publish_cpu(uint32_t *word);

/// One step of a mailbox spin-wait: republishes the caller's CPU in `mine`; yields when `peer`
/// (the CPU the awaited side last ran on) is the caller's own or the host has one CPU; else a
/// CPU pause, with a yield every 256th step (every 16th when the peer's CPU is unknown). Returns
/// the steps to count toward the spin budget: 16 for a yield, 1 for a pause.
uint32_t vtee_spin_wait_step(uint32_t step, uint32_t *mine, const uint32_t *peer);

// MARK: - Test helper: a guest process written in C

/// Forks a child that acts as a minimal guest over the vtee transport: connects to `path`,
/// hands over a sealed RAM memfd of `ram_pages` pages and a one-vCPU mailbox, writes
/// `pattern` into the first RAM page, then makes `calls` mailbox calls (a0 = call index,
/// a1 = 0x5EED) and sleeps until killed (or exits when `exit_after` is set).
/// Only async-signal-safe calls run in the child. Returns the child pid or -1.
int vtee_test_spawn_c_guest(const char *path, uint32_t ram_pages, uint8_t pattern, uint32_t calls, int exit_after);

/// Forks a child that becomes `uid`/`gid` (setgid, setuid: the caller must be root), connects to
/// the Unix socket `path`, sends `command` and a newline, and passes the reply back through a
/// pipe into `out` (at most `cap` - 1 bytes, NUL-terminated). Returns the reply length, or -1
/// (-2 when the child could not change user or connect).
int vtee_test_query_as(const char *path, uint32_t uid, uint32_t gid, const char *command, char *out, int cap);

/// Forks a "connector" child that connects to `path` and forks a "speaker" child; the connector
/// reports the speaker's pid through a pipe and execs `exec_path` (argv: exec_path, "30"); the
/// speaker waits until the connector's /proc/PID/exe has changed, then sends a valid HELLO
/// (sealed RAM of `ram_pages` pages, one-vCPU mailbox) on the inherited socket, reads the answer
/// and sleeps until killed. Returns the connector's pid (the speaker's in *speaker) or -1.
int vtee_test_spawn_split_hello(const char *path, const char *exec_path, uint32_t ram_pages, int32_t *speaker);
// MARK: - Call-path locks

/// A call-path lock's word: 0 free, 1 held, 2 held and a waiter may sleep on it. Barging (a
/// released lock goes to whoever takes it first), a short spin before sleeping on a private futex.
/// Takes the lock when it is free; returns nonzero on success.
static inline int vtee_cplock_try(uint32_t *w) {
    uint32_t free_word = 0;
    return __atomic_compare_exchange_n(w, &free_word, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
/// The contended half of `vtee_cplock_lock`: spins, then sleeps until the lock is taken.
void vtee_cplock_lock_slow(uint32_t *w);
/// Wakes one sleeper of the lock word `w`.
void vtee_cplock_wake(uint32_t *w);
/// Takes the lock, waiting as long as it takes.
static inline void vtee_cplock_lock(uint32_t *w) {
    if (!vtee_cplock_try(w)) vtee_cplock_lock_slow(w);
}
/// Releases the lock; wakes one sleeper when someone may sleep.
static inline void vtee_cplock_unlock(uint32_t *w) {
    if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2) vtee_cplock_wake(w);
}

// MARK: - Machine: the calling thread's region cache

/// The calling thread's region cache (Machine's RegionCache, retained by its pthread key), NULL
/// until the thread's first memory access: a C11 thread-local, read inline from Swift (one TLS
/// load, where pthread_getspecific behind a lazily made key cost a call and a once-check).
extern _Thread_local void *vtee_thread_region_cache;
/// The calling thread's region cache, or NULL.
static inline void *vtee_region_cache_get(void) { return vtee_thread_region_cache; }
/// Sets the calling thread's region cache (NULL when its key's destructor released it).
static inline void vtee_region_cache_set(void *p) { vtee_thread_region_cache = p; }

#endif
