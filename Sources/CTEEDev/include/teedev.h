/* CTEEDev: C helpers of the /dev/tee emulation (guest user space of a vtee guest process).
 * A registry of the placeholder files that stand for /dev/tee contexts and shm objects (found
 * by inode, so dup'ed and inherited descriptors resolve to the same object), a registry of
 * mappings of shm objects, user-memory copies that report EFAULT instead of crashing, and raw
 * system calls that bypass an LD_PRELOAD interposer. No Swift here; Swift calls these. */
#ifndef VTEE_TEEDEV_H
#define VTEE_TEEDEV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates a placeholder descriptor (a memfd named `name`, close-on-exec when `cloexec`) and
 * registers its inode under `key` (>= 0). Returns the fd or -errno. */
int vtee_dev_placeholder(const char *name, int cloexec, int64_t key);
/* The key registered for the file `fd` refers to, or -1. */
int64_t vtee_dev_key_of_fd(int fd);
/* Forgets the registration of `key`. */
void vtee_dev_forget_key(int64_t key);
/* 1 when some descriptor of this process still refers to the file registered as `key`. */
int vtee_dev_key_still_open(int64_t key);

/* Records a mapping [addr, addr+len) of the object `key`. Returns 0, or -ENOMEM when full. */
int vtee_dev_mapping_add(uintptr_t addr, size_t len, int64_t key);
/* Removes every recorded mapping overlapping [addr, addr+len); writes up to `max` of their keys
 * into `keys` and returns how many were removed. */
int vtee_dev_mapping_remove(uintptr_t addr, size_t len, int64_t *keys, int max);

/* Copies `len` bytes of this process's memory at `src` into `dst`: 0, or -EFAULT when any byte
 * is not readable (process_vm_readv on itself, so a bad pointer never faults). */
int vtee_user_read(void *dst, uint64_t src, size_t len);
/* Copies `len` bytes from `src` to this process's memory at `dst`: 0 or -EFAULT. */
int vtee_user_write(uint64_t dst, const void *src, size_t len);

/* mmap/munmap/close through the system call itself (an interposer never sees them). */
void *vtee_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int vtee_sys_munmap(void *addr, size_t len);
int vtee_sys_close(int fd);
/* getpid through the system call. */
int32_t vtee_sys_getpid(void);
/* Sets errno (for @_cdecl glue that returns -1 with errno, as libc does). */
void vtee_set_errno(int e);
#endif

/* Descriptor-level operations of the emulation (what the kernel's file operations would do).
 * Each returns like the libc call it stands for: -1 (MAP_FAILED for mmap) with errno set. */
int vtee_fd_open(const char *path, int flags);
/* ioctl on `fd`; `handled` is set to 0 when fd is not a vtee object (the caller passes it on). */
int vtee_fd_ioctl(int fd, unsigned long request, uint64_t arg, int *handled);
int vtee_fd_close(int fd, int *handled);
void *vtee_fd_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled);
/* munmap through the system call, then releases the vtee mappings it removed. */
int vtee_fd_munmap(void *addr, size_t len);
