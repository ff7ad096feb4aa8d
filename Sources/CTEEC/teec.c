/*
 * CTEEC: vtee's libteec (GP TEE Client API, OP-TEE client ABI), guest user space.
 *
 * Implemented over the Linux TEE ioctls exactly as a libteec on /dev/tee0 would be, except that the
 * descriptor operations go straight to vtee's /dev/tee emulation (vtee_fd_*) instead of through
 * system calls. The device advertises GP and MEMREF_NULL but not REG_MEM (a process's heap is not
 * guest RAM), so shared memory is SHM_ALLOC + mmap of guest RAM, and registered buffers and
 * temporary memrefs go through such a shadow, copied in before and out after each call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/tee.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tee_client_api.h"
#include "teedev.h"

#define MAX_DEVICES 10
#define SHM_FLAG_BUFFER_ALLOCED 0x1u
#define SHM_FLAG_SHADOW_BUFFER_ALLOCED 0x2u
#define SHM_FLAG_FD_SHADOW 0x4u
#define OPEN_ARG_BYTES (sizeof(struct tee_ioctl_open_session_arg) + TEEC_CONFIG_PAYLOAD_REF_COUNT * sizeof(struct tee_ioctl_param))
#define INVOKE_ARG_BYTES (sizeof(struct tee_ioctl_invoke_arg) + TEEC_CONFIG_PAYLOAD_REF_COUNT * sizeof(struct tee_ioctl_param))

static int dev_ioctl(int fd, unsigned long request, void *arg)
{
	int handled = 0;
	int rc = vtee_fd_ioctl(fd, request, (uint64_t)(uintptr_t)arg, &handled);
	if (!handled) {
		errno = EBADF;
		return -1;
	}
	return rc;
}

static void dev_close(int fd)
{
	int handled = 0;
	if (vtee_fd_close(fd, &handled) != 0 && !handled)
		close(fd);
}

/* errno of a failed ioctl as libteec reports it. */
static TEEC_Result errno_result(int e)
{
	switch (e) {
	case ENOMEM: return TEEC_ERROR_OUT_OF_MEMORY;
	case EINVAL: return TEEC_ERROR_BAD_PARAMETERS;
	default: return TEEC_ERROR_GENERIC;
	}
}

TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *ctx)
{
	if (!ctx)
		return TEEC_ERROR_BAD_PARAMETERS;
	for (unsigned n = 0; n < MAX_DEVICES; n++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/tee%u", n);
		int fd = vtee_fd_open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct tee_ioctl_version_data v;
		memset(&v, 0, sizeof(v));
		int ok = dev_ioctl(fd, TEE_IOC_VERSION, &v) == 0 && (v.gen_caps & TEE_GEN_CAP_GP);
		if (ok && name)
			ok = strcmp(name, "optee-tz") == 0 && v.impl_id == TEE_IMPL_ID_OPTEE &&
			     (v.impl_caps & TEE_OPTEE_CAP_TZ);
		if (!ok) {
			dev_close(fd);
			continue;
		}
		ctx->imp.fd = fd;
		ctx->imp.reg_mem = (v.gen_caps & TEE_GEN_CAP_REG_MEM) != 0;
		ctx->imp.memref_null = (v.gen_caps & TEE_GEN_CAP_MEMREF_NULL) != 0;
		return TEEC_SUCCESS;
	}
	return TEEC_ERROR_ITEM_NOT_FOUND;
}

void TEEC_FinalizeContext(TEEC_Context *ctx)
{
	if (ctx && ctx->imp.fd >= 0) {
		dev_close(ctx->imp.fd);
		ctx->imp.fd = -1;
	}
}

/* SHM_ALLOC + mmap of `size` bytes; the descriptor is closed at once (the mapping keeps the
 * object alive, as on Linux). Returns the mapping or NULL; *id gets the shm id. */
static void *alloc_mapped(TEEC_Context *ctx, size_t size, int *id)
{
	struct tee_ioctl_shm_alloc_data data;
	memset(&data, 0, sizeof(data));
	data.size = size;
	int fd = dev_ioctl(ctx->imp.fd, TEE_IOC_SHM_ALLOC, &data);
	if (fd < 0)
		return NULL;
	int handled = 0;
	void *p = vtee_fd_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &handled);
	dev_close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*id = data.id;
	return p;
}

TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *ctx, TEEC_SharedMemory *shm)
{
	if (!ctx || !shm)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (!shm->flags || (shm->flags & ~(uint32_t)(TEEC_MEM_INPUT | TEEC_MEM_OUTPUT)))
		return TEEC_ERROR_BAD_PARAMETERS;
	size_t s = shm->size ? shm->size : 8;
	int id = -1;
	void *p = alloc_mapped(ctx, s, &id);
	if (!p)
		return TEEC_ERROR_OUT_OF_MEMORY;
	shm->buffer = p;
	shm->imp.id = id;
	shm->imp.alloced_size = s;
	shm->imp.shadow_buffer = NULL;
	shm->imp.registered_fd = -1;
	shm->imp.flags = SHM_FLAG_BUFFER_ALLOCED;
	return TEEC_SUCCESS;
}

TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *ctx, TEEC_SharedMemory *shm)
{
	if (!ctx || !shm)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (!shm->flags || (shm->flags & ~(uint32_t)(TEEC_MEM_INPUT | TEEC_MEM_OUTPUT)))
		return TEEC_ERROR_BAD_PARAMETERS;
	if (!shm->buffer && shm->size)
		return TEEC_ERROR_BAD_PARAMETERS;
	size_t s = shm->size ? shm->size : 8;
	int id = -1;
	void *p = alloc_mapped(ctx, s, &id);
	if (!p)
		return TEEC_ERROR_OUT_OF_MEMORY;
	shm->imp.id = id;
	shm->imp.alloced_size = s;
	shm->imp.shadow_buffer = p;
	shm->imp.registered_fd = -1;
	shm->imp.flags = SHM_FLAG_SHADOW_BUFFER_ALLOCED;
	return TEEC_SUCCESS;
}

/* Moves len bytes between buf and the file at off (pread when !to_file, pwrite otherwise);
 * bytes past the end of a file that shrank read as zeros. */
static void fd_transfer(int fd, char *buf, size_t len, off_t off, int to_file)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = to_file ? pwrite(fd, buf + done, len - done, off + (off_t)done)
				    : pread(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (!to_file && done < len)
		memset(buf + done, 0, len - done);
}

/* The memory of `fd` (a memfd, tmpfs or regular file: what its own mmap shows) as shared memory
 * of its whole size, as libteec's REGISTER_FD import of a dma-buf. The process's memory is not
 * guest RAM, so the TA works on a guest-RAM shadow copied from the descriptor before each call
 * (INPUT memory) and back to it after (OUTPUT memory); buffer stays NULL as libteec leaves it. */
TEEC_Result TEEC_RegisterSharedMemoryFileDescriptor(TEEC_Context *ctx, TEEC_SharedMemory *shm, int fd)
{
	if (!ctx || !shm || fd < 0)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (!shm->flags || (shm->flags & ~(uint32_t)(TEEC_MEM_INPUT | TEEC_MEM_OUTPUT)))
		return TEEC_ERROR_BAD_PARAMETERS;
	struct stat st;
	if (vtee_dev_key_of_fd(fd) >= 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return TEEC_ERROR_BAD_PARAMETERS;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return TEEC_ERROR_BAD_PARAMETERS;
	size_t s = (size_t)st.st_size;
	int id = -1;
	void *p = alloc_mapped(ctx, s, &id);
	if (!p) {
		close(own);
		return TEEC_ERROR_OUT_OF_MEMORY;
	}
	shm->buffer = NULL;
	shm->size = s;
	shm->imp.id = id;
	shm->imp.alloced_size = s;
	shm->imp.shadow_buffer = p;
	shm->imp.registered_fd = own;
	shm->imp.flags = SHM_FLAG_SHADOW_BUFFER_ALLOCED | SHM_FLAG_FD_SHADOW;
	return TEEC_SUCCESS;
}

void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *shm)
{
	if (!shm || shm->imp.id == -1)
		return;
	if (shm->imp.flags & SHM_FLAG_SHADOW_BUFFER_ALLOCED) {
		vtee_fd_munmap(shm->imp.shadow_buffer, shm->imp.alloced_size);
	} else if (shm->imp.flags & SHM_FLAG_BUFFER_ALLOCED) {
		vtee_fd_munmap(shm->buffer, shm->imp.alloced_size);
		shm->buffer = NULL;
	}
	if (shm->imp.registered_fd >= 0)
		dev_close(shm->imp.registered_fd);
	shm->imp.id = -1;
	shm->imp.shadow_buffer = NULL;
	shm->imp.registered_fd = -1;
	shm->imp.flags = 0;
	shm->imp.alloced_size = 0;
}

