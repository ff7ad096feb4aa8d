/*
 * vtee test TA: an OP-TEE-style TA written against the GP 1.1 API
 * (CFG_TA_OPTEE_CORE_API_COMPAT_1_1=y, as OP-TEE's examples were built):
 * memref sizes are uint32_t here, and the dev kit bridges the entry points.
 */
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include <hello_world_ta.h>

TEE_Result TA_CreateEntryPoint(void)
{
	DMSG("has been called");
	return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
	DMSG("has been called");
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t param_types,
				    TEE_Param __maybe_unused params[4],
				    void __maybe_unused **sess_ctx)
{
	uint32_t exp_param_types = TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE);

	if (param_types != exp_param_types)
		return TEE_ERROR_BAD_PARAMETERS;
	IMSG("Hello World!\n");
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void __maybe_unused *sess_ctx)
{
	IMSG("Goodbye!\n");
}

static TEE_Result step_value(uint32_t param_types, TEE_Param params[4], int delta)
{
	uint32_t exp_param_types = TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE);

	if (param_types != exp_param_types)
		return TEE_ERROR_BAD_PARAMETERS;
	IMSG("Got value: %u from NW", params[0].value.a);
	params[0].value.a += (uint32_t)delta;
	IMSG("Value is now: %u", params[0].value.a);
	return TEE_SUCCESS;
}

static TEE_Result description(uint32_t param_types, TEE_Param params[4])
{
	uint32_t exp_param_types = TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_OUTPUT,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE);
	uint32_t len = 0;
	TEE_Result res = TEE_SUCCESS;

	if (param_types != exp_param_types)
		return TEE_ERROR_BAD_PARAMETERS;
	len = params[0].memref.size;
	res = TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "gpd.ta.description",
				      params[0].memref.buffer, &len);
	params[0].memref.size = len;
	return res;
}

TEE_Result TA_InvokeCommandEntryPoint(void __maybe_unused *sess_ctx,
				      uint32_t cmd_id,
				      uint32_t param_types, TEE_Param params[4])
{
	switch (cmd_id) {
	case TA_HELLO_WORLD_CMD_INC_VALUE:
		return step_value(param_types, params, 1);
	case TA_HELLO_WORLD_CMD_DEC_VALUE:
		return step_value(param_types, params, -1);
	case TA_HELLO_WORLD_CMD_DESCRIPTION:
		return description(param_types, params);
	default:
		return TEE_ERROR_BAD_PARAMETERS;
	}
}
