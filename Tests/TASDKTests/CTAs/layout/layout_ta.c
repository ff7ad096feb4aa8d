/*
 * vtee test TA written against the GP 1.3 API. It only compiles if the dev kit
 * applied this directory's cflags-y, this file's cflags-layout_ta.c-y and the
 * Makefile's CFG_* variables; lib/mathlib.c checks the flags did not leak there.
 */
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include <layout_ta.h>
#include <mathlib.h>

#if !defined(LAYOUT_DIR_FLAG) || !defined(LAYOUT_FILE_FLAG)
#error "cflags-y / cflags-layout_ta.c-y were not applied"
#endif
#if !defined(CFG_VTEE_LAYOUT_FEATURE) || CFG_VTEE_LAYOUT_FEATURE != 1
#error "CFG_VTEE_LAYOUT_FEATURE=y must reach the compiler as 1"
#endif
#ifdef MATHLIB_FACTOR
#error "lib/'s per-file flag leaked into layout_ta.c"
#endif
#ifdef MATHLIB_PRIV_PRESENT
#error "lib/'s private include directory leaked"
#endif

TEE_Result TA_CreateEntryPoint(void)
{
	return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t param_types, TEE_Param params[4],
				    void **sess_ctx)
{
	(void)param_types;
	(void)params;
	*sess_ctx = NULL;
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *sess_ctx)
{
	(void)sess_ctx;
}

static TEE_Result xor_buffer(uint32_t param_types, TEE_Param params[4])
{
	size_t size = 0;
	uint8_t *copy = NULL;

	if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, TEE_PARAM_TYPE_NONE,
					   TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
		return TEE_ERROR_BAD_PARAMETERS;
	size = params[0].memref.size;
	copy = TEE_Malloc(size, TEE_MALLOC_FILL_ZERO);
	if (!copy && size)
		return TEE_ERROR_OUT_OF_MEMORY;
	TEE_MemMove(copy, params[0].memref.buffer, size);
	for (size_t i = 0; i < size; i++)
		copy[i] ^= 0x5a;
	TEE_MemMove(params[0].memref.buffer, copy, size);
	TEE_Free(copy);
	return TEE_SUCCESS;
}

TEE_Result TA_InvokeCommandEntryPoint(void *sess_ctx, uint32_t cmd_id,
				      uint32_t param_types, TEE_Param params[4])
{
	(void)sess_ctx;
	switch (cmd_id) {
	case TA_LAYOUT_CMD_COMPUTE:
		if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
			return TEE_ERROR_BAD_PARAMETERS;
		params[0].value.a = mathlib_scale(params[0].value.a) + LAYOUT_FILE_FLAG +
				    CFG_VTEE_LAYOUT_BASE;
		DMSG("computed %u", params[0].value.a);
		return TEE_SUCCESS;
	case TA_LAYOUT_CMD_XOR:
		return xor_buffer(param_types, params);
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
}