/* Per-call state: temporary shared memory for TEMP memrefs. */
struct call_state {
	TEEC_SharedMemory temp[TEEC_CONFIG_PAYLOAD_REF_COUNT];
};

static void release_temps(struct call_state *st)
{
	for (int i = 0; i < TEEC_CONFIG_PAYLOAD_REF_COUNT; i++)
		if (st->temp[i].imp.flags)
			TEEC_ReleaseSharedMemory(&st->temp[i]);
}

/* The kernel attr of a GP memref direction. */
static uint64_t memref_attr(uint32_t flags)
{
	if ((flags & TEEC_MEM_INPUT) && (flags & TEEC_MEM_OUTPUT))
		return TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT;
	return (flags & TEEC_MEM_OUTPUT) ? TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT : TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT;
}

/* Copies the caller's bytes of a registered buffer into its shadow (before a call). */
static void shadow_in(TEEC_SharedMemory *shm, size_t off, size_t len)
{
	if ((shm->imp.flags & SHM_FLAG_FD_SHADOW) && len) {
		fd_transfer(shm->imp.registered_fd, (char *)shm->imp.shadow_buffer + off, len, (off_t)off, 0);
		return;
	}
	if ((shm->imp.flags & SHM_FLAG_SHADOW_BUFFER_ALLOCED) && shm->buffer && len)
		memcpy((char *)shm->imp.shadow_buffer + off, (char *)shm->buffer + off, len);
}

/* Copies the shadow back into the caller's buffer (after a call). */
static void shadow_out(TEEC_SharedMemory *shm, size_t off, size_t len)
{
	if ((shm->imp.flags & SHM_FLAG_FD_SHADOW) && len) {
		fd_transfer(shm->imp.registered_fd, (char *)shm->imp.shadow_buffer + off, len, (off_t)off, 1);
		return;
	}
	if ((shm->imp.flags & SHM_FLAG_SHADOW_BUFFER_ALLOCED) && shm->buffer && len)
		memcpy((char *)shm->buffer + off, (char *)shm->imp.shadow_buffer + off, len);
}

/* Encodes the operation's params as tee_ioctl_params (NONE when op is NULL). */
static TEEC_Result params_to_ioctl(TEEC_Context *ctx, TEEC_Operation *op, struct tee_ioctl_param *p,
				   struct call_state *st)
{
	memset(p, 0, TEEC_CONFIG_PAYLOAD_REF_COUNT * sizeof(*p));
	memset(st, 0, sizeof(*st));
	if (!op)
		return TEEC_SUCCESS;
	for (int i = 0; i < TEEC_CONFIG_PAYLOAD_REF_COUNT; i++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
		TEEC_Parameter *gp = &op->params[i];
		switch (t) {
		case TEEC_NONE:
			break;
		case TEEC_VALUE_INPUT:
		case TEEC_VALUE_OUTPUT:
		case TEEC_VALUE_INOUT:
			p[i].attr = t;
			p[i].a = gp->value.a;
			p[i].b = gp->value.b;
			break;
		case TEEC_MEMREF_TEMP_INPUT:
		case TEEC_MEMREF_TEMP_OUTPUT:
		case TEEC_MEMREF_TEMP_INOUT: {
			p[i].attr = t;
			if (!gp->tmpref.buffer) {
				if (gp->tmpref.size)
					return TEEC_ERROR_BAD_PARAMETERS;
				if (ctx->imp.memref_null) {
					p[i].c = TEE_MEMREF_NULL;
					break;
				}
			}
			TEEC_SharedMemory *shm = &st->temp[i];
			shm->buffer = gp->tmpref.buffer;
			shm->size = gp->tmpref.size;
			shm->flags = t == TEEC_MEMREF_TEMP_INPUT ? TEEC_MEM_INPUT :
				     t == TEEC_MEMREF_TEMP_OUTPUT ? TEEC_MEM_OUTPUT : TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
			TEEC_Result r = TEEC_RegisterSharedMemory(ctx, shm);
			if (r != TEEC_SUCCESS)
				return r;
			shadow_in(shm, 0, gp->tmpref.size);
			p[i].a = 0;
			p[i].b = gp->tmpref.size;
			p[i].c = (uint64_t)shm->imp.id;
			break;
		}
		case TEEC_MEMREF_WHOLE: {
			TEEC_SharedMemory *shm = gp->memref.parent;
			if (!shm || shm->imp.id < 0)
				return TEEC_ERROR_BAD_PARAMETERS;
			p[i].attr = memref_attr(shm->flags);
			p[i].a = 0;
			p[i].b = shm->size;
			p[i].c = (uint64_t)shm->imp.id;
			shadow_in(shm, 0, shm->size);
			break;
		}
		case TEEC_MEMREF_PARTIAL_INPUT:
		case TEEC_MEMREF_PARTIAL_OUTPUT:
		case TEEC_MEMREF_PARTIAL_INOUT: {
			TEEC_SharedMemory *shm = gp->memref.parent;
			uint32_t need = t == TEEC_MEMREF_PARTIAL_INPUT ? TEEC_MEM_INPUT :
					t == TEEC_MEMREF_PARTIAL_OUTPUT ? TEEC_MEM_OUTPUT : TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
			if (!shm || shm->imp.id < 0 || (shm->flags & need) != need)
				return TEEC_ERROR_BAD_PARAMETERS;
			if (gp->memref.offset > shm->size || gp->memref.size > shm->size - gp->memref.offset)
				return TEEC_ERROR_BAD_PARAMETERS;
			p[i].attr = t - TEEC_MEMREF_PARTIAL_INPUT + TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT;
			p[i].a = gp->memref.offset;
			p[i].b = gp->memref.size;
			p[i].c = (uint64_t)shm->imp.id;
			shadow_in(shm, gp->memref.offset, gp->memref.size);
			break;
		}
		default:
			return TEEC_ERROR_BAD_PARAMETERS;
		}
	}
	return TEEC_SUCCESS;
}

