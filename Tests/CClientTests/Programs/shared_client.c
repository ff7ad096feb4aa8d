/* shared_client: a client process (raw ioctls from linux/tee.h, run under
 * LD_PRELOAD=libvtee-preload.so) of a user whose tee-supplicant runs in ANOTHER process
 * (tee_supplicant serve). Modes:
 *   storage  - a storage round trip and a supplicant-plugin call, both of which need a supplicant;
 *              the plugin's answer ("HELLO PLUGIN") comes only from tee_supplicant's built-in plugin.
 *   stall    - a plugin call the supplicant never answers (the test kills it meanwhile): the call
 *              fails; the next one is served by this process's own supplicant (no plugin there:
 *              ITEM_NOT_FOUND).
 *   local    - a plugin call with no shared supplicant: ITEM_NOT_FOUND from this process's own.
 *              `local nobody` first becomes uid/gid 65534 (run as root): another user's process is
 *              never routed to this user's supplicant.
 *   second   - open("/dev/teepriv0") while another process of the user is the supplicant: EBUSY.
 *   before   - a plugin call served by its own supplicant, "value waiting", then (after a line on
 *              stdin: the test started the user's supplicant meanwhile) one the shared one serves.
 * Prints "ok"/"FAIL" lines, "value" lines and a summary; exits 1 on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/tee.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "raw_tee.h"

#define TEEC_ERROR_ITEM_NOT_FOUND 0xFFFF0008u

/* tee_supplicant.c's built-in plugin (upper-cases the data). */
static const uint8_t shared_plugin[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0xbe, 0xef };

/* The test TA's SUPPLICANT_PLUGIN (14): "hello plugin" through plugin `uuid`, command 0.
 * Returns the ioctl's rc; *ret the TA's result; out the data afterwards (12 bytes). */
static int plugin_call(int fd, uint32_t session, const uint8_t *uuid, uint32_t *ret, char *out)
{
	struct tee_ioctl_shm_alloc_data sa = { 4096, 0, -1 };
	int shm_fd = ioctl(fd, TEE_IOC_SHM_ALLOC, &sa);
	uint8_t *shm = shm_fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0) : MAP_FAILED;
	if (shm_fd >= 0)
		close(shm_fd);
	if (shm == MAP_FAILED)
		return -1;
	memcpy(shm, "hello plugin", 12);
	memcpy(shm + 64, uuid, 16);
	struct { struct tee_ioctl_invoke_arg arg; struct tee_ioctl_param params[4]; } x;
	memset(&x, 0, sizeof(x));
	x.arg.func = 14;
	x.arg.session = session;
	x.arg.num_params = 4;
	x.params[0].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT;
	x.params[1] = (struct tee_ioctl_param){ TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT, 0, 12, (uint64_t)sa.id };
	x.params[2] = (struct tee_ioctl_param){ TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, 64, 16, (uint64_t)sa.id };
	struct tee_ioctl_buf_data xb = { (uintptr_t)&x, sizeof(x) };
	int rc = ioctl(fd, TEE_IOC_INVOKE, &xb);
	*ret = x.arg.ret;
	memcpy(out, shm, 12);
	out[12] = 0;
	munmap(shm, 4096);
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "storage";
	if (argc > 2 && strcmp(argv[2], "nobody") == 0) {
		int dropped = setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0;
		check("runs_as_another_user", dropped && geteuid() == 65534, "errno=%d", errno);
	}
	if (strcmp(mode, "second") == 0) {
		errno = 0;
		int priv = open("/dev/teepriv0", O_RDWR);
		check("second_process_supplicant_ebusy", priv == -1 && errno == EBUSY, "fd=%d errno=%d", priv, errno);
		if (priv >= 0)
			close(priv);
	}
	int fd = open("/dev/tee0", O_RDWR);
	uint32_t session = 0, ret = 0;
	uint32_t open_ret = 0;
	check("client_session", fd >= 0 && open_session_on(fd, test_uuid, &session, &open_ret) == 0 && open_ret == 0,
	      "fd=%d errno=%d ret=0x%x", fd, errno, open_ret);
	char out[13];
	if (strcmp(mode, "storage") == 0) {
		int rc = invoke_value_in(fd, session, 8 /* STORAGE_ROUNDTRIP */, 6000, 0, &ret);
		check("storage_roundtrip", rc == 0 && ret == 0, "rc=%d ret=0x%x", rc, ret);
		rc = plugin_call(fd, session, shared_plugin, &ret, out);
		check("plugin_served_by_shared_supplicant", rc == 0 && ret == 0 && strcmp(out, "HELLO PLUGIN") == 0,
		      "rc=%d ret=0x%x data=%s", rc, ret, out);
		/* A TA that is not built in: the secure world asks the supplicant for it (LOAD_TA),
		 * which has none. */
		uint8_t unknown[16];
		memcpy(unknown, test_uuid, 16);
		unknown[15] = 0x77;
		uint32_t unused_session = 0;
		rc = open_session_on(fd, unknown, &unused_session, &ret);
		check("unknown_ta_not_found", rc == 0 && ret == TEEC_ERROR_ITEM_NOT_FOUND, "rc=%d ret=0x%x", rc, ret);
	} else if (strcmp(mode, "stall") == 0) {
		int rc = plugin_call(fd, session, shared_plugin, &ret, out);
		printf("value stalled_call rc=%d ret=0x%x\n", rc, ret);
		check("call_fails_when_supplicant_dies", rc == 0 && ret != 0 && strcmp(out, "HELLO PLUGIN") != 0,
		      "rc=%d ret=0x%x data=%s", rc, ret, out);
		rc = plugin_call(fd, session, shared_plugin, &ret, out);
		check("next_call_served_by_own_supplicant", rc == 0 && ret == TEEC_ERROR_ITEM_NOT_FOUND, "rc=%d ret=0x%x", rc, ret);
	} else if (strcmp(mode, "before") == 0) {
		int rc = plugin_call(fd, session, shared_plugin, &ret, out);
		check("served_by_own_supplicant", rc == 0 && ret == TEEC_ERROR_ITEM_NOT_FOUND, "rc=%d ret=0x%x", rc, ret);
		printf("value waiting\n");
		char line[8];
		if (!fgets(line, sizeof(line), stdin))
			line[0] = 0;
		rc = plugin_call(fd, session, shared_plugin, &ret, out);
		check("plugin_served_by_shared_supplicant", rc == 0 && ret == 0 && strcmp(out, "HELLO PLUGIN") == 0,
		      "rc=%d ret=0x%x data=%s", rc, ret, out);
	} else if (strcmp(mode, "local") == 0) {
		int rc = plugin_call(fd, session, shared_plugin, &ret, out);
		check("served_by_own_supplicant", rc == 0 && ret == TEEC_ERROR_ITEM_NOT_FOUND, "rc=%d ret=0x%x", rc, ret);
	}
	if (fd >= 0)
		close(fd);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
