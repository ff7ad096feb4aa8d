/* teec_all: the GP TEE Client API (vtee's libteec.so, OP-TEE client ABI) on every built-in TA.
 * Prints one line per check ("ok NAME" or "FAIL NAME: why"), value lines the test compares
 * ("value NAME ..."), and "summary passed=N failed=M"; exits 1 when any check failed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <tee_client_api.h>

#include "check.h"

static const TEEC_UUID hello_uuid = { 0x8aaaf200, 0x2450, 0x11e4, { 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b } };
static const TEEC_UUID random_uuid = { 0xb6c53aba, 0x9669, 0x4668, { 0xa7, 0xf2, 0x20, 0x56, 0x29, 0xd0, 0x0f, 0x86 } };
static const TEEC_UUID hotp_uuid = { 0x484d4143, 0x2d53, 0x4841, { 0x31, 0x20, 0x4a, 0x6f, 0x63, 0x6b, 0x65, 0x42 } };
static const TEEC_UUID storage_uuid = { 0xf4e750bb, 0x1437, 0x4fbf, { 0x87, 0x85, 0x8d, 0x35, 0x80, 0xc3, 0x49, 0x94 } };
static const TEEC_UUID aes_uuid = { 0x5dbac793, 0xf574, 0x4871, { 0x8a, 0xd3, 0x04, 0x33, 0x1e, 0xc1, 0x7f, 0x24 } };
static const TEEC_UUID test_uuid = { 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 } };

enum { TEST_NOP = 0, TEST_SHM_ROUNDTRIP = 2, TEST_LONG_RUN = 6, TEST_PANIC = 7, TEST_STORAGE = 8,
       TEST_TA_TO_TA = 9, TEST_ECHO = 10, TEST_TOUCH = 11, TEST_IDENTITY = 12 };

static TEEC_Context ctx;

static int open_session(TEEC_Context *c, TEEC_Session *s, const TEEC_UUID *u)
{
	uint32_t origin = 0;
	TEEC_Result r = TEEC_OpenSession(c, s, u, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	if (r != TEEC_SUCCESS)
		printf("# open session failed: 0x%x origin %u\n", r, origin);
	return r == TEEC_SUCCESS;
}

static void test_context_names(void)
{
	TEEC_Context c;
	check("context_other_name_not_found", TEEC_InitializeContext("some-other-tee", &c) == TEEC_ERROR_ITEM_NOT_FOUND, "");
	TEEC_Result r = TEEC_InitializeContext("optee-tz", &c);
	check("context_optee_tz", r == TEEC_SUCCESS, "0x%x", r);
	if (r == TEEC_SUCCESS) {
		check("context_memref_null_no_reg_mem", c.imp.memref_null && !c.imp.reg_mem, "memref_null=%d reg_mem=%d",
		      c.imp.memref_null, c.imp.reg_mem);
		TEEC_FinalizeContext(&c);
	}
}

static void test_hello_world(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &hello_uuid)) { check("hello_world", 0, "open"); return; }
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 41;
	uint32_t origin;
	TEEC_Result r = TEEC_InvokeCommand(&s, 0, &op, &origin);
	check("hello_world_increment", r == TEEC_SUCCESS && op.params[0].value.a == 42, "r=0x%x a=%u", r, op.params[0].value.a);
	r = TEEC_InvokeCommand(&s, 1, &op, &origin);
	check("hello_world_decrement", r == TEEC_SUCCESS && op.params[0].value.a == 41, "r=0x%x a=%u", r, op.params[0].value.a);
	r = TEEC_InvokeCommand(&s, 99, &op, &origin);
	check("hello_world_unknown_command", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_TRUSTED_APP,
	      "r=0x%x origin=%u", r, origin);
	TEEC_CloseSession(&s);
}

static void test_values(TEEC_Session *s)
{
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT);
	for (int i = 0; i < 4; i++) {
		op.params[i].value.a = 10u * (uint32_t)i;
		op.params[i].value.b = 0xFFFFFFFFu;
	}
	TEEC_Result r = TEEC_InvokeCommand(s, TEST_NOP, &op, NULL);
	int ok = r == TEEC_SUCCESS;
	for (int i = 0; i < 4; i++)
		ok = ok && op.params[i].value.a == 10u * (uint32_t)i + 1 && op.params[i].value.b == 0;
	check("values_inout_four", ok, "r=0x%x a0=%u b0=%u", r, op.params[0].value.a, op.params[0].value.b);
}

static void test_temp_memrefs(TEEC_Session *s)
{
	char buf[16] = "abcdef";
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = buf;
	op.params[0].tmpref.size = 6;
	TEEC_Result r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
	check("temp_memref_inout_echo", r == TEEC_SUCCESS && memcmp(buf, "fedcba", 6) == 0 && op.params[0].tmpref.size == 6,
	      "r=0x%x buf=%.6s size=%zu", r, buf, op.params[0].tmpref.size);

	/* NULL buffer of size 0: TEE_MEMREF_NULL (the device has MEMREF_NULL). */
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
	check("temp_memref_null", r == TEEC_SUCCESS && op.params[0].tmpref.size == 0, "r=0x%x", r);

	/* NULL buffer with a size: refused by the library. */
	op.params[0].tmpref.size = 5;
	uint32_t origin = 0;
	r = TEEC_InvokeCommand(s, TEST_ECHO, &op, &origin);
	check("temp_memref_null_with_size_bad_parameters", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_API,
	      "r=0x%x origin=%u", r, origin);

	/* SHORT_BUFFER: the identity needs 16 bytes; the TA reports the size it needs. */
	uint8_t id[16];
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE);
	op.params[1].tmpref.buffer = id;
	op.params[1].tmpref.size = 4;
	r = TEEC_InvokeCommand(s, TEST_IDENTITY, &op, &origin);
	check("short_buffer_reports_needed_size", r == TEEC_ERROR_SHORT_BUFFER && origin == TEEC_ORIGIN_TRUSTED_APP &&
	      op.params[1].tmpref.size == 16, "r=0x%x origin=%u size=%zu", r, origin, op.params[1].tmpref.size);
	op.params[1].tmpref.size = sizeof(id);
	memset(id, 0xEE, sizeof(id));
	r = TEEC_InvokeCommand(s, TEST_IDENTITY, &op, &origin);
	int zero = 1;
	for (int i = 0; i < 16; i++) zero = zero && id[i] == 0;
	check("identity_public_login", r == TEEC_SUCCESS && op.params[0].value.a == TEEC_LOGIN_PUBLIC && zero &&
	      op.params[1].tmpref.size == 16, "r=0x%x login=%u", r, op.params[0].value.a);
}

