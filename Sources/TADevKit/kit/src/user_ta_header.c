// SPDX-License-Identifier: BSD-2-Clause
/*
 * vtee TA dev kit: compiled into every TA by ta_dev_kit.mk, with the TA's own
 * flags and include paths, from the TA's user_ta_header_defines.h.
 *
 * It gives the TA's shared object what OP-TEE's loader expects to find:
 * `ta_head` in section .ta_head, the property table `ta_props` and
 * `ta_num_props`, the heap reservation `ta_heap`, and the trace settings
 * `trace_level` / `trace_ext_prefix`. For a TA built with
 * CFG_TA_OPTEE_CORE_API_COMPAT_1_1=y it also defines the GP 1.3 entry points
 * TA_OpenSessionEntryPoint / TA_InvokeCommandEntryPoint as bridges to the
 * TA's GP 1.1 ones, so the runtime always calls the 1.3 shape.
 */
#include <stdint.h>
#include <string.h>
#include <tee_internal_api.h>
#include <user_ta_header.h>
#include <user_ta_header_defines.h>

#ifndef TA_UUID
#error "user_ta_header_defines.h must define TA_UUID"
#endif
#ifndef TA_FLAGS
#error "user_ta_header_defines.h must define TA_FLAGS"
#endif
#ifndef TA_STACK_SIZE
#error "user_ta_header_defines.h must define TA_STACK_SIZE"
#endif
#ifndef TA_DATA_SIZE
#error "user_ta_header_defines.h must define TA_DATA_SIZE"
#endif
#ifndef TA_VERSION
#define TA_VERSION "Undefined version"
#endif
#ifndef TA_DESCRIPTION
#define TA_DESCRIPTION "Undefined description"
#endif
#ifndef TA_NO_SHARE_DATA_SIZE
#define TA_NO_SHARE_DATA_SIZE 0
#endif

_Static_assert(TA_DATA_SIZE >= 1024, "TA_DATA_SIZE must be at least 1024 bytes");
_Static_assert(((TA_STACK_SIZE) + 2048) % 16 == 0, "TA_STACK_SIZE must keep the stack 16-byte aligned");

/* The loader's header: UUID, stack size (with OP-TEE's 2 KiB of headroom), flags. */
const struct ta_head ta_head __attribute__((section(".ta_head"), used)) = {
	.uuid = TA_UUID,
	.stack_size = (TA_STACK_SIZE) + 2048,
	.flags = (TA_FLAGS),
	.depr_entry = UINT64_MAX,
};

/* The heap the TA may use (gpd.ta.dataSize); the host enforces it as a limit. */
uint8_t ta_heap[TA_DATA_SIZE] __attribute__((aligned(16)));
const size_t ta_heap_size = sizeof(ta_heap);

uint8_t __ta_no_share_heap[TA_NO_SHARE_DATA_SIZE + 1] __attribute__((aligned(16)));
const size_t __ta_no_share_heap_size = TA_NO_SHARE_DATA_SIZE;

/* Trace settings read by the runtime's trace_printf. */
int trace_level = TRACE_LEVEL;
const char trace_ext_prefix[] = "TA";

int tahead_get_trace_level(void)
{
	return trace_level;
}

static const bool ta_prop_single_instance = ((TA_FLAGS) & TA_FLAG_SINGLE_INSTANCE) != 0;
static const bool ta_prop_multi_session = ((TA_FLAGS) & TA_FLAG_MULTI_SESSION) != 0;
static const bool ta_prop_keep_alive = ((TA_FLAGS) & TA_FLAG_INSTANCE_KEEP_ALIVE) != 0;
static const bool ta_prop_keep_crashed = ((TA_FLAGS) & TA_FLAG_INSTANCE_KEEP_CRASHED) != 0;
static const uint32_t ta_prop_data_size = TA_DATA_SIZE;
static const uint32_t ta_prop_stack_size = TA_STACK_SIZE;
static const uint32_t ta_prop_endian = 0; /* little endian */
static const bool ta_prop_no_close_on_corrupt =
	((TA_FLAGS) & TA_FLAG_DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT) != 0;

