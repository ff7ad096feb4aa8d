/* tee_ioctl: raw Linux TEE ioctls (linux/tee.h) on /dev/tee0 and /dev/teepriv0, as run under
 * LD_PRELOAD=libvtee-preload.so. Checks results, Linux errno values for hostile arguments, shm
 * fds and mmap, dup, close and fork. Prints "ok NAME" / "FAIL NAME: why" lines and a summary;
 * exits 1 on any failure. With the argument "hostile-only" it runs one session open, the hostile
 * calls and one NOP invoke, so the test can count what reached the daemon. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/tee.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* An ioctl expected to fail with `want`. */
static void expect_errno(const char *name, int fd, unsigned long req, void *arg, int want)
{
	errno = 0;
	int rc = ioctl(fd, req, arg);
	int e = errno;
	check(name, rc == -1 && e == want, "rc=%d errno=%d (%s), want %d", rc, e, strerror(e), want);
}

static const uint8_t test_uuid[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 1 };
enum { TEST_NOP = 0, TEST_ECHO = 10, TEST_IDENTITY = 12 };

struct open_buf {
	struct tee_ioctl_open_session_arg arg;
	struct tee_ioctl_param params[4];
};
struct invoke_buf {
	struct tee_ioctl_invoke_arg arg;
	struct tee_ioctl_param params[4];
};

static int open_session(int fd, uint32_t login, uint32_t *session, uint32_t *ret)
{
	struct open_buf b;
	memset(&b, 0, sizeof(b));
	memcpy(b.arg.uuid, test_uuid, 16);
	b.arg.clnt_login = login;
	b.arg.num_params = 4;
	struct tee_ioctl_buf_data bd = { (uintptr_t)&b, sizeof(b) };
	int rc = ioctl(fd, TEE_IOC_OPEN_SESSION, &bd);
	*session = b.arg.session;
	*ret = b.arg.ret;
	return rc;
}

static int nop(int fd, uint32_t session, uint32_t *a0, uint32_t *ret)
{
	struct invoke_buf b;
	memset(&b, 0, sizeof(b));
	b.arg.func = TEST_NOP;
	b.arg.session = session;
	b.arg.num_params = 4;
	for (int i = 0; i < 4; i++) {
		b.params[i].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT;
		b.params[i].a = 100 + (uint64_t)i;
	}
	struct tee_ioctl_buf_data bd = { (uintptr_t)&b, sizeof(b) };
	int rc = ioctl(fd, TEE_IOC_INVOKE, &bd);
	*a0 = (uint32_t)b.params[0].a;
	*ret = b.arg.ret;
	return rc;
}