static void test_allocated_shm(TEEC_Session *s)
{
	TEEC_SharedMemory shm;
	memset(&shm, 0, sizeof(shm));
	shm.size = 8192;
	shm.flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
	TEEC_Result r = TEEC_AllocateSharedMemory(&ctx, &shm);
	check("allocate_shm", r == TEEC_SUCCESS && shm.buffer != NULL, "r=0x%x", r);
	if (r != TEEC_SUCCESS) return;
	uint8_t *b = shm.buffer;
	memset(b, 7, 8192);
	memcpy(b + 100, "123456", 6);

	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].memref.parent = &shm;
	op.params[0].memref.offset = 100;
	op.params[0].memref.size = 6;
	r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
	check("partial_memref_inout_in_place", r == TEEC_SUCCESS && memcmp(b + 100, "654321", 6) == 0 && b[99] == 7 && b[106] == 7,
	      "r=0x%x got=%.6s", r, (char *)b + 100);

	op.params[0].memref.offset = 4096;
	op.params[0].memref.size = 4096;
	r = TEEC_InvokeCommand(s, TEST_TOUCH, &op, NULL);
	check("partial_memref_second_page", r == TEEC_SUCCESS && b[4096] == 8 && b[0] == 7, "r=0x%x b4096=%u b0=%u", r, b[4096], b[0]);

	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_WHOLE, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].memref.parent = &shm;
	r = TEEC_InvokeCommand(s, TEST_TOUCH, &op, NULL);
	check("whole_memref_size_written_back", r == TEEC_SUCCESS && b[0] == 8 && b[4096] == 9 && op.params[0].memref.size == 8192,
	      "r=0x%x b0=%u size=%zu", r, b[0], op.params[0].memref.size);

	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].memref.offset = 8000;
	op.params[0].memref.size = 500;
	uint32_t origin = 0;
	r = TEEC_InvokeCommand(s, TEST_ECHO, &op, &origin);
	check("partial_memref_past_end_bad_parameters", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_API,
	      "r=0x%x origin=%u", r, origin);
	TEEC_ReleaseSharedMemory(&shm);
	check("release_shm_clears_buffer", shm.buffer == NULL, "");
}

