/* Host-side helpers for TA processes; see vtee_ta_host.h. Secure world. */
#define _GNU_SOURCE
#include "vtee_ta_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int vtee_ta_memfd(const char *name, uint64_t bytes) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)bytes) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int vtee_ta_image_memfd(const void *bytes, size_t n) {
    int fd = memfd_create("vtee-ta-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    const char *p = bytes;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0) { if (errno == EINTR) continue; int e = errno; close(fd); errno = e; return -1; }
        off += (size_t)w;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int vtee_ta_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

int vtee_ta_spawn(const char *exe, const char *argv0, char *const envp[], int chan, int bell, int image,
                  int32_t *pid, int *pidfd) {
    /* Move the three descriptors above 63 first, so no dup2 below clobbers another source. */
    int src[3] = { chan, bell, image }, high[3] = { -1, -1, -1 };
    for (int i = 0; i < 3; i++) {
        high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0) { int e = errno; for (int j = 0; j < i; j++) close(high[j]); return e; }
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < 3; i++) posix_spawn_file_actions_adddup2(&fa, high[i], 3 + i);
    posix_spawn_file_actions_addclosefrom_np(&fa, 6);
    /* Default signal dispositions and an empty mask in the child. */
    sigset_t all, none;
    sigfillset(&all); sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[2] = { (char *)argv0, NULL };
    pid_t child = -1;
    int r = posix_spawn(&child, exe, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    for (int i = 0; i < 3; i++) close(high[i]);
    if (r != 0) return r;
    *pid = child;
    *pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (*pidfd < 0) {
        int e = errno;
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return e;
    }
    return 0;
}

int vtee_ta_poll(int bell, int pidfd, int timeout_ms) {
    struct pollfd p[2] = { { .fd = bell, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
    int n = poll(p, 2, timeout_ms);
    if (n <= 0) return 0;
    int r = 0;
    if (p[0].revents) r |= 1;
    if (p[1].revents) r |= 2;
    return r;
}

void vtee_ta_drain(int bell) {
    char buf[64];
    while (recv(bell, buf, sizeof buf, MSG_DONTWAIT) > 0) {}
}

void vtee_ta_ring(int bell) {
    char b = 1;
    ssize_t r = send(bell, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)r;
}

void vtee_ta_futex_wake(uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

void vtee_ta_kill(int pidfd, int32_t pid) {
    if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0) return;
    if (pid > 0) kill(pid, SIGKILL);
}

int vtee_ta_reap(int32_t pid) {
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid) return status;
        if (r < 0 && errno == EINTR) continue;
        return -1;
    }
}

int vtee_ta_status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return 0;
}

void *vtee_ta_map(int fd, uint64_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void vtee_ta_unmap(void *p, uint64_t bytes) { if (p) munmap(p, bytes); }

void vtee_ta_close(int fd) { if (fd >= 0) close(fd); }
