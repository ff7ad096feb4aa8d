/* CTEEDev: registries, safe user-memory copies and raw system calls of the /dev/tee emulation. */
#define _GNU_SOURCE
#include "teedev.h"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_OBJECTS 1024
#define MAX_MAPPINGS 1024

struct object { int used; dev_t dev; ino_t ino; int64_t key; };
struct mapping { int used; uintptr_t addr; size_t len; int64_t key; };

static struct object objects[MAX_OBJECTS];
static struct mapping mappings[MAX_MAPPINGS];
static int object_count;   /* fast path: no lookup at all while nothing is registered */
static int mapping_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int vtee_dev_placeholder(const char *name, int cloexec, int64_t key)
{
    int fd = (int)syscall(SYS_memfd_create, name, cloexec ? MFD_CLOEXEC : 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        syscall(SYS_close, fd);
        return -e;
    }
    pthread_mutex_lock(&lock);
    int slot = -1;
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (!objects[i].used) { slot = i; break; }
    if (slot >= 0) {
        objects[slot].used = 1;
        objects[slot].dev = st.st_dev;
        objects[slot].ino = st.st_ino;
        objects[slot].key = key;
        __atomic_add_fetch(&object_count, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    if (slot < 0) {
        syscall(SYS_close, fd);
        return -EMFILE;
    }
    return fd;
}

int64_t vtee_dev_key_of_fd(int fd)
{
    if (fd < 0 || __atomic_load_n(&object_count, __ATOMIC_ACQUIRE) == 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int64_t key = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (objects[i].used && objects[i].ino == st.st_ino && objects[i].dev == st.st_dev) { key = objects[i].key; break; }
    pthread_mutex_unlock(&lock);
    return key;
}

void vtee_dev_forget_key(int64_t key)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (objects[i].used && objects[i].key == key) {
            objects[i].used = 0;
            __atomic_sub_fetch(&object_count, 1, __ATOMIC_RELEASE);
        }
    pthread_mutex_unlock(&lock);
}

int vtee_dev_key_still_open(int64_t key)
{
    dev_t dev = 0;
    ino_t ino = 0;
    int found = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_OBJECTS; i++)
        if (objects[i].used && objects[i].key == key) { dev = objects[i].dev; ino = objects[i].ino; found = 1; break; }
    pthread_mutex_unlock(&lock);
    if (!found)
        return 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 1;   /* cannot tell: keep the object rather than free it under a user */
    int open_ = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_ino == ino && st.st_dev == dev) { open_ = 1; break; }
    }
    closedir(d);
    return open_;
}

int vtee_dev_mapping_add(uintptr_t addr, size_t len, int64_t key)
{
    int rc = -ENOMEM;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_MAPPINGS; i++)
        if (!mappings[i].used) {
            mappings[i] = (struct mapping){ 1, addr, len, key };
            __atomic_add_fetch(&mapping_count, 1, __ATOMIC_RELEASE);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&lock);
    return rc;
}

int vtee_dev_mapping_remove(uintptr_t addr, size_t len, int64_t *keys, int max)
{
    if (__atomic_load_n(&mapping_count, __ATOMIC_ACQUIRE) == 0)
        return 0;
    int n = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_MAPPINGS && n < max; i++) {
        struct mapping *m = &mappings[i];
        if (m->used && addr < m->addr + m->len && m->addr < addr + len) {
            keys[n++] = m->key;
            m->used = 0;
            __atomic_sub_fetch(&mapping_count, 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&lock);
    return n;
}

int vtee_user_read(void *dst, uint64_t src, size_t len)
{
    if (len == 0)
        return 0;
    if (src == 0)
        return -EFAULT;
    struct iovec local = { dst, len };
    struct iovec remote = { (void *)(uintptr_t)src, len };
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return n == (ssize_t)len ? 0 : -EFAULT;
}

int vtee_user_write(uint64_t dst, const void *src, size_t len)
{
    if (len == 0)
        return 0;
    if (dst == 0)
        return -EFAULT;
    struct iovec local = { (void *)src, len };
    struct iovec remote = { (void *)(uintptr_t)dst, len };
    ssize_t n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
    return n == (ssize_t)len ? 0 : -EFAULT;
}

void *vtee_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    return (void *)r;
}

int vtee_sys_munmap(void *addr, size_t len) { return (int)syscall(SYS_munmap, addr, len); }
int vtee_sys_close(int fd) { return (int)syscall(SYS_close, fd); }
int32_t vtee_sys_getpid(void) { return (int32_t)syscall(SYS_getpid); }
void vtee_set_errno(int e) { errno = e; }

/* The Swift side (TEEDevice's @_cdecl exports). */
extern int vtee_dev_open(const char *path, int flags);
extern int vtee_dev_ioctl(int64_t key, uint64_t request, uint64_t arg);
extern void vtee_dev_released(int64_t key);
extern void *vtee_dev_mmap(int64_t key, void *addr, long len, int prot, int flags, int64_t off);
extern void vtee_dev_unmapped(int64_t key);

int vtee_fd_open(const char *path, int flags) { return vtee_dev_open(path, flags); }

int vtee_fd_ioctl(int fd, unsigned long request, uint64_t arg, int *handled)
{
    /* The VFS answers these before any driver sees them: pass them on to the placeholder file. */
    if (request == FIOCLEX || request == FIONCLEX || request == FIONBIO || request == FIOASYNC) {
        *handled = 0;
        return -1;
    }
    int64_t key = vtee_dev_key_of_fd(fd);
    if (key < 0) { *handled = 0; return -1; }
    *handled = 1;
    return vtee_dev_ioctl(key, (uint64_t)request, arg);
}

int vtee_fd_close(int fd, int *handled)
{
    int64_t key = vtee_dev_key_of_fd(fd);
    if (key < 0) { *handled = 0; return -1; }
    *handled = 1;
    int rc = vtee_sys_close(fd);
    if (rc != 0)
        return -1;
    if (!vtee_dev_key_still_open(key))
        vtee_dev_released(key);
    return 0;
}

void *vtee_fd_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled)
{
    int64_t key = fd >= 0 ? vtee_dev_key_of_fd(fd) : -1;
    if (key < 0) { *handled = 0; return MAP_FAILED; }
    *handled = 1;
    return vtee_dev_mmap(key, addr, (long)len, prot, flags, (int64_t)off);
}

int vtee_fd_munmap(void *addr, size_t len)
{
    int rc = (int)syscall(SYS_munmap, addr, len);
    if (rc != 0)
        return -1;
    int64_t keys[16];
    int n = vtee_dev_mapping_remove((uintptr_t)addr, len, keys, 16);
    for (int i = 0; i < n; i++)
        vtee_dev_unmapped(keys[i]);
    return 0;
}