/* Writes outputs back into the operation (also after a TA error). */
static void params_from_ioctl(TEEC_Operation *op, const struct tee_ioctl_param *p, struct call_state *st)
{
	if (!op)
		return;
	for (int i = 0; i < TEEC_CONFIG_PAYLOAD_REF_COUNT; i++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
		TEEC_Parameter *gp = &op->params[i];
		switch (t) {
		case TEEC_VALUE_OUTPUT:
		case TEEC_VALUE_INOUT:
			gp->value.a = (uint32_t)p[i].a;
			gp->value.b = (uint32_t)p[i].b;
			break;
		case TEEC_MEMREF_TEMP_OUTPUT:
		case TEEC_MEMREF_TEMP_INOUT: {
			TEEC_SharedMemory *shm = &st->temp[i];
			if (shm->imp.flags && gp->tmpref.buffer) {
				size_t n = p[i].b < gp->tmpref.size ? p[i].b : gp->tmpref.size;
				shadow_out(shm, 0, n);
			}
			gp->tmpref.size = p[i].b;
			break;
		}
		case TEEC_MEMREF_WHOLE: {
			TEEC_SharedMemory *shm = gp->memref.parent;
			if (shm && (shm->flags & TEEC_MEM_OUTPUT)) {
				size_t n = p[i].b < shm->size ? p[i].b : shm->size;
				shadow_out(shm, 0, n);
				gp->memref.size = p[i].b;
			}
			break;
		}
		case TEEC_MEMREF_PARTIAL_OUTPUT:
		case TEEC_MEMREF_PARTIAL_INOUT: {
			TEEC_SharedMemory *shm = gp->memref.parent;
			if (shm) {
				size_t n = p[i].b < gp->memref.size ? p[i].b : gp->memref.size;
				shadow_out(shm, gp->memref.offset, n);
			}
			gp->memref.size = p[i].b;
			break;
		}
		default:
			break;
		}
	}
}

/* TEEC_UUID as the 16 big-endian octets the kernel expects. */
static void uuid_to_octets(uint8_t *d, const TEEC_UUID *u)
{
	d[0] = (uint8_t)(u->timeLow >> 24);
	d[1] = (uint8_t)(u->timeLow >> 16);
	d[2] = (uint8_t)(u->timeLow >> 8);
	d[3] = (uint8_t)u->timeLow;
	d[4] = (uint8_t)(u->timeMid >> 8);
	d[5] = (uint8_t)u->timeMid;
	d[6] = (uint8_t)(u->timeHiAndVersion >> 8);
	d[7] = (uint8_t)u->timeHiAndVersion;
	memcpy(d + 8, u->clockSeqAndNode, 8);
}