static void test_registered_shm(TEEC_Session *s)
{
	char mine[32] = "registered!";
	TEEC_SharedMemory shm;
	memset(&shm, 0, sizeof(shm));
	shm.buffer = mine;
	shm.size = 11;
	shm.flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
	TEEC_Result r = TEEC_RegisterSharedMemory(&ctx, &shm);
	check("register_shm", r == TEEC_SUCCESS && shm.buffer == mine, "r=0x%x", r);
	if (r != TEEC_SUCCESS) return;
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_WHOLE, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].memref.parent = &shm;
	r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
	check("registered_shm_whole_echo", r == TEEC_SUCCESS && memcmp(mine, "!deretsiger", 11) == 0, "r=0x%x got=%.11s", r, mine);
	TEEC_ReleaseSharedMemory(&shm);
	check("registered_release_keeps_caller_buffer", shm.buffer == mine, "");

	TEEC_SharedMemory bad;
	memset(&bad, 0, sizeof(bad));
	bad.buffer = mine;
	bad.size = 4;
	bad.flags = 0;
	check("register_flags_zero_bad_parameters", TEEC_RegisterSharedMemory(&ctx, &bad) == TEEC_ERROR_BAD_PARAMETERS, "");
	bad.flags = 0x10;
	check("register_unknown_flag_bad_parameters", TEEC_RegisterSharedMemory(&ctx, &bad) == TEEC_ERROR_BAD_PARAMETERS, "");
}

/* TEEC_RegisterSharedMemoryFileDescriptor: the memory behind a memfd is the shared memory; the
 * caller keeps using its own mapping of the descriptor. */
static void test_register_fd(TEEC_Session *s)
{
	int fd = memfd_create("teec-shm", MFD_CLOEXEC);
	char *map = fd >= 0 && ftruncate(fd, 8192) == 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED) { check("register_fd", 0, "memfd/mmap failed"); if (fd >= 0) close(fd); return; }
	memcpy(map + 4096, "file-backed!", 12);
	TEEC_SharedMemory shm;
	memset(&shm, 0, sizeof(shm));
	shm.flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
	TEEC_Result r = TEEC_RegisterSharedMemoryFileDescriptor(&ctx, &shm, fd);
	check("register_fd", r == TEEC_SUCCESS && shm.size == 8192 && shm.buffer == NULL, "r=0x%x size=%zu", r, shm.size);
	if (r == TEEC_SUCCESS) {
		/* The TA reverses a window that starts in the second page: the caller's own mapping of
		 * the descriptor shows it, and the bytes around it are untouched. */
		map[4095] = 'X';
		map[4108] = 'Y';
		TEEC_Operation op;
		memset(&op, 0, sizeof(op));
		op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
		op.params[0].memref.parent = &shm;
		op.params[0].memref.offset = 4096;
		op.params[0].memref.size = 12;
		r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
		check("register_fd_ta_writes_the_descriptors_memory",
		      r == TEEC_SUCCESS && memcmp(map + 4096, "!dekcab-elif", 12) == 0 && map[4095] == 'X' && map[4108] == 'Y',
		      "r=0x%x got=%.12s", r, map + 4096);
		/* Changes the caller makes through its mapping reach the TA at the next call. */
		memcpy(map, "abc", 3);
		op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
		op.params[0].memref.offset = 0;
		op.params[0].memref.size = 3;
		r = TEEC_InvokeCommand(s, TEST_ECHO, &op, NULL);
		check("register_fd_ta_reads_the_callers_changes", r == TEEC_SUCCESS && memcmp(map, "cba", 3) == 0,
		      "r=0x%x got=%.3s", r, map);
		TEEC_ReleaseSharedMemory(&shm);
	}
	TEEC_SharedMemory bad;
	memset(&bad, 0, sizeof(bad));
	check("register_fd_flags_zero_bad_parameters", TEEC_RegisterSharedMemoryFileDescriptor(&ctx, &bad, fd) == TEEC_ERROR_BAD_PARAMETERS, "");
	bad.flags = TEEC_MEM_INPUT;
	check("register_fd_negative_bad_parameters", TEEC_RegisterSharedMemoryFileDescriptor(&ctx, &bad, -1) == TEEC_ERROR_BAD_PARAMETERS, "");
	int pipefd[2];
	if (pipe(pipefd) == 0) {
		check("register_fd_pipe_bad_parameters", TEEC_RegisterSharedMemoryFileDescriptor(&ctx, &bad, pipefd[0]) == TEEC_ERROR_BAD_PARAMETERS, "");
		close(pipefd[0]);
		close(pipefd[1]);
	}
	munmap(map, 8192);
	close(fd);
}

