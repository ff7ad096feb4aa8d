/* test_plugin: a tee-supplicant plugin for the tests, built as optee_client builds plugins (a
 * shared library exporting `struct plugin_method plugin_method`) and loaded by vtee's own
 * supplicant from VTEE_PLUGIN_DIR. UUID 7e57c0de-0000-4000-8000-00000000f00d.
 * Commands: 0 REVERSE reverses the data in place (out_len = in_len); 1 SUM writes the byte sum of
 * the data as 4 little-endian bytes (out_len 4; SHORT_BUFFER below 4 bytes); anything else is
 * NOT_SUPPORTED; every command is BAD_STATE unless init ran first. */
#include <stddef.h>
#include <stdint.h>
#include <tee_client_api.h>

struct plugin_method {
	const char *name;
	TEEC_UUID uuid;
	TEEC_Result (*init)(void);
	TEEC_Result (*invoke)(unsigned int cmd, unsigned int sub_cmd, void *data, size_t in_len, size_t *out_len);
};

static int initialized;

static TEEC_Result test_init(void)
{
	initialized = 1;
	return TEEC_SUCCESS;
}

static TEEC_Result test_invoke(unsigned int cmd, unsigned int sub_cmd, void *data, size_t in_len, size_t *out_len)
{
	(void)sub_cmd;
	uint8_t *b = data;
	if (!initialized)
		return TEEC_ERROR_BAD_STATE;
	switch (cmd) {
	case 0:
		for (size_t i = 0; i < in_len / 2; i++) {
			uint8_t t = b[i];
			b[i] = b[in_len - 1 - i];
			b[in_len - 1 - i] = t;
		}
		*out_len = in_len;
		return TEEC_SUCCESS;
	case 1: {
		uint32_t sum = 0;
		for (size_t i = 0; i < in_len; i++)
			sum += b[i];
		if (in_len < 4) {
			*out_len = 4;
			return TEEC_ERROR_SHORT_BUFFER;
		}
		for (int i = 0; i < 4; i++)
			b[i] = (uint8_t)(sum >> (8 * i));
		*out_len = 4;
		return TEEC_SUCCESS;
	}
	default:
		return TEEC_ERROR_NOT_SUPPORTED;
	}
}

struct plugin_method plugin_method = {
	"vtee-test",
	{ 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x0d } },
	test_init,
	test_invoke,
};
