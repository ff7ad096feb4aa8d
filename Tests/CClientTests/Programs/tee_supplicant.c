/* tee_supplicant: a tee-supplicant loop on /dev/teepriv0 (raw ioctls from linux/tee.h, as
 * optee_client's tee-supplicant issues them) serving SHM_ALLOC, SHM_FREE and FS requests from an
 * in-memory file store, while the main thread's client on /dev/tee0 makes the secure world use
 * storage. Run under LD_PRELOAD=libvtee-preload.so. Prints "ok"/"FAIL" lines, "value" lines and a
 * summary; exits 1 on any failure.
 * `tee_supplicant serve [stall]`: only the supplicant, serving the user's other processes (the
 * shared supplicant): prints "value ready", serves until stdin ends, then prints its served counts.
 * With `stall`, a plugin request is never answered (it prints "value stalled" and blocks), so a
 * test can kill the supplicant while a client's call waits on it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/tee.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "raw_tee.h"

#define RPC_LOAD_TA 0
#define RPC_FS 2
#define RPC_SHM_ALLOC 6
#define RPC_SHM_FREE 7
#define RPC_PLUGIN 12
#define TEEC_SUCCESS 0
#define TEEC_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define TEEC_ERROR_ITEM_NOT_FOUND 0xFFFF0008u
#define TEEC_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define TEEC_ERROR_OUT_OF_MEMORY 0xFFFF000Cu
#define TEEC_ERROR_SHORT_BUFFER 0xFFFF0010u

/* Shared memory the supplicant allocated (SHM_ALLOC + mmap), by id. */
struct shm { int used; int id; void *p; size_t size; int fd; };
static struct shm shms[64];

/* The in-memory REE file system. */
struct file { int used; char path[256]; uint8_t *data; size_t size; };
static struct file files[64];
static int handles[64];   /* fd -> file index + 1 */
static int dirs[16];      /* dir handle -> next file index + 1 */

static int priv_fd = -1;
/* Atomic: the loop thread counts, the main thread reads after its calls return. */
static _Atomic long served[16];

static struct shm *shm_by_id(uint64_t id)
{
	for (int i = 0; i < 64; i++)
		if (shms[i].used && (uint64_t)shms[i].id == id)
			return &shms[i];
	return NULL;
}

/* The bytes of a memref param: supplicant memory at offset a, size b (bounds-checked). */
static uint8_t *memref(struct tee_ioctl_param *p, size_t *size)
{
	struct shm *s = shm_by_id(p->c);
	if (!s || p->a > s->size || p->b > s->size - p->a)
		return NULL;
	*size = p->b;
	return (uint8_t *)s->p + p->a;
}

static int find_file(const char *path)
{
	for (int i = 0; i < 64; i++)
		if (files[i].used && strcmp(files[i].path, path) == 0)
			return i;
	return -1;
}

