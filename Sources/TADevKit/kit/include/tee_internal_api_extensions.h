/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vtee TA dev kit: OP-TEE's extensions to the Internal Core API that TAs
 * commonly call (same names and prototypes as OP-TEE's libutee).
 */
#ifndef TEE_INTERNAL_API_EXTENSIONS_H
#define TEE_INTERNAL_API_EXTENSIONS_H

#include <trace.h>
#include <stdio.h>
#include <tee_api_defines_extensions.h>
#include <tee_api_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Heap accounting hooks (debug builds of OP-TEE's libutee). */
void tee_user_mem_mark_heap(void);
size_t tee_user_mem_check_heap(void);

/* TEE_Malloc hint: do not zero the allocation. */
#define TEE_USER_MEM_HINT_NO_FILL_ZERO	0x80000000

/* Data cache maintenance on a TA buffer (TA_FLAG_CACHE_MAINTENANCE); no-ops on a host. */
TEE_Result TEE_CacheClean(char *buf, size_t len);
TEE_Result TEE_CacheFlush(char *buf, size_t len);
TEE_Result TEE_CacheInvalidate(char *buf, size_t len);

/* A command from the TA to its client application (an OCALL). */
TEE_Result TEE_InvokeCACommand(uint32_t cancellationRequestTimeout,
			       uint32_t commandID, uint32_t paramTypes,
			       TEE_Param params[TEE_NUM_PARAMS],
			       uint32_t *returnOrigin);

/* Maps len bytes of zeroed memory (flags 0 or TEE_MEMORY_ACCESS_ANY_OWNER); NULL on failure. */
void *tee_map_zi(size_t len, uint32_t flags);
/* Unmaps exactly what tee_map_zi returned. */
TEE_Result tee_unmap(void *buf, size_t len);

/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into *uuid. */
TEE_Result tee_uuid_from_str(TEE_UUID *uuid, const char *s);

/* Calls command cmd/sub_cmd of tee-supplicant plugin uuid with buf (len in, *outlen out). */
TEE_Result tee_invoke_supp_plugin(const TEE_UUID *uuid, uint32_t cmd,
				  uint32_t sub_cmd, void *buf, size_t len,
				  size_t *outlen);

#ifdef __cplusplus
}
#endif

#endif /* TEE_INTERNAL_API_EXTENSIONS_H */
