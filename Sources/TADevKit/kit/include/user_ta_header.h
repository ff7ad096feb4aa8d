/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vtee TA dev kit: what a TA's ELF carries for the loader (OP-TEE's layout).
 *
 * user_ta_header.c, compiled into every TA from its user_ta_header_defines.h,
 * defines `ta_head` (section .ta_head), the property table `ta_props` /
 * `ta_num_props`, `trace_level` and `trace_ext_prefix`. vtee's TA host reads
 * them from the loaded shared object exactly as OP-TEE's ldelf reads them.
 */
#ifndef USER_TA_HEADER_H
#define USER_TA_HEADER_H

#include <tee_api_types.h>
#include <util.h>

#define TA_FLAG_USER_MODE		0	/* deprecated, was bit 0 */
#define TA_FLAG_EXEC_DDR		0	/* deprecated, was bit 1 */
#define TA_FLAG_SINGLE_INSTANCE		(1 << 2)
#define TA_FLAG_MULTI_SESSION		(1 << 3)
#define TA_FLAG_INSTANCE_KEEP_ALIVE	(1 << 4)  /* kept after the last close */
#define TA_FLAG_SECURE_DATA_PATH	(1 << 5)  /* accesses SDP memory */
#define TA_FLAG_REMAP_SUPPORT		0	/* deprecated, was bit 6 */
#define TA_FLAG_CACHE_MAINTENANCE	(1 << 7)  /* uses the cache maintenance calls */
#define TA_FLAG_CONCURRENT		(1 << 8)  /* pseudo-TAs only; refused for TAs */
#define TA_FLAG_DEVICE_ENUM		(1 << 9)  /* enumerated without tee-supplicant */
#define TA_FLAG_DEVICE_ENUM_SUPP	(1 << 10) /* enumerated with tee-supplicant */
#define TA_FLAG_DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT (1 << 11)
#define TA_FLAG_DEVICE_ENUM_TEE_STORAGE_PRIVATE (1 << 12)
#define TA_FLAG_INSTANCE_KEEP_CRASHED	(1 << 13) /* a crashed keep-alive instance stays dead */

#define TA_FLAGS_MASK			GENMASK_32(13, 0)

/* The 32-byte header the loader checks first (symbol ta_head, section .ta_head). */
struct ta_head {
	TEE_UUID uuid;
	uint32_t stack_size;	/* TA_STACK_SIZE + 2048 */
	uint32_t flags;		/* TA_FLAGS */
	uint64_t depr_entry;	/* UINT64_MAX: entry through the GP entry points */
};

#define TA_PROP_STR_SINGLE_INSTANCE	"gpd.ta.singleInstance"
#define TA_PROP_STR_MULTI_SESSION	"gpd.ta.multiSession"
#define TA_PROP_STR_KEEP_ALIVE		"gpd.ta.instanceKeepAlive"
#define TA_PROP_STR_KEEP_CRASHED	"optee.ta.instanceKeepCrashed"
#define TA_PROP_STR_DATA_SIZE		"gpd.ta.dataSize"
#define TA_PROP_STR_STACK_SIZE		"gpd.ta.stackSize"
#define TA_PROP_STR_VERSION		"gpd.ta.version"
#define TA_PROP_STR_DESCRIPTION		"gpd.ta.description"
#define TA_PROP_STR_ENDIAN		"gpd.ta.endian"
#define TA_PROP_STR_DOES_NOT_CLOSE_HANDLE_ON_CORRUPT_OBJECT \
	"gpd.ta.doesNotCloseHandleOnCorruptObject"

/* Type of one property value. */
enum user_ta_prop_type {
	USER_TA_PROP_TYPE_BOOL,		/* bool */
	USER_TA_PROP_TYPE_U32,		/* uint32_t */
	USER_TA_PROP_TYPE_UUID,		/* TEE_UUID */
	USER_TA_PROP_TYPE_IDENTITY,	/* TEE_Identity */
	USER_TA_PROP_TYPE_STRING,	/* NUL-terminated string */
	USER_TA_PROP_TYPE_BINARY_BLOCK,	/* NUL-terminated base64 text */
	USER_TA_PROP_TYPE_U64,		/* uint64_t */
	USER_TA_PROP_TYPE_INVALID,	/* not a valid type */
};

/* One entry of ta_props (24 bytes on LP64). */
struct user_ta_property {
	const char *name;
	enum user_ta_prop_type type;
	const void *value;
};

extern const struct user_ta_property ta_props[];
extern const size_t ta_num_props;

extern uint8_t __ta_no_share_heap[];
extern const size_t __ta_no_share_heap_size;

/* The current invocation's parameters (TEE_CheckMemoryAccessRights uses them). */
extern uint32_t ta_param_types;
extern TEE_Param ta_params[TEE_NUM_PARAMS];

int tahead_get_trace_level(void);

#endif /* USER_TA_HEADER_H */