static uint32_t fs(struct tee_ioctl_param *p, uint32_t n)
{
	if (n < 1)
		return TEEC_ERROR_BAD_PARAMETERS;
	uint64_t op = p[0].a, h = p[0].b, c = p[0].c;
	size_t sz = 0;
	uint8_t *m = n > 1 ? memref(&p[1], &sz) : NULL;
	switch (op) {
	case 0: /* OPEN */
	case 1: /* CREATE */ {
		if (!m || n < 3 || sz == 0 || sz > 255)
			return TEEC_ERROR_BAD_PARAMETERS;
		char path[256];
		memcpy(path, m, sz);
		path[sz] = 0;
		int f = find_file(path);
		if (f < 0 && op == 0)
			return TEEC_ERROR_ITEM_NOT_FOUND;
		if (f < 0) {
			for (int i = 0; i < 64 && f < 0; i++)
				if (!files[i].used) f = i;
			if (f < 0)
				return TEEC_ERROR_OUT_OF_MEMORY;
			memset(&files[f], 0, sizeof(files[f]));
			files[f].used = 1;
			strcpy(files[f].path, path);
		} else if (op == 1) {
			files[f].size = 0;
		}
		for (int k = 1; k < 64; k++)
			if (!handles[k]) { handles[k] = f + 1; p[2].a = (uint64_t)k; return TEEC_SUCCESS; }
		return TEEC_ERROR_OUT_OF_MEMORY;
	}
	case 2: /* CLOSE */
		if (h >= 64 || !handles[h]) return TEEC_ERROR_BAD_PARAMETERS;
		handles[h] = 0;
		return TEEC_SUCCESS;
	case 3: /* READ */ {
		if (h >= 64 || !handles[h] || !m) return TEEC_ERROR_BAD_PARAMETERS;
		struct file *f = &files[handles[h] - 1];
		size_t k = c >= f->size ? 0 : f->size - c;
		if (k > sz) k = sz;
		memcpy(m, f->data + c, k);
		p[1].b = k;
		return TEEC_SUCCESS;
	}
	case 4: /* WRITE */ {
		if (h >= 64 || !handles[h] || !m) return TEEC_ERROR_BAD_PARAMETERS;
		struct file *f = &files[handles[h] - 1];
		if (c + sz > f->size) {
			uint8_t *d = realloc(f->data, c + sz);
			if (!d) return TEEC_ERROR_OUT_OF_MEMORY;
			memset(d + f->size, 0, c + sz - f->size);
			f->data = d;
			f->size = c + sz;
		}
		memcpy(f->data + c, m, sz);
		return TEEC_SUCCESS;
	}
	case 5: /* TRUNCATE */
		if (h >= 64 || !handles[h]) return TEEC_ERROR_BAD_PARAMETERS;
		if (c < files[handles[h] - 1].size) files[handles[h] - 1].size = c;
		return TEEC_SUCCESS;
	case 6: /* REMOVE */ {
		if (!m || sz > 255) return TEEC_ERROR_BAD_PARAMETERS;
		char path[256];
		memcpy(path, m, sz);
		path[sz] = 0;
		int f = find_file(path);
		if (f < 0) return TEEC_ERROR_ITEM_NOT_FOUND;
		free(files[f].data);
		files[f].used = 0;
		return TEEC_SUCCESS;
	}
	case 7: /* RENAME */ {
		size_t sz2 = 0;
		uint8_t *m2 = n > 2 ? memref(&p[2], &sz2) : NULL;
		if (!m || !m2 || sz > 255 || sz2 > 255) return TEEC_ERROR_BAD_PARAMETERS;
		char from[256], to[256];
		memcpy(from, m, sz); from[sz] = 0;
		memcpy(to, m2, sz2); to[sz2] = 0;
		int f = find_file(from), t = find_file(to);
		if (f < 0) return TEEC_ERROR_ITEM_NOT_FOUND;
		if (t >= 0) {
			if (!h) return 0xFFFF0003u; /* ACCESS_CONFLICT */
			free(files[t].data);
			files[t].used = 0;
		}
		strcpy(files[f].path, to);
		return TEEC_SUCCESS;
	}
	case 8: /* OPENDIR */
		for (int k = 1; k < 16; k++)
			if (!dirs[k]) { dirs[k] = 1; if (n > 2) p[2].a = (uint64_t)k; return TEEC_SUCCESS; }
		return TEEC_ERROR_OUT_OF_MEMORY;
	case 9: /* CLOSEDIR */
		if (h < 16) dirs[h] = 0;
		return TEEC_SUCCESS;
	case 10: /* READDIR: this store lists nothing */
		return TEEC_ERROR_ITEM_NOT_FOUND;
	default:
		return TEEC_ERROR_BAD_PARAMETERS;
	}
}

static uint32_t shm_alloc(struct tee_ioctl_param *p)
{
	struct tee_ioctl_shm_alloc_data d = { p->b, 0, -1 };
	int fd = ioctl(priv_fd, TEE_IOC_SHM_ALLOC, &d);
	if (fd < 0)
		return TEEC_ERROR_OUT_OF_MEMORY;
	void *m = mmap(NULL, p->b, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return TEEC_ERROR_OUT_OF_MEMORY;
	}
	for (int i = 0; i < 64; i++)
		if (!shms[i].used) {
			shms[i] = (struct shm){ 1, d.id, m, p->b, fd };
			p->c = (uint64_t)d.id;
			return TEEC_SUCCESS;
		}
	munmap(m, p->b);
	close(fd);
	return TEEC_ERROR_OUT_OF_MEMORY;
}

static uint32_t shm_free(struct tee_ioctl_param *p)
{
	struct shm *s = shm_by_id(p->b);
	if (!s)
		return TEEC_ERROR_BAD_PARAMETERS;
	munmap(s->p, s->size);
	close(s->fd);
	s->used = 0;
	return TEEC_SUCCESS;
}

/* SUPP_PLUGIN as tee-supplicant's plugin_process, with one plugin built in: UUID
 * 7e57c0de-0000-4000-8000-00000000beef, command 0 upper-cases the data (out_len = in_len). */
static const uint8_t own_plugin[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0xbe, 0xef };

