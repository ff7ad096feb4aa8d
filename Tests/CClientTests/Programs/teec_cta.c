/* teec_cta: C TAs built with vtee's exported dev kit, signed, loaded from $VTEE_TA_DIR through
 * LOAD_TA and run in their own processes, driven from C through vtee's libteec.so.
 * Prints one line per check ("ok NAME" or "FAIL NAME: why"), value lines the test compares
 * ("value NAME ..."), and "summary passed=N failed=M"; exits 1 when any check failed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tee_client_api.h>

#include "check.h"

/* Tests/TASDKTests/CTAs/hello_world (GP 1.1 compat layout) and Tests/TAs/core (GP 1.3; the test
 * builds it under UUID c0de0c11-... so its processes are told apart from other tests'). */
static const TEEC_UUID hello_c = { 0x5f8b97df, 0x2d0d, 0x4ad2, { 0x98, 0xd2, 0x74, 0xf4, 0x38, 0x9e, 0x5e, 0x11 } };
static const TEEC_UUID core_c = { 0xc0de0c11, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 } };
static const TEEC_UUID absent = { 0xc0de0c11, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee } };

enum { CORE_NOP = 0, CORE_MEMREF_TOUCH = 1, CORE_STORAGE = 6, CORE_TA2TA = 7, CORE_PANIC = 8 };

static void test_hello_world(TEEC_Context *ctx)
{
	TEEC_Session s;
	uint32_t origin = 0;
	TEEC_Result r = TEEC_OpenSession(ctx, &s, &hello_c, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	check("c_hello_open", r == TEEC_SUCCESS, "r=0x%x origin=%u", r, origin);
	if (r != TEEC_SUCCESS)
		return;
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 42;
	r = TEEC_InvokeCommand(&s, 0, &op, &origin);
	check("c_hello_increment", r == TEEC_SUCCESS && op.params[0].value.a == 43, "r=0x%x a=%u", r, op.params[0].value.a);
	r = TEEC_InvokeCommand(&s, 1, &op, &origin);
	check("c_hello_decrement", r == TEEC_SUCCESS && op.params[0].value.a == 42, "r=0x%x a=%u", r, op.params[0].value.a);

	/* Command 2: the TA's gpd.ta.description into a temporary output memref; too small first. */
	char text[64];
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = text;
	op.params[0].tmpref.size = 4;
	r = TEEC_InvokeCommand(&s, 2, &op, &origin);
	check("c_hello_description_short_buffer", r == TEEC_ERROR_SHORT_BUFFER && origin == TEEC_ORIGIN_TRUSTED_APP &&
	      op.params[0].tmpref.size == 40, "r=0x%x origin=%u size=%zu", r, origin, op.params[0].tmpref.size);
	memset(text, 0, sizeof(text));
	op.params[0].tmpref.size = sizeof(text);
	r = TEEC_InvokeCommand(&s, 2, &op, &origin);
	check("c_hello_description", r == TEEC_SUCCESS && op.params[0].tmpref.size == 40, "r=0x%x size=%zu", r,
	      op.params[0].tmpref.size);
	printf("value description %s\n", text);
	TEEC_CloseSession(&s);
}

static void test_core(TEEC_Context *ctx)
{
	TEEC_Session s;
	uint32_t origin = 0;
	TEEC_Result r = TEEC_OpenSession(ctx, &s, &core_c, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	check("c_core_open", r == TEEC_SUCCESS, "r=0x%x origin=%u", r, origin);
	if (r != TEEC_SUCCESS)
		return;
	TEEC_Operation op;

	/* Shared memory from libteec: the TA writes byte 0 only; the rest stays as the client left it. */
	TEEC_SharedMemory shm;
	memset(&shm, 0, sizeof(shm));
	shm.size = 8192;
	shm.flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;
	r = TEEC_AllocateSharedMemory(ctx, &shm);
	check("c_core_allocate_shm", r == TEEC_SUCCESS, "r=0x%x", r);
	if (r == TEEC_SUCCESS) {
		memset(shm.buffer, 0x11, shm.size);
		memset(&op, 0, sizeof(op));
		op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_WHOLE, TEEC_NONE, TEEC_NONE, TEEC_NONE);
		op.params[0].memref.parent = &shm;
		r = TEEC_InvokeCommand(&s, CORE_MEMREF_TOUCH, &op, &origin);
		const unsigned char *b = shm.buffer;
		int rest = 1;
		for (size_t i = 1; i < shm.size; i++)
			rest &= b[i] == 0x11;
		check("c_core_shm_touch_first_byte_only", r == TEEC_SUCCESS && b[0] == 0xAA && rest, "r=0x%x b0=0x%x rest=%d",
		      r, b[0], rest);
		TEEC_ReleaseSharedMemory(&shm);
	}

	/* The C TA calls a Swift TA and another instance of itself (TEE_OpenTASession, memrefs). */
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 0xFFFF;
	r = TEEC_InvokeCommand(&s, CORE_TA2TA, &op, &origin);
	check("c_core_ta_to_ta", r == TEEC_SUCCESS && op.params[0].value.a == 0, "r=0x%x first failed check %u", r,
	      op.params[0].value.a);

	/* Secure storage through the guest's supplicant. */
	op.params[0].value.a = 0xFFFF;
	r = TEEC_InvokeCommand(&s, CORE_STORAGE, &op, &origin);
	check("c_core_storage", r == TEEC_SUCCESS && op.params[0].value.a == 0, "r=0x%x first failed check %u", r,
	      op.params[0].value.a);

	/* A panic ends the instance: TARGET_DEAD, origin TEE, and the session stays dead. */
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	op.params[0].value.a = 0x42;
	r = TEEC_InvokeCommand(&s, CORE_PANIC, &op, &origin);
	check("c_core_panic_target_dead", r == TEEC_ERROR_TARGET_DEAD && origin == TEEC_ORIGIN_TEE, "r=0x%x origin=%u", r, origin);
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
	r = TEEC_InvokeCommand(&s, CORE_NOP, &op, &origin);
	check("c_core_dead_session_stays_dead", r == TEEC_ERROR_TARGET_DEAD, "r=0x%x", r);
	TEEC_CloseSession(&s);

	/* A fresh session is a fresh process. */
	r = TEEC_OpenSession(ctx, &s, &core_c, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	if (r == TEEC_SUCCESS) {
		op.params[0].value.a = 7;
		r = TEEC_InvokeCommand(&s, CORE_NOP, &op, &origin);
		check("c_core_serves_after_panic", r == TEEC_SUCCESS && op.params[0].value.a == 8, "r=0x%x a=%u", r,
		      op.params[0].value.a);
		TEEC_CloseSession(&s);
	} else {
		check("c_core_serves_after_panic", 0, "open r=0x%x", r);
	}
}

int main(void)
{
	TEEC_Context ctx;
	TEEC_Result r = TEEC_InitializeContext(NULL, &ctx);
	check("initialize_context", r == TEEC_SUCCESS, "r=0x%x", r);
	if (r != TEEC_SUCCESS) {
		printf("summary passed=%d failed=%d\n", passed, failed);
		return 1;
	}
	test_hello_world(&ctx);
	test_core(&ctx);

	TEEC_Session s;
	uint32_t origin = 0;
	r = TEEC_OpenSession(&ctx, &s, &absent, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	check("c_absent_ta_item_not_found", r == TEEC_ERROR_ITEM_NOT_FOUND && origin == TEEC_ORIGIN_TEE, "r=0x%x origin=%u", r,
	      origin);

	TEEC_FinalizeContext(&ctx);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