static void test_random(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &random_uuid)) { check("random", 0, "open"); return; }
	uint8_t out[64];
	memset(out, 0, sizeof(out));
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = out;
	op.params[0].tmpref.size = sizeof(out);
	TEEC_Result r = TEEC_InvokeCommand(&s, 0, &op, NULL);
	int nonzero = 0;
	for (size_t i = 0; i < sizeof(out); i++) nonzero += out[i] != 0;
	check("random_fills_temp_output", r == TEEC_SUCCESS && op.params[0].tmpref.size == 64 && nonzero > 32,
	      "r=0x%x nonzero=%d", r, nonzero);
	TEEC_CloseSession(&s);
}

static void test_hotp(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &hotp_uuid)) { check("hotp", 0, "open"); return; }
	char key[] = "12345678901234567890";   /* RFC 4226 appendix D */
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = key;
	op.params[0].tmpref.size = 20;
	TEEC_Result r = TEEC_InvokeCommand(&s, 0, &op, NULL);
	check("hotp_register_key", r == TEEC_SUCCESS, "r=0x%x", r);
	uint32_t v[3] = { 0, 0, 0 };
	for (int i = 0; i < 3; i++) {
		memset(&op, 0, sizeof(op));
		op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
		op.params[0].value.a = 0xDEADBEEF;
		r = TEEC_InvokeCommand(&s, 1, &op, NULL);
		v[i] = op.params[0].value.a;
	}
	printf("value hotp %u %u %u\n", v[0], v[1], v[2]);
	check("hotp_rfc4226_vectors", r == TEEC_SUCCESS && v[0] == 755224 && v[1] == 287082 && v[2] == 359152,
	      "got %u %u %u", v[0], v[1], v[2]);
	TEEC_CloseSession(&s);
}

static void test_aes(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &aes_uuid)) { check("aes", 0, "open"); return; }
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT, TEEC_VALUE_INPUT, TEEC_NONE);
	op.params[0].value.a = 1;   /* CBC */
	op.params[1].value.a = 16;
	op.params[2].value.a = 1;   /* encode */
	TEEC_Result r = TEEC_InvokeCommand(&s, 0, &op, NULL);
	uint8_t key[16], iv[16], in[16], out[16];
	for (int i = 0; i < 16; i++) { key[i] = (uint8_t)i; iv[i] = 0; in[i] = (uint8_t)(i * 0x11); }
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = key;
	op.params[0].tmpref.size = 16;
	if (r == TEEC_SUCCESS) r = TEEC_InvokeCommand(&s, 1, &op, NULL);
	op.params[0].tmpref.buffer = iv;
	if (r == TEEC_SUCCESS) r = TEEC_InvokeCommand(&s, 2, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = in;
	op.params[0].tmpref.size = 16;
	op.params[1].tmpref.buffer = out;
	op.params[1].tmpref.size = 16;
	if (r == TEEC_SUCCESS) r = TEEC_InvokeCommand(&s, 3, &op, NULL);
	static const uint8_t want[16] = { 0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a };
	printf("value aes ");
	for (int i = 0; i < 16; i++) printf("%02x", out[i]);
	printf("\n");
	check("aes_fips197_block", r == TEEC_SUCCESS && memcmp(out, want, 16) == 0, "r=0x%x", r);
	TEEC_CloseSession(&s);
}

static void test_secure_storage(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &storage_uuid)) { check("secure_storage", 0, "open"); return; }
	char id[] = "c-client-object";
	char data[] = "stored by a C program";
	char back[64];
	memset(back, 0, sizeof(back));
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = id;
	op.params[0].tmpref.size = strlen(id);
	op.params[1].tmpref.buffer = data;
	op.params[1].tmpref.size = strlen(data);
	TEEC_Result r = TEEC_InvokeCommand(&s, 1, &op, NULL);
	check("storage_write", r == TEEC_SUCCESS, "r=0x%x", r);
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE);
	op.params[1].tmpref.buffer = back;
	op.params[1].tmpref.size = sizeof(back);
	r = TEEC_InvokeCommand(&s, 0, &op, NULL);
	check("storage_read_back", r == TEEC_SUCCESS && op.params[1].tmpref.size == strlen(data) && strcmp(back, data) == 0,
	      "r=0x%x size=%zu back=%s", r, op.params[1].tmpref.size, back);
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	r = TEEC_InvokeCommand(&s, 2, &op, NULL);
	check("storage_delete", r == TEEC_SUCCESS, "r=0x%x", r);
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE);
	op.params[1].tmpref.size = sizeof(back);
	r = TEEC_InvokeCommand(&s, 0, &op, NULL);
	check("storage_read_after_delete_not_found", r == TEEC_ERROR_ITEM_NOT_FOUND, "r=0x%x", r);
	TEEC_CloseSession(&s);
}