static uint32_t plugin(struct tee_ioctl_param *p, uint32_t n)
{
	if (n != 4 || (p[0].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) != TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT ||
	    (p[1].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) != TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT ||
	    (p[2].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) != TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT ||
	    (p[3].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) != TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT)
		return TEEC_ERROR_BAD_PARAMETERS;
	uint32_t words[4] = { (uint32_t)p[0].b, (uint32_t)p[0].c, (uint32_t)p[1].a, (uint32_t)p[1].b };
	uint8_t uuid[16];
	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(words[i / 4] >> (8 * (i % 4)));
	if (p[0].a != 0)
		return TEEC_ERROR_NOT_SUPPORTED;
	if (memcmp(uuid, own_plugin, 16) != 0)
		return TEEC_ERROR_ITEM_NOT_FOUND;
	size_t sz = 0;
	uint8_t *m = memref(&p[3], &sz);
	if (!m && p[3].b)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (p[1].c != 0)
		return TEEC_ERROR_NOT_SUPPORTED;
	for (size_t i = 0; i < sz; i++)
		if (m[i] >= 'a' && m[i] <= 'z')
			m[i] = (uint8_t)(m[i] - 'a' + 'A');
	p[2].b = sz;
	return TEEC_SUCCESS;
}

static int loop_exit_errno;
static int stall_plugin;

/* tee-supplicant's loop: RECV with a meta param offered, serve, SEND the same params back. */
static void *supplicant_loop(void *unused)
{
	(void)unused;
	union { struct tee_iocl_supp_recv_arg recv; struct tee_iocl_supp_send_arg send; uint8_t raw[8 + 5 * 32]; } buf;
	for (;;) {
		memset(&buf, 0, sizeof(buf));
		buf.recv.num_params = 5;
		struct tee_ioctl_param *params = (struct tee_ioctl_param *)(buf.raw + 8);
		params[0].attr = TEE_IOCTL_PARAM_ATTR_META;
		struct tee_ioctl_buf_data bd = { (uintptr_t)&buf, sizeof(buf) };
		if (ioctl(priv_fd, TEE_IOC_SUPPL_RECV, &bd) != 0) {
			loop_exit_errno = errno;
			return NULL;
		}
		uint32_t func = buf.recv.func, n = buf.recv.num_params;
		uint32_t first = 0;
		while (first < n && (params[first].attr & TEE_IOCTL_PARAM_ATTR_META))
			first++;
		struct tee_ioctl_param *p = params + first;
		uint32_t np = n - first, ret;
		switch (func) {
		case RPC_FS: ret = fs(p, np); break;
		case RPC_SHM_ALLOC: ret = np >= 1 ? shm_alloc(&p[0]) : TEEC_ERROR_BAD_PARAMETERS; break;
		case RPC_SHM_FREE: ret = np >= 1 ? shm_free(&p[0]) : TEEC_ERROR_BAD_PARAMETERS; break;
		case RPC_LOAD_TA: ret = TEEC_ERROR_ITEM_NOT_FOUND; break;
		case RPC_PLUGIN:
			if (stall_plugin) {
				printf("value stalled\n");
				for (;;)
					pause();
			}
			ret = plugin(p, np);
			break;
		default: ret = TEEC_ERROR_NOT_SUPPORTED; break;
		}
		if (func < 16)
			served[func]++;
		buf.send.ret = ret;
		buf.send.num_params = n;
		bd.buf_len = 8 + 32 * (uint64_t)n;
		if (ioctl(priv_fd, TEE_IOC_SUPPL_SEND, &bd) != 0) {
			loop_exit_errno = errno;
			return NULL;
		}
	}
}


