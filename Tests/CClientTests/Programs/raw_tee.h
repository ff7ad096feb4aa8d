/* Raw Linux TEE ioctls shared by the C test programs of this folder that bypass libteec
 * (shared_client.c, tee_supplicant.c): an INVOKE with one value input. */
#ifndef VTEE_TEST_RAW_TEE_H
#define VTEE_TEST_RAW_TEE_H
#include <linux/tee.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

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
