/* layout_check: every type of vtee's tee_client_api.h has the size, alignment and field offsets
 * of OP-TEE's (values from OP-TEE's header compiled for LP64; ../shared/abi/layouts.tsv).
 * Prints "ok"/"FAIL" lines and a summary; exits 1 on any mismatch. */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <tee_client_api.h>

static int passed, failed;

static void expect(const char *what, size_t got, size_t want)
{
	if (got == want) {
		passed++;
		printf("ok %s = %zu\n", what, got);
	} else {
		failed++;
		printf("FAIL %s = %zu, OP-TEE has %zu\n", what, got, want);
	}
}

#define SIZE(T, n) expect("sizeof(" #T ")", sizeof(T), n)
#define ALIGN(T, n) expect("alignof(" #T ")", alignof(T), n)
#define OFF(T, f, n) expect("offsetof(" #T ", " #f ")", offsetof(T, f), n)

int main(void)
{
	SIZE(TEEC_UUID, 16); ALIGN(TEEC_UUID, 4);
	OFF(TEEC_UUID, timeLow, 0); OFF(TEEC_UUID, timeMid, 4); OFF(TEEC_UUID, timeHiAndVersion, 6); OFF(TEEC_UUID, clockSeqAndNode, 8);
	SIZE(TEEC_Value, 8); ALIGN(TEEC_Value, 4); OFF(TEEC_Value, a, 0); OFF(TEEC_Value, b, 4);
	SIZE(TEEC_TempMemoryReference, 16); ALIGN(TEEC_TempMemoryReference, 8);
	OFF(TEEC_TempMemoryReference, buffer, 0); OFF(TEEC_TempMemoryReference, size, 8);
	SIZE(TEEC_RegisteredMemoryReference, 24); ALIGN(TEEC_RegisteredMemoryReference, 8);
	OFF(TEEC_RegisteredMemoryReference, parent, 0); OFF(TEEC_RegisteredMemoryReference, size, 8);
	OFF(TEEC_RegisteredMemoryReference, offset, 16);
	SIZE(TEEC_Parameter, 24); ALIGN(TEEC_Parameter, 8);
	OFF(TEEC_Parameter, tmpref, 0); OFF(TEEC_Parameter, memref, 0); OFF(TEEC_Parameter, value, 0);
	SIZE(TEEC_Operation, 112); ALIGN(TEEC_Operation, 8);
	OFF(TEEC_Operation, started, 0); OFF(TEEC_Operation, paramTypes, 4); OFF(TEEC_Operation, params, 8);
	OFF(TEEC_Operation, imp.session, 104);
	SIZE(TEEC_SharedMemory, 56); ALIGN(TEEC_SharedMemory, 8);
	OFF(TEEC_SharedMemory, buffer, 0); OFF(TEEC_SharedMemory, size, 8); OFF(TEEC_SharedMemory, flags, 16);
	OFF(TEEC_SharedMemory, imp, 24); OFF(TEEC_SharedMemory, imp.id, 24); OFF(TEEC_SharedMemory, imp.alloced_size, 32);
	OFF(TEEC_SharedMemory, imp.shadow_buffer, 40); OFF(TEEC_SharedMemory, imp.registered_fd, 48);
	OFF(TEEC_SharedMemory, imp.flags, 52);
	SIZE(TEEC_Context, 8); ALIGN(TEEC_Context, 4);
	OFF(TEEC_Context, imp.fd, 0); OFF(TEEC_Context, imp.reg_mem, 4); OFF(TEEC_Context, imp.memref_null, 5);
	SIZE(TEEC_Session, 16); ALIGN(TEEC_Session, 8);
	OFF(TEEC_Session, imp.ctx, 0); OFF(TEEC_Session, imp.session_id, 8);
	expect("TEEC_PARAM_TYPES(VALUE_INPUT, MEMREF_TEMP_OUTPUT, NONE, NONE)",
	       TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE), 0x61);
	expect("TEEC_PARAM_TYPES(TEMP_INPUT, TEMP_INOUT, VALUE_OUTPUT, WHOLE)",
	       TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_OUTPUT, TEEC_MEMREF_WHOLE), 0xc275);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