static void hostile(int fd, uint32_t session, int32_t own_id, int32_t foreign_id)
{
	struct invoke_buf b;
	struct tee_ioctl_buf_data bd;

	expect_errno("unknown_tee_ioctl_einval", fd, _IOR(TEE_IOC_MAGIC, 0x55, struct tee_ioctl_buf_data), &bd, EINVAL);
	expect_errno("foreign_ioctl_number_einval", fd, 0x1234, &bd, EINVAL);

	/* Lengths. */
	memset(&b, 0, sizeof(b));
	b.arg.func = TEST_NOP;
	b.arg.session = session;
	b.arg.num_params = 4;
	bd.buf_ptr = (uintptr_t)&b;
	bd.buf_len = sizeof(b) + 1;
	expect_errno("invoke_len_not_header_plus_params_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	bd.buf_len = 8;
	expect_errno("invoke_len_below_header_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	bd.buf_len = TEE_MAX_ARG_SIZE + 32;
	expect_errno("invoke_len_above_max_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	bd.buf_len = sizeof(b);
	b.arg.num_params = 5;
	expect_errno("num_params_lie_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.arg.num_params = 0xFFFFFFFFu;
	expect_errno("num_params_huge_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.arg.num_params = 4;

	/* Attributes. */
	b.params[0].attr = 0x200 | TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT;
	expect_errno("attr_stray_bit_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].attr = 4;
	expect_errno("attr_undefined_type_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].attr = TEE_IOCTL_PARAM_ATTR_META | TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT;
	expect_errno("attr_meta_from_client_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);

	/* Shared memory ids and windows. */
	b.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT;
	b.params[0].a = 0;
	b.params[0].b = 16;
	b.params[0].c = 987654;
	expect_errno("unknown_shm_id_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].c = (uint64_t)foreign_id;
	expect_errno("foreign_shm_id_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].c = (uint64_t)own_id;
	b.params[0].a = 8000;
	b.params[0].b = 500;
	expect_errno("shm_window_past_end_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].a = UINT64_MAX - 2;
	b.params[0].b = 16;
	expect_errno("shm_window_overflow_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.params[0].attr = 0;

	/* Sessions this context does not own. */
	b.arg.session = session + 1000;
	expect_errno("invoke_unknown_session_einval", fd, TEE_IOC_INVOKE, &bd, EINVAL);
	b.arg.session = session;
	struct tee_ioctl_close_session_arg cs = { session + 1000 };
	expect_errno("close_unknown_session_einval", fd, TEE_IOC_CLOSE_SESSION, &cs, EINVAL);
	struct tee_ioctl_cancel_arg ca = { 0, session + 1000 };
	expect_errno("cancel_unknown_session_einval", fd, TEE_IOC_CANCEL, &ca, EINVAL);

	/* Pointers. */
	expect_errno("version_null_efault", fd, TEE_IOC_VERSION, NULL, EFAULT);
	expect_errno("invoke_null_efault", fd, TEE_IOC_INVOKE, NULL, EFAULT);
	bd.buf_ptr = 0;
	bd.buf_len = sizeof(b);
	expect_errno("invoke_buf_ptr_null_efault", fd, TEE_IOC_INVOKE, &bd, EFAULT);
	void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, 4096);
	bd.buf_ptr = (uintptr_t)gone;
	expect_errno("invoke_buf_ptr_unmapped_efault", fd, TEE_IOC_INVOKE, &bd, EFAULT);
	expect_errno("open_session_arg_unmapped_efault", fd, TEE_IOC_OPEN_SESSION, gone, EFAULT);
	expect_errno("close_session_null_efault", fd, TEE_IOC_CLOSE_SESSION, NULL, EFAULT);

	/* Open-session specifics. */
	struct open_buf ob;
	memset(&ob, 0, sizeof(ob));
	memcpy(ob.arg.uuid, test_uuid, 16);
	ob.arg.num_params = 4;
	bd.buf_ptr = (uintptr_t)&ob;
	bd.buf_len = sizeof(ob);
	ob.arg.clnt_login = TEE_IOCTL_LOGIN_REE_KERNEL;
	expect_errno("login_ree_kernel_eperm", fd, TEE_IOC_OPEN_SESSION, &bd, EPERM);
	ob.arg.clnt_login = TEE_IOCTL_LOGIN_APPLICATION;
	expect_errno("login_application_einval", fd, TEE_IOC_OPEN_SESSION, &bd, EINVAL);
	ob.arg.clnt_login = 77;
	expect_errno("login_unknown_einval", fd, TEE_IOC_OPEN_SESSION, &bd, EINVAL);
	ob.arg.clnt_login = TEE_IOCTL_LOGIN_GROUP;
	uint32_t not_mine = 0x7ffffff0u;
	memcpy(ob.arg.clnt_uuid, &not_mine, 4);
	expect_errno("login_group_non_member_eperm", fd, TEE_IOC_OPEN_SESSION, &bd, EPERM);
	ob.arg.clnt_login = 0;
	bd.buf_len = 40;
	expect_errno("open_len_below_header_einval", fd, TEE_IOC_OPEN_SESSION, &bd, EINVAL);

	/* Shared memory allocation. */
	struct tee_ioctl_shm_alloc_data sa = { 4096, 1, 0 };
	expect_errno("shm_alloc_flags_einval", fd, TEE_IOC_SHM_ALLOC, &sa, EINVAL);
	sa.flags = 0;
	sa.size = 1ull << 40;
	expect_errno("shm_alloc_huge_enomem", fd, TEE_IOC_SHM_ALLOC, &sa, ENOMEM);
	expect_errno("shm_alloc_null_efault", fd, TEE_IOC_SHM_ALLOC, NULL, EFAULT);
	struct tee_ioctl_shm_register_data sr = { (uintptr_t)&sa, 4096, 0, 0 };
	expect_errno("shm_register_not_advertised_einval", fd, TEE_IOC_SHM_REGISTER, &sr, EINVAL);

	/* Supplicant ioctls on a client device. */
	uint8_t recv[8 + 32];
	memset(recv, 0, sizeof(recv));
	bd.buf_ptr = (uintptr_t)recv;
	bd.buf_len = sizeof(recv);
	expect_errno("suppl_recv_on_client_device_einval", fd, TEE_IOC_SUPPL_RECV, &bd, EINVAL);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int hostile_only = argc > 1 && strcmp(argv[1], "hostile-only") == 0;

	int fd = open("/dev/tee0", O_RDWR);
	check("open_tee0", fd >= 0, "errno=%d", errno);
	if (fd < 0) {
		printf("summary passed=%d failed=%d\n", passed, failed);
		return 1;
	}
	int fd2 = open("/dev/tee0", O_RDWR | O_CLOEXEC);
	check("open_tee0_twice", fd2 >= 0 && fd2 != fd, "errno=%d", errno);

	struct tee_ioctl_version_data v;
	memset(&v, 0, sizeof(v));
	int rc = ioctl(fd, TEE_IOC_VERSION, &v);
	check("version_optee_tz_gp_memref_null", rc == 0 && v.impl_id == TEE_IMPL_ID_OPTEE && v.impl_caps == TEE_OPTEE_CAP_TZ &&
	      v.gen_caps == (TEE_GEN_CAP_GP | TEE_GEN_CAP_MEMREF_NULL), "rc=%d impl=%u caps=%u gen=%u", rc, v.impl_id, v.impl_caps, v.gen_caps);

	/* Shared memory: an fd that mmaps guest RAM; the id stays valid while mapped. */
	struct tee_ioctl_shm_alloc_data sa = { 8192, 0, -1 };
	int shm_fd = ioctl(fd, TEE_IOC_SHM_ALLOC, &sa);
	check("shm_alloc_fd_and_id", shm_fd >= 0 && sa.id > 0, "rc=%d id=%d errno=%d", shm_fd, sa.id, errno);
	errno = 0;
	void *bad_map = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	check("shm_mmap_past_end_einval", bad_map == MAP_FAILED && errno == EINVAL, "p=%p errno=%d", bad_map, errno);
	uint8_t *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	check("shm_mmap", m != MAP_FAILED, "errno=%d", errno);
	close(shm_fd);
	struct tee_ioctl_shm_alloc_data sa2 = { 64, 0, -1 };
	int foreign_fd = ioctl(fd2, TEE_IOC_SHM_ALLOC, &sa2);
	check("shm_alloc_second_context", foreign_fd >= 0, "errno=%d", errno);

	uint32_t session = 0, ret = 0, a0 = 0;
	rc = open_session(fd, TEE_IOCTL_LOGIN_PUBLIC, &session, &ret);
	check("open_session", rc == 0 && ret == 0, "rc=%d ret=0x%x errno=%d", rc, ret, errno);

	if (hostile_only) {
		hostile(fd, session, sa.id, sa2.id);
		rc = nop(fd, session, &a0, &ret);
		check("healthy_after_hostile", rc == 0 && ret == 0 && a0 == 101, "rc=%d ret=0x%x a0=%u", rc, ret, a0);
		printf("summary passed=%d failed=%d\n", passed, failed);
		return failed ? 1 : 0;
	}

	rc = nop(fd, session, &a0, &ret);
	check("invoke_values", rc == 0 && ret == 0 && a0 == 101, "rc=%d ret=0x%x a0=%u", rc, ret, a0);

	if (m != MAP_FAILED) {
		memcpy(m + 100, "abcdef", 6);
		struct invoke_buf b;
		memset(&b, 0, sizeof(b));
		b.arg.func = TEST_ECHO;
		b.arg.session = session;
		b.arg.num_params = 4;
		b.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT;
		b.params[0].a = 100;
		b.params[0].b = 6;
		b.params[0].c = (uint64_t)sa.id;
		struct tee_ioctl_buf_data bd = { (uintptr_t)&b, sizeof(b) };
		rc = ioctl(fd, TEE_IOC_INVOKE, &bd);
		check("invoke_memref_in_mapped_shm_after_fd_closed", rc == 0 && b.arg.ret == 0 && memcmp(m + 100, "fedcba", 6) == 0 &&
		      b.params[0].b == 6 && b.params[0].a == 100 && b.params[0].c == (uint64_t)sa.id,
		      "rc=%d ret=0x%x got=%.6s", rc, b.arg.ret, (char *)m + 100);

		b.params[0].c = TEE_MEMREF_NULL;
		b.params[0].a = 0;
		b.params[0].b = 0;
		rc = ioctl(fd, TEE_IOC_INVOKE, &bd);
		check("invoke_memref_null", rc == 0 && b.arg.ret == 0, "rc=%d ret=0x%x", rc, b.arg.ret);

		/* SHORT_BUFFER: only b is written back for a memref output. */
		memset(&b, 0, sizeof(b));
		b.arg.func = TEST_IDENTITY;
		b.arg.session = session;
		b.arg.num_params = 4;
		b.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT;
		b.params[1].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT;
		b.params[1].a = 0;
		b.params[1].b = 4;
		b.params[1].c = (uint64_t)sa.id;
		rc = ioctl(fd, TEE_IOC_INVOKE, &bd);
		check("short_buffer_size_written_back", rc == 0 && b.arg.ret == 0xFFFF0010u && b.arg.ret_origin == 4 && b.params[1].b == 16 &&
		      b.params[1].c == (uint64_t)sa.id, "rc=%d ret=0x%x b=%llu", rc, b.arg.ret, (unsigned long long)b.params[1].b);
	}

	/* dup: the same context through another descriptor; the context lives while one is open. */
	int dupfd = dup(fd);
	close(fd);
	rc = nop(dupfd, session, &a0, &ret);
	check("dup_keeps_context_after_original_closed", rc == 0 && ret == 0 && a0 == 101, "rc=%d ret=0x%x errno=%d", rc, ret, errno);

	/* fork: the child cannot use the parent's context (EIO) but can open its own; the parent's
	 * context is untouched. */
	pid_t pid = fork();
	if (pid == 0) {
		uint32_t ca0 = 0, cret = 0;
		errno = 0;
		int crc = nop(dupfd, session, &ca0, &cret);
		int inherited_eio = crc == -1 && errno == EIO;
		int own = open("/dev/tee0", O_RDWR);
		uint32_t cs = 0;
		int ok_own = own >= 0 && open_session(own, 0, &cs, &cret) == 0 && cret == 0 && nop(own, cs, &ca0, &cret) == 0 && ca0 == 101;
		close(own);
		_exit(inherited_eio && ok_own ? 0 : 1 + inherited_eio);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	check("fork_child_eio_on_inherited_and_own_context_works", WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "status=0x%x", status);
	rc = nop(dupfd, session, &a0, &ret);
	check("fork_parent_context_intact", rc == 0 && ret == 0 && a0 == 101, "rc=%d ret=0x%x", rc, ret);

	/* Close session, then the session id is unknown. */
	struct tee_ioctl_close_session_arg cs = { session };
	rc = ioctl(dupfd, TEE_IOC_CLOSE_SESSION, &cs);
	check("close_session", rc == 0, "rc=%d errno=%d", rc, errno);
	errno = 0;
	rc = nop(dupfd, session, &a0, &ret);
	check("closed_session_einval", rc == -1 && errno == EINVAL, "rc=%d errno=%d", rc, errno);

	/* Closing the last descriptor closes the context's sessions (the daemon ends with none). */
	uint32_t s2 = 0;
	rc = open_session(fd2, 0, &s2, &ret);
	check("open_session_second_context", rc == 0 && ret == 0, "rc=%d ret=0x%x", rc, ret);

	int priv = open("/dev/teepriv0", O_RDWR);
	memset(&v, 0, sizeof(v));
	rc = ioctl(priv, TEE_IOC_VERSION, &v);
	check("teepriv0_version_privileged", priv >= 0 && rc == 0 && v.impl_id == TEE_IMPL_ID_OPTEE &&
	      (v.gen_caps & TEE_GEN_CAP_PRIVILEGED), "priv=%d rc=%d gen=%u", priv, rc, v.gen_caps);
	close(priv);

	if (m != MAP_FAILED)
		munmap(m, 8192);
	close(foreign_fd);
	close(fd2);
	close(dupfd);
	errno = 0;
	rc = ioctl(dupfd, TEE_IOC_VERSION, &v);
	check("closed_fd_ebadf", rc == -1 && errno == EBADF, "rc=%d errno=%d", rc, errno);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