static void test_rpcs(TEEC_Session *s)
{
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 10000;
	op.params[0].value.b = 0;
	TEEC_Result r = TEEC_InvokeCommand(s, TEST_SHM_ROUNDTRIP, &op, NULL);
	check("rpc_application_shm_roundtrip", r == TEEC_SUCCESS, "r=0x%x", r);
	op.params[0].value.a = 4096;
	r = TEEC_InvokeCommand(s, TEST_STORAGE, &op, NULL);
	check("rpc_storage_roundtrip", r == TEEC_SUCCESS, "r=0x%x", r);
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 5;
	r = TEEC_InvokeCommand(s, TEST_TA_TO_TA, &op, NULL);
	check("ta_to_ta", r == TEEC_SUCCESS && op.params[0].value.a == 6, "r=0x%x a=%u", r, op.params[0].value.a);
}

struct long_run { TEEC_Session *s; TEEC_Operation op; TEEC_Result r; uint32_t origin; int done; };

static void *long_run_thread(void *p)
{
	struct long_run *lr = p;
	lr->r = TEEC_InvokeCommand(lr->s, TEST_LONG_RUN, &lr->op, &lr->origin);
	__atomic_store_n(&lr->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_cancellation(TEEC_Session *s)
{
	struct long_run lr;
	memset(&lr, 0, sizeof(lr));
	lr.s = s;
	lr.op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	lr.op.params[0].value.a = 20000;   /* 20 s of work unless cancelled */
	double start = now_seconds();
	pthread_t t;
	pthread_create(&t, NULL, long_run_thread, &lr);
	/* Cancel until the call ends: a request that arrives before the TA runs is simply repeated. */
	long requests = 0;
	while (!__atomic_load_n(&lr.done, __ATOMIC_ACQUIRE) && now_seconds() - start < 60) {
		TEEC_RequestCancellation(&lr.op);
		requests++;
		sched_yield();
	}
	pthread_join(t, NULL);
	double took = now_seconds() - start;
	printf("value cancel result=0x%x origin=%u seconds=%.3f requests=%ld\n", lr.r, lr.origin, took, requests);
	check("cancellation_stops_long_run", lr.r == TEEC_ERROR_CANCEL && took < 15, "r=0x%x took %.1f s", lr.r, took);
}

static void test_panic(void)
{
	TEEC_Session s;
	if (!open_session(&ctx, &s, &test_uuid)) { check("panic", 0, "open"); return; }
	uint32_t origin = 0;
	TEEC_Result r = TEEC_InvokeCommand(&s, TEST_PANIC, NULL, &origin);
	check("panic_target_dead", r == TEEC_ERROR_TARGET_DEAD && origin == TEEC_ORIGIN_TEE, "r=0x%x origin=%u", r, origin);
	r = TEEC_InvokeCommand(&s, TEST_NOP, NULL, &origin);
	check("dead_session_stays_dead", r == TEEC_ERROR_TARGET_DEAD, "r=0x%x", r);
	TEEC_CloseSession(&s);
}

static void test_logins(void)
{
	TEEC_Session s;
	uint32_t origin = 0;
	TEEC_Result r = TEEC_OpenSession(&ctx, &s, &test_uuid, TEEC_LOGIN_USER, NULL, NULL, &origin);
	check("login_user_opens", r == TEEC_SUCCESS, "r=0x%x origin=%u", r, origin);
	if (r == TEEC_SUCCESS) TEEC_CloseSession(&s);
	gid_t g = getegid();
	r = TEEC_OpenSession(&ctx, &s, &test_uuid, TEEC_LOGIN_GROUP, &g, NULL, &origin);
	check("login_group_member_opens", r == TEEC_SUCCESS, "r=0x%x origin=%u", r, origin);
	if (r == TEEC_SUCCESS) TEEC_CloseSession(&s);
	gid_t other = 0x7ffffff0;
	r = TEEC_OpenSession(&ctx, &s, &test_uuid, TEEC_LOGIN_GROUP, &other, NULL, &origin);
	check("login_group_non_member_eperm", r == TEEC_ERROR_GENERIC && origin == TEEC_ORIGIN_COMMS, "r=0x%x origin=%u", r, origin);
	r = TEEC_OpenSession(&ctx, &s, &test_uuid, TEEC_LOGIN_APPLICATION, NULL, NULL, &origin);
	check("login_application_einval", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_COMMS, "r=0x%x origin=%u", r, origin);
	r = TEEC_OpenSession(&ctx, &s, &test_uuid, 0x80000000u, NULL, NULL, &origin);
	check("login_kernel_eperm", r == TEEC_ERROR_GENERIC && origin == TEEC_ORIGIN_COMMS, "r=0x%x origin=%u", r, origin);
	static const TEEC_UUID nobody = { 0x12345678, 0x1, 0x2, { 1, 2, 3, 4, 5, 6, 7, 8 } };
	r = TEEC_OpenSession(&ctx, &s, &nobody, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	check("unknown_ta_item_not_found", r == TEEC_ERROR_ITEM_NOT_FOUND && origin == TEEC_ORIGIN_TEE, "r=0x%x origin=%u", r, origin);
}

static void test_two_contexts(TEEC_Session *s1)
{
	TEEC_Context ctx2;
	TEEC_Result r = TEEC_InitializeContext(NULL, &ctx2);
	check("second_context", r == TEEC_SUCCESS && ctx2.imp.fd != ctx.imp.fd, "r=0x%x", r);
	if (r != TEEC_SUCCESS) return;
	TEEC_Session s2;
	if (!open_session(&ctx2, &s2, &hello_uuid)) { check("second_context_session", 0, "open"); return; }
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 1;
	r = TEEC_InvokeCommand(&s2, 0, &op, NULL);
	check("second_context_session", r == TEEC_SUCCESS && op.params[0].value.a == 2, "r=0x%x", r);

	/* Shared memory of context 1 named in a call of context 2: the device refuses the id. */
	TEEC_SharedMemory shm;
	memset(&shm, 0, sizeof(shm));
	shm.size = 16;
	shm.flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
	r = TEEC_AllocateSharedMemory(&ctx, &shm);
	TEEC_Session foreign = s2;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_WHOLE, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].memref.parent = &shm;
	uint32_t origin = 0;
	r = TEEC_InvokeCommand(&foreign, 0, &op, &origin);
	check("foreign_shm_refused", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_COMMS, "r=0x%x origin=%u", r, origin);
	TEEC_ReleaseSharedMemory(&shm);

	/* A session of context 1 used through context 2's descriptor: unknown there. */
	TEEC_Session crossed = *s1;
	crossed.imp.ctx = &ctx2;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT);
	r = TEEC_InvokeCommand(&crossed, TEST_NOP, &op, &origin);
	check("foreign_session_refused", r == TEEC_ERROR_BAD_PARAMETERS && origin == TEEC_ORIGIN_COMMS, "r=0x%x origin=%u", r, origin);

	TEEC_FinalizeContext(&ctx2);
	/* Context 1 is unaffected. */
	r = TEEC_InvokeCommand(s1, TEST_NOP, &op, NULL);
	check("first_context_survives_second_finalize", r == TEEC_SUCCESS && op.params[0].value.a == 1, "r=0x%x", r);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_context_names();
	TEEC_Result r = TEEC_InitializeContext(NULL, &ctx);
	check("initialize_context", r == TEEC_SUCCESS, "r=0x%x", r);
	if (r != TEEC_SUCCESS) {
		printf("summary passed=%d failed=%d\n", passed, failed);
		return 1;
	}
	TEEC_Session test;
	if (open_session(&ctx, &test, &test_uuid)) {
		test_values(&test);
		test_temp_memrefs(&test);
		test_allocated_shm(&test);
		test_registered_shm(&test);
		test_register_fd(&test);
		test_rpcs(&test);
		test_cancellation(&test);
		test_two_contexts(&test);
		TEEC_CloseSession(&test);
	} else {
		check("open_test_ta", 0, "");
	}
	test_hello_world();
	test_random();
	test_hotp();
	test_aes();
	test_secure_storage();
	test_panic();
	test_logins();
	TEEC_FinalizeContext(&ctx);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
