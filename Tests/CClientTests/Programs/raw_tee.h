/* Raw Linux TEE ioctls shared by the C test programs of this folder that bypass libteec
 * (shared_client.c, tee_supplicant.c): OPEN_SESSION without params, INVOKE with one value input. */
#ifndef VTEE_TEST_RAW_TEE_H
#define VTEE_TEST_RAW_TEE_H
#include <linux/tee.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

/* vtee's test TA. */
static const uint8_t test_uuid[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 1 };

/* Opens a session on the TA `uuid` with four NONE params (public login). Returns the ioctl's rc;
 * *ret the result, *session the session id. */
static inline int open_session_on(int fd, const uint8_t uuid[16], uint32_t *session, uint32_t *ret)
{
	struct { struct tee_ioctl_open_session_arg arg; struct tee_ioctl_param params[4]; } o;
	memset(&o, 0, sizeof(o));
	memcpy(o.arg.uuid, uuid, 16);
	o.arg.num_params = 4;
	struct tee_ioctl_buf_data bd = { (uintptr_t)&o, sizeof(o) };
	int rc = ioctl(fd, TEE_IOC_OPEN_SESSION, &bd);
	*session = o.arg.session;
	*ret = o.arg.ret;
	return rc;
}

/* Invokes `func` on `session` with params[0] VALUE_INPUT (a, b) and three NONE params.
 * Returns the ioctl's rc; *ret the TA's result. */
static inline int invoke_value_in(int fd, uint32_t session, uint32_t func, uint64_t a, uint64_t b, uint32_t *ret)
{
	struct { struct tee_ioctl_invoke_arg arg; struct tee_ioctl_param params[4]; } x;
	memset(&x, 0, sizeof(x));
	x.arg.func = func;
	x.arg.session = session;
	x.arg.num_params = 4;
	x.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT;
	x.params[0].a = a;
	x.params[0].b = b;
	struct tee_ioctl_buf_data bd = { (uintptr_t)&x, sizeof(x) };
	int rc = ioctl(fd, TEE_IOC_INVOKE, &bd);
	*ret = x.arg.ret;
	return rc;
}
#endif