/* The TA's properties in OP-TEE's order, then the TA's own extension properties. */
const struct user_ta_property ta_props[] = {
	{ TA_PROP_STR_SINGLE_INSTANCE, USER_TA_PROP_TYPE_BOOL, &ta_prop_single_instance },
	{ TA_PROP_STR_MULTI_SESSION, USER_TA_PROP_TYPE_BOOL, &ta_prop_multi_session },
	{ TA_PROP_STR_KEEP_ALIVE, USER_TA_PROP_TYPE_BOOL, &ta_prop_keep_alive },
	{ TA_PROP_STR_KEEP_CRASHED, USER_TA_PROP_TYPE_BOOL, &ta_prop_keep_crashed },
	{ TA_PROP_STR_DATA_SIZE, USER_TA_PROP_TYPE_U32, &ta_prop_data_size },
	{ TA_PROP_STR_STACK_SIZE, USER_TA_PROP_TYPE_U32, &ta_prop_stack_size },
	{ TA_PROP_STR_VERSION, USER_TA_PROP_TYPE_STRING, TA_VERSION },
	{ TA_PROP_STR_DESCRIPTION, USER_TA_PROP_TYPE_STRING, TA_DESCRIPTION },
	{ TA_PROP_STR_ENDIAN, USER_TA_PROP_TYPE_U32, &ta_prop_endian },
	{ TA_PROP_STR_DOES_NOT_CLOSE_HANDLE_ON_CORRUPT_OBJECT, USER_TA_PROP_TYPE_BOOL,
	  &ta_prop_no_close_on_corrupt },
#ifdef TA_CURRENT_TA_EXT_PROPERTIES
	TA_CURRENT_TA_EXT_PROPERTIES
#endif
};

const size_t ta_num_props = sizeof(ta_props) / sizeof(ta_props[0]);

#if __OPTEE_CORE_API_COMPAT_1_1
/*
 * The TA defines the GP 1.1 entry points (tee_api_compat.h renamed them);
 * the runtime calls the 1.3 ones defined here, which narrow each memref size
 * to 32 bits, call the TA and copy what it wrote back.
 */
#undef TEE_Param
#undef TA_OpenSessionEntryPoint
#undef TA_InvokeCommandEntryPoint

static TEE_Result to_gp11(uint32_t pt, const TEE_Param *in, __GP11_TEE_Param *out)
{
	for (size_t n = 0; n < TEE_NUM_PARAMS; n++) {
		switch (TEE_PARAM_TYPE_GET(pt, n)) {
		case TEE_PARAM_TYPE_MEMREF_INPUT:
		case TEE_PARAM_TYPE_MEMREF_OUTPUT:
		case TEE_PARAM_TYPE_MEMREF_INOUT:
			if (in[n].memref.size > UINT32_MAX)
				return TEE_ERROR_BAD_PARAMETERS;
			out[n].memref.buffer = in[n].memref.buffer;
			out[n].memref.size = (uint32_t)in[n].memref.size;
			break;
		default:
			out[n].value.a = in[n].value.a;
			out[n].value.b = in[n].value.b;
			break;
		}
	}
	return TEE_SUCCESS;
}

static void from_gp11(uint32_t pt, const __GP11_TEE_Param *in, TEE_Param *out)
{
	for (size_t n = 0; n < TEE_NUM_PARAMS; n++) {
		switch (TEE_PARAM_TYPE_GET(pt, n)) {
		case TEE_PARAM_TYPE_MEMREF_OUTPUT:
		case TEE_PARAM_TYPE_MEMREF_INOUT:
			out[n].memref.size = in[n].memref.size;
			break;
		case TEE_PARAM_TYPE_VALUE_OUTPUT:
		case TEE_PARAM_TYPE_VALUE_INOUT:
			out[n].value.a = in[n].value.a;
			out[n].value.b = in[n].value.b;
			break;
		default:
			break;
		}
	}
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t paramTypes,
				    TEE_Param params[TEE_NUM_PARAMS],
				    void **sessionContext)
{
	__GP11_TEE_Param p[TEE_NUM_PARAMS];
	TEE_Result res;

	memset(p, 0, sizeof(p));
	res = to_gp11(paramTypes, params, p);
	if (res != TEE_SUCCESS)
		return res;
	res = __GP11_TA_OpenSessionEntryPoint(paramTypes, p, sessionContext);
	from_gp11(paramTypes, p, params);
	return res;
}

TEE_Result TA_InvokeCommandEntryPoint(void *sessionContext, uint32_t commandID,
				      uint32_t paramTypes,
				      TEE_Param params[TEE_NUM_PARAMS])
{
	__GP11_TEE_Param p[TEE_NUM_PARAMS];
	TEE_Result res;

	memset(p, 0, sizeof(p));
	res = to_gp11(paramTypes, params, p);
	if (res != TEE_SUCCESS)
		return res;
	res = __GP11_TA_InvokeCommandEntryPoint(sessionContext, commandID,
						paramTypes, p);
	from_gp11(paramTypes, p, params);
	return res;
}
#endif
