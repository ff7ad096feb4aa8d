/* CVTEEPreload: LD_PRELOAD interposer routing the Linux TEE devices to vtee (see vtee_preload.h). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "teedev.h"
#include "vtee_preload.h"

static unsigned long routed;

unsigned long vtee_preload_routed_opens(void) { return __atomic_load_n(&routed, __ATOMIC_RELAXED); }

/* Looks a libc function up once (RTLD_NEXT: the definition after this library). */
#define REAL(name, ret, args) \
	static ret (*real_##name) args; \
	if (!real_##name) real_##name = (ret (*) args)dlsym(RTLD_NEXT, #name)

static int is_tee_path(const char *path)
{
	return path && (strcmp(path, "/dev/tee0") == 0 || strcmp(path, "/dev/teepriv0") == 0);
}

static int route_open(const char *path, int flags)
{
	__atomic_add_fetch(&routed, 1, __ATOMIC_RELAXED);
	return vtee_fd_open(path, flags);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(open, int, (const char *, int, ...));
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(open64, int, (const char *, int, ...));
	return real_open64(path, flags, mode);
}

int __open_2(const char *path, int flags)
{
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(__open_2, int, (const char *, int));
	return real___open_2(path, flags);
}

int __open64_2(const char *path, int flags)
{
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(__open64_2, int, (const char *, int));
	return real___open64_2(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(openat, int, (int, const char *, int, ...));
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_tee_path(path))
		return route_open(path, flags);
	REAL(openat64, int, (int, const char *, int, ...));
	return real_openat64(dirfd, path, flags, mode);
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int handled = 0;
	int rc = vtee_fd_ioctl(fd, request, (uint64_t)(uintptr_t)arg, &handled);
	if (handled)
		return rc;
	REAL(ioctl, int, (int, unsigned long, ...));
	return real_ioctl(fd, request, arg);
}

int close(int fd)
{
	int handled = 0;
	int rc = vtee_fd_close(fd, &handled);
	if (handled)
		return rc;
	REAL(close, int, (int));
	return real_close(fd);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fd >= 0 && !(flags & MAP_ANONYMOUS)) {
		int handled = 0;
		void *p = vtee_fd_mmap(addr, len, prot, flags, fd, off, &handled);
		if (handled)
			return p;
	}
	REAL(mmap, void *, (void *, size_t, int, int, int, off_t));
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	return vtee_fd_munmap(addr, len);
}