/* The shared supplicant: serve the user's other processes until stdin ends. */
static int serve(int stall)
{
	stall_plugin = stall;
	priv_fd = open("/dev/teepriv0", O_RDWR);
	check("teepriv0_opens_as_optee", priv_fd >= 0, "fd=%d errno=%d", priv_fd, errno);
	if (priv_fd < 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, supplicant_loop, NULL);
	printf("value ready\n");
	char c;
	while (read(0, &c, 1) > 0)
		;
	printf("value served fs=%ld shm_alloc=%ld shm_free=%ld plugin=%ld\n", served[RPC_FS], served[RPC_SHM_ALLOC],
	       served[RPC_SHM_FREE], served[RPC_PLUGIN]);
	printf("value served_load_ta=%ld\n", served[RPC_LOAD_TA]);
	close(priv_fd);
	pthread_join(t, NULL);
	check("loop_ends_at_close", 1, "");
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve(argc > 2 && strcmp(argv[2], "stall") == 0);
	priv_fd = open("/dev/teepriv0", O_RDWR);
	struct tee_ioctl_version_data v;
	memset(&v, 0, sizeof(v));
	check("teepriv0_opens_as_optee", priv_fd >= 0 && ioctl(priv_fd, TEE_IOC_VERSION, &v) == 0 && v.impl_id == TEE_IMPL_ID_OPTEE,
	      "fd=%d errno=%d", priv_fd, errno);
	/* As Linux's optee_open: the open made this context the supplicant, so a second open of
	 * the supplicant device is EBUSY, and every request from here on waits for this loop (none
	 * can reach vtee's own supplicant, however late the loop thread starts). */
	errno = 0;
	int second = open("/dev/teepriv0", O_RDWR);
	check("second_supplicant_ebusy", second == -1 && errno == EBUSY, "fd=%d errno=%d", second, errno);
	pthread_t t;
	pthread_create(&t, NULL, supplicant_loop, NULL);

	int fd = open("/dev/tee0", O_RDWR);
	uint32_t session = 0, ret = 0;
	int rc = open_session_on(fd, test_uuid, &session, &ret);
	check("client_session", rc == 0 && ret == 0, "rc=%d ret=0x%x", rc, ret);
	rc = invoke_value_in(fd, session, 8 /* STORAGE_ROUNDTRIP */, 6000, 0, &ret);
	check("storage_roundtrip_served_by_this_supplicant", rc == 0 && ret == 0 && served[RPC_FS] > 0,
	      "rc=%d ret=0x%x fs=%ld", rc, ret, served[RPC_FS]);
	rc = invoke_value_in(fd, session, 2 /* SHM_ROUNDTRIP */, 5000, 0, &ret);
	check("application_shm_served_by_this_supplicant", rc == 0 && ret == 0 && served[RPC_SHM_ALLOC] > 0 && served[RPC_SHM_FREE] > 0,
	      "rc=%d ret=0x%x alloc=%ld free=%ld", rc, ret, served[RPC_SHM_ALLOC], served[RPC_SHM_FREE]);

	/* A TA's tee_invoke_supp_plugin reaches this supplicant's plugin, its data in shared memory
	 * this supplicant allocated (found by shm id), the client's data in the client's own shm. */
	struct tee_ioctl_shm_alloc_data sa = { 4096, 0, -1 };
	int shm_fd = ioctl(fd, TEE_IOC_SHM_ALLOC, &sa);
	uint8_t *shm = shm_fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0) : MAP_FAILED;
	if (shm_fd >= 0)
		close(shm_fd);
	if (shm != MAP_FAILED) {
		memcpy(shm, "hello plugin", 12);
		memcpy(shm + 64, own_plugin, 16);
		struct { struct tee_ioctl_invoke_arg arg; struct tee_ioctl_param params[4]; } x;
		memset(&x, 0, sizeof(x));
		x.arg.func = 14; /* SUPPLICANT_PLUGIN */
		x.arg.session = session;
		x.arg.num_params = 4;
		x.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT;
		x.params[1] = (struct tee_ioctl_param){ TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT, 0, 12, (uint64_t)sa.id };
		x.params[2] = (struct tee_ioctl_param){ TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, 64, 16, (uint64_t)sa.id };
		struct tee_ioctl_buf_data xb = { (uintptr_t)&x, sizeof(x) };
		long before_plugin = served[RPC_PLUGIN];
		rc = ioctl(fd, TEE_IOC_INVOKE, &xb);
		check("plugin_served_by_this_supplicant", rc == 0 && x.arg.ret == 0 && served[RPC_PLUGIN] == before_plugin + 1 &&
		      x.params[0].b == 12 && x.params[1].b == 12 && memcmp(shm, "HELLO PLUGIN", 12) == 0,
		      "rc=%d ret=0x%x plugin=%ld out=%llu data=%.12s", rc, x.arg.ret, served[RPC_PLUGIN],
		      (unsigned long long)x.params[0].b, (const char *)shm);
		munmap(shm, 4096);
	} else {
		check("plugin_served_by_this_supplicant", 0, "shm alloc/mmap failed errno=%d", errno);
	}
	printf("value served fs=%ld shm_alloc=%ld shm_free=%ld plugin=%ld\n", served[RPC_FS], served[RPC_SHM_ALLOC],
	       served[RPC_SHM_FREE], served[RPC_PLUGIN]);
	int live = 0;
	for (int i = 0; i < 64; i++) live += shms[i].used;
	check("payload_buffers_freed", live == 0, "%d left", live);

	/* The supplicant leaves: its blocked RECV ends, and vtee's own supplicant serves again
	 * (application shared memory; its storage is another REE FS, which the secure world's
	 * rollback detection would rightly call corrupt). */
	close(priv_fd);
	pthread_join(t, NULL);
	long before = served[RPC_SHM_ALLOC];
	rc = invoke_value_in(fd, session, 2, 5000, 0, &ret);
	check("own_supplicant_serves_after_detach", rc == 0 && ret == 0 && served[RPC_SHM_ALLOC] == before, "rc=%d ret=0x%x", rc, ret);
	close(fd);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