TEEC_Result TEEC_OpenSession(TEEC_Context *ctx, TEEC_Session *session, const TEEC_UUID *destination,
			     uint32_t connectionMethod, const void *connectionData, TEEC_Operation *operation,
			     uint32_t *returnOrigin)
{
	uint64_t buf[OPEN_ARG_BYTES / sizeof(uint64_t)];
	struct tee_ioctl_open_session_arg *arg = (struct tee_ioctl_open_session_arg *)buf;
	struct tee_ioctl_param *params = (struct tee_ioctl_param *)(arg + 1);
	struct call_state st;
	uint32_t origin = TEEC_ORIGIN_API;
	TEEC_Result res;

	if (!ctx || !session || !destination) {
		res = TEEC_ERROR_BAD_PARAMETERS;
		goto out;
	}
	memset(buf, 0, sizeof(buf));
	uuid_to_octets(arg->uuid, destination);
	arg->clnt_login = connectionMethod;
	if (connectionMethod == TEEC_LOGIN_GROUP && connectionData)
		memcpy(arg->clnt_uuid, connectionData, sizeof(uint32_t));
	arg->num_params = TEEC_CONFIG_PAYLOAD_REF_COUNT;
	if (operation)
		operation->started = 1;
	res = params_to_ioctl(ctx, operation, params, &st);
	if (res != TEEC_SUCCESS) {
		release_temps(&st);
		goto out;
	}
	struct tee_ioctl_buf_data bd = { (uint64_t)(uintptr_t)buf, sizeof(buf) };
	if (dev_ioctl(ctx->imp.fd, TEE_IOC_OPEN_SESSION, &bd) != 0) {
		res = errno_result(errno);
		origin = TEEC_ORIGIN_COMMS;
		release_temps(&st);
		goto out;
	}
	res = arg->ret;
	origin = arg->ret_origin;
	if (res == TEEC_SUCCESS) {
		session->imp.ctx = ctx;
		session->imp.session_id = arg->session;
	}
	params_from_ioctl(operation, params, &st);
	release_temps(&st);
out:
	if (returnOrigin)
		*returnOrigin = origin;
	return res;
}

void TEEC_CloseSession(TEEC_Session *session)
{
	if (!session || !session->imp.ctx)
		return;
	struct tee_ioctl_close_session_arg arg = { session->imp.session_id };
	dev_ioctl(session->imp.ctx->imp.fd, TEE_IOC_CLOSE_SESSION, &arg);
}

TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t cmd, TEEC_Operation *operation,
			       uint32_t *returnOrigin)
{
	uint64_t buf[INVOKE_ARG_BYTES / sizeof(uint64_t)];
	struct tee_ioctl_invoke_arg *arg = (struct tee_ioctl_invoke_arg *)buf;
	struct tee_ioctl_param *params = (struct tee_ioctl_param *)(arg + 1);
	struct call_state st;
	uint32_t origin = TEEC_ORIGIN_API;
	TEEC_Result res;

	if (!session || !session->imp.ctx) {
		res = TEEC_ERROR_BAD_PARAMETERS;
		goto out;
	}
	if (operation) {
		operation->imp.session = session;
		operation->started = 1;
	}
	memset(buf, 0, sizeof(buf));
	arg->func = cmd;
	arg->session = session->imp.session_id;
	arg->num_params = TEEC_CONFIG_PAYLOAD_REF_COUNT;
	res = params_to_ioctl(session->imp.ctx, operation, params, &st);
	if (res != TEEC_SUCCESS) {
		release_temps(&st);
		goto out;
	}
	struct tee_ioctl_buf_data bd = { (uint64_t)(uintptr_t)buf, sizeof(buf) };
	if (dev_ioctl(session->imp.ctx->imp.fd, TEE_IOC_INVOKE, &bd) != 0) {
		res = errno_result(errno);
		origin = TEEC_ORIGIN_COMMS;
		release_temps(&st);
		goto out;
	}
	res = arg->ret;
	origin = arg->ret_origin;
	params_from_ioctl(operation, params, &st);
	release_temps(&st);
out:
	if (returnOrigin)
		*returnOrigin = origin;
	return res;
}

void TEEC_RequestCancellation(TEEC_Operation *operation)
{
	if (!operation)
		return;
	TEEC_Session *session = __atomic_load_n(&operation->imp.session, __ATOMIC_ACQUIRE);
	if (!session || !session->imp.ctx)
		return;
	struct tee_ioctl_cancel_arg arg = { 0, session->imp.session_id };
	dev_ioctl(session->imp.ctx->imp.fd, TEE_IOC_CANCEL, &arg);
}
