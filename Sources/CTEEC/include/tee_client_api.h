/*
 * tee_client_api.h - the GlobalPlatform TEE Client API (GPD_SPE_007) as vtee's libteec exports it.
 *
 * Written for vtee from the GlobalPlatform specification and the layout facts of OP-TEE's client
 * library (optee_client): every type has the size, alignment and field offsets of OP-TEE's, so a
 * program compiled against OP-TEE's header runs with vtee's libteec.so.2 and vice versa
 * (Tests/CClients/layout_check.c checks them at test time).
 */
#ifndef TEE_CLIENT_API_H
#define TEE_CLIENT_API_H

#ifdef __cplusplus
extern "C" {
#endif

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of parameters of an operation. */
#define TEEC_CONFIG_PAYLOAD_REF_COUNT 4
/* Largest shared memory block (no limit of its own: the guest RAM bounds it). */
#define TEEC_CONFIG_SHAREDMEM_MAX_SIZE ULONG_MAX

/* Parameter types (TEEC_PARAM_TYPES nibbles). */
#define TEEC_NONE                   0x00000000
#define TEEC_VALUE_INPUT            0x00000001
#define TEEC_VALUE_OUTPUT           0x00000002
#define TEEC_VALUE_INOUT            0x00000003
#define TEEC_MEMREF_TEMP_INPUT      0x00000005
#define TEEC_MEMREF_TEMP_OUTPUT     0x00000006
#define TEEC_MEMREF_TEMP_INOUT      0x00000007
#define TEEC_MEMREF_WHOLE           0x0000000C
#define TEEC_MEMREF_PARTIAL_INPUT   0x0000000D
#define TEEC_MEMREF_PARTIAL_OUTPUT  0x0000000E
#define TEEC_MEMREF_PARTIAL_INOUT   0x0000000F

/* Shared memory direction flags. */
#define TEEC_MEM_INPUT   0x00000001
#define TEEC_MEM_OUTPUT  0x00000002

/* Result codes. */
#define TEEC_SUCCESS                      0x00000000
#define TEEC_ERROR_STORAGE_NOT_AVAILABLE  0xF0100003
#define TEEC_ERROR_GENERIC                0xFFFF0000
#define TEEC_ERROR_ACCESS_DENIED          0xFFFF0001
#define TEEC_ERROR_CANCEL                 0xFFFF0002
#define TEEC_ERROR_ACCESS_CONFLICT        0xFFFF0003
#define TEEC_ERROR_EXCESS_DATA            0xFFFF0004
#define TEEC_ERROR_BAD_FORMAT             0xFFFF0005
#define TEEC_ERROR_BAD_PARAMETERS         0xFFFF0006
#define TEEC_ERROR_BAD_STATE              0xFFFF0007
#define TEEC_ERROR_ITEM_NOT_FOUND         0xFFFF0008
#define TEEC_ERROR_NOT_IMPLEMENTED        0xFFFF0009
#define TEEC_ERROR_NOT_SUPPORTED          0xFFFF000A
#define TEEC_ERROR_NO_DATA                0xFFFF000B
#define TEEC_ERROR_OUT_OF_MEMORY          0xFFFF000C
#define TEEC_ERROR_BUSY                   0xFFFF000D
#define TEEC_ERROR_COMMUNICATION          0xFFFF000E
#define TEEC_ERROR_SECURITY               0xFFFF000F
#define TEEC_ERROR_SHORT_BUFFER           0xFFFF0010
#define TEEC_ERROR_EXTERNAL_CANCEL        0xFFFF0011
#define TEEC_ERROR_TARGET_DEAD            0xFFFF3024
#define TEEC_ERROR_STORAGE_NO_SPACE       0xFFFF3041

/* Where a result came from. */
#define TEEC_ORIGIN_API          0x00000001
#define TEEC_ORIGIN_COMMS        0x00000002
#define TEEC_ORIGIN_TEE          0x00000003
#define TEEC_ORIGIN_TRUSTED_APP  0x00000004

/* Login methods. */
#define TEEC_LOGIN_PUBLIC            0x00000000
#define TEEC_LOGIN_USER              0x00000001
#define TEEC_LOGIN_GROUP             0x00000002
#define TEEC_LOGIN_APPLICATION       0x00000004
#define TEEC_LOGIN_USER_APPLICATION  0x00000005
#define TEEC_LOGIN_GROUP_APPLICATION 0x00000006

/* Builds the paramTypes word from four parameter types. */
#define TEEC_PARAM_TYPES(p0, p1, p2, p3) \
	((p0) | ((p1) << 4) | ((p2) << 8) | ((p3) << 12))
/* Type of parameter i in a paramTypes word. */
#define TEEC_PARAM_TYPE_GET(p, i) (((p) >> ((i) * 4)) & 0xF)

/* Result of every call. */
typedef uint32_t TEEC_Result;

/* A connection to the TEE (one open /dev/tee descriptor). */
typedef struct {
	struct {
		int fd;
		bool reg_mem;
		bool memref_null;
	} imp;
} TEEC_Context;

/* A UUID with its fields as numbers (timeLow, timeMid, timeHiAndVersion) and eight octets. */
typedef struct {
	uint32_t timeLow;
	uint16_t timeMid;
	uint16_t timeHiAndVersion;
	uint8_t clockSeqAndNode[8];
} TEEC_UUID;

/* A block of memory shared with the TA: allocated by the library or registered by the caller. */
typedef struct {
	void *buffer;
	size_t size;
	uint32_t flags;
	struct {
		int id;
		size_t alloced_size;
		void *shadow_buffer;
		int registered_fd;
		uint32_t flags;
	} imp;
} TEEC_SharedMemory;

/* A temporary buffer passed for one call. */
typedef struct {
	void *buffer;
	size_t size;
} TEEC_TempMemoryReference;

/* A window of registered shared memory (whole or partial). */
typedef struct {
	TEEC_SharedMemory *parent;
	size_t size;
	size_t offset;
} TEEC_RegisteredMemoryReference;

/* Two 32-bit values. */
typedef struct {
	uint32_t a;
	uint32_t b;
} TEEC_Value;

/* One parameter: its type is in the operation's paramTypes. */
typedef union {
	TEEC_TempMemoryReference tmpref;
	TEEC_RegisteredMemoryReference memref;
	TEEC_Value value;
} TEEC_Parameter;

/* An open session with a TA. */
typedef struct {
	struct {
		TEEC_Context *ctx;
		uint32_t session_id;
	} imp;
} TEEC_Session;

/* The payload of an open-session or invoke call, and the handle used to cancel it. */
typedef struct {
	uint32_t started;
	uint32_t paramTypes;
	TEEC_Parameter params[TEEC_CONFIG_PAYLOAD_REF_COUNT];
	struct {
		TEEC_Session *session;
	} imp;
} TEEC_Operation;

/* Connects to the TEE named `name` (NULL or "optee-tz"). */
TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *context);
/* Closes the connection. */
void TEEC_FinalizeContext(TEEC_Context *context);
/* Opens a session with the TA `destination`. */
TEEC_Result TEEC_OpenSession(TEEC_Context *context, TEEC_Session *session, const TEEC_UUID *destination,
			     uint32_t connectionMethod, const void *connectionData, TEEC_Operation *operation,
			     uint32_t *returnOrigin);
/* Closes a session. */
void TEEC_CloseSession(TEEC_Session *session);
/* Invokes command `commandID` of the session's TA. */
TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t commandID, TEEC_Operation *operation,
			       uint32_t *returnOrigin);
/* Shares the caller's buffer shm->buffer (shm->size bytes) with the TEE. */
TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *context, TEEC_SharedMemory *sharedMem);
/* Shares the memory behind a file descriptor (vtee: only descriptors of vtee shared memory). */
TEEC_Result TEEC_RegisterSharedMemoryFileDescriptor(TEEC_Context *context, TEEC_SharedMemory *sharedMem, int fd);
/* Allocates shm->size bytes shared with the TEE; shm->buffer points at them. */
TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *context, TEEC_SharedMemory *sharedMem);
/* Releases shared memory registered or allocated before. */
void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *sharedMemory);
/* Asks the TEE to cancel the operation running (or about to run) with `operation`. */
void TEEC_RequestCancellation(TEEC_Operation *operation);

#ifdef __cplusplus
}
#endif
#endif
