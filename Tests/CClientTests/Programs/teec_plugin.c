/* teec_plugin: a libteec client making vtee.test (TestTA) call a tee-supplicant plugin (command
 * 14, SUPPLICANT_PLUGIN: the TA's tee_invoke_supp_plugin) served by whoever is the supplicant:
 * vtee's own, loading test_plugin.c's library from VTEE_PLUGIN_DIR. With the argument "absent"
 * it checks instead that no plugin is loaded. Prints "ok"/"FAIL" lines and a summary. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <tee_client_api.h>

#include "check.h"

static const TEEC_UUID test_ta = { 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 } };
static const uint8_t plugin_uuid[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0xf0, 0x0d };
static const uint8_t other_uuid[16] = { 0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0xde, 0xad };

/* Runs plugin command `cmd` on `data` (in place): the TEEC result; *out is value.b. */
static TEEC_Result plugin(TEEC_Session *s, const uint8_t *uuid, uint32_t cmd, char *data, size_t *size, uint32_t *out,
			  uint32_t *origin)
{
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_MEMREF_TEMP_INOUT, TEEC_MEMREF_TEMP_INPUT, TEEC_NONE);
	op.params[0].value.a = cmd;
	op.params[0].value.b = 0;
	op.params[1].tmpref.buffer = data;
	op.params[1].tmpref.size = *size;
	op.params[2].tmpref.buffer = (void *)uuid;
	op.params[2].tmpref.size = 16;
	TEEC_Result r = TEEC_InvokeCommand(s, 14, &op, origin);
	*size = op.params[1].tmpref.size;
	*out = op.params[0].value.b;
	return r;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int absent = argc > 1 && strcmp(argv[1], "absent") == 0;
	TEEC_Context ctx;
	TEEC_Session s;
	uint32_t origin = 0, out = 0;
	TEEC_Result r = TEEC_InitializeContext(NULL, &ctx);
	check("context", r == TEEC_SUCCESS, "0x%x", r);
	r = TEEC_OpenSession(&ctx, &s, &test_ta, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	check("session", r == TEEC_SUCCESS, "0x%x origin %u", r, origin);
	char text[] = "hello plugin";
	size_t size = strlen(text);
	r = plugin(&s, plugin_uuid, 0, text, &size, &out, &origin);
	if (absent) {
		check("no_plugin_item_not_found", r == TEEC_ERROR_ITEM_NOT_FOUND && origin == TEEC_ORIGIN_TRUSTED_APP,
		      "0x%x origin %u", r, origin);
	} else {
		check("plugin_reverses_data", r == TEEC_SUCCESS && out == 12 && size == 12 && memcmp(text, "nigulp olleh", 12) == 0,
		      "0x%x out=%u size=%zu text=%.12s", r, out, size, text);
		uint8_t sum[8] = { 1, 2, 3, 250, 0, 0, 0, 0 };
		size = sizeof(sum);
		r = plugin(&s, plugin_uuid, 1, (char *)sum, &size, &out, &origin);
		check("plugin_output_length", r == TEEC_SUCCESS && out == 4 && size == 4 && sum[0] == 0 && sum[1] == 1,
		      "0x%x out=%u size=%zu sum=%u,%u", r, out, size, sum[0], sum[1]);
		char one[] = "x";
		size = 1;
		r = plugin(&s, plugin_uuid, 7, one, &size, &out, &origin);
		check("plugin_unknown_command_not_supported", r == TEEC_ERROR_NOT_SUPPORTED && origin == TEEC_ORIGIN_TRUSTED_APP,
		      "0x%x origin %u", r, origin);
		size = 1;
		r = plugin(&s, other_uuid, 0, one, &size, &out, &origin);
		check("unknown_plugin_item_not_found", r == TEEC_ERROR_ITEM_NOT_FOUND, "0x%x", r);
	}
	TEEC_CloseSession(&s);
	TEEC_FinalizeContext(&ctx);
	printf("summary passed=%d failed=%d\n", passed, failed);
	return failed ? 1 : 0;
}
