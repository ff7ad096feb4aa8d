/* GP TEE Internal Core API v1.3.1 types and values, as libvteeta needs them. Names and values
 * are GP's (and OP-TEE's), so a TA compiled against the dev kit's headers calls these with the
 * same ABI. Private to libvteeta. */
#ifndef VTEETA_GP_H
#define VTEETA_GP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t TEE_Result;
typedef struct { uint32_t timeLow; uint16_t timeMid; uint16_t timeHiAndVersion; uint8_t clockSeqAndNode[8]; } TEE_UUID;
typedef struct { uint32_t login; TEE_UUID uuid; } TEE_Identity;
typedef union {
    struct { void *buffer; size_t size; } memref;
    struct { uint32_t a, b; } value;
} TEE_Param;
typedef struct { uint32_t seconds; uint32_t millis; } TEE_Time;
typedef struct {
    uint32_t attributeID;
    union { struct { void *buffer; size_t length; } ref; struct { uint32_t a, b; } value; } content;
} TEE_Attribute;
typedef struct {
    uint32_t objectType; uint32_t objectSize; uint32_t maxObjectSize; uint32_t objectUsage;
    size_t dataSize; size_t dataPosition; uint32_t handleFlags;
} TEE_ObjectInfo;
typedef enum { TEE_DATA_SEEK_SET = 0, TEE_DATA_SEEK_CUR = 1, TEE_DATA_SEEK_END = 2 } TEE_Whence;
typedef struct __TEE_TASessionHandle *TEE_TASessionHandle;
typedef struct __TEE_PropSetHandle *TEE_PropSetHandle;
typedef struct __TEE_ObjectHandle *TEE_ObjectHandle;
typedef struct __TEE_ObjectEnumHandle *TEE_ObjectEnumHandle;

#define TEE_SUCCESS 0x00000000u
#define TEE_ERROR_CORRUPT_OBJECT 0xF0100001u
#define TEE_ERROR_STORAGE_NOT_AVAILABLE 0xF0100003u
#define TEE_ERROR_GENERIC 0xFFFF0000u
#define TEE_ERROR_ACCESS_DENIED 0xFFFF0001u
#define TEE_ERROR_CANCEL 0xFFFF0002u
#define TEE_ERROR_ACCESS_CONFLICT 0xFFFF0003u
#define TEE_ERROR_EXCESS_DATA 0xFFFF0004u
#define TEE_ERROR_BAD_FORMAT 0xFFFF0005u
#define TEE_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define TEE_ERROR_BAD_STATE 0xFFFF0007u
#define TEE_ERROR_ITEM_NOT_FOUND 0xFFFF0008u
#define TEE_ERROR_NOT_IMPLEMENTED 0xFFFF0009u
#define TEE_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define TEE_ERROR_NO_DATA 0xFFFF000Bu
#define TEE_ERROR_OUT_OF_MEMORY 0xFFFF000Cu
#define TEE_ERROR_BUSY 0xFFFF000Du
#define TEE_ERROR_COMMUNICATION 0xFFFF000Eu
#define TEE_ERROR_SECURITY 0xFFFF000Fu
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010u
#define TEE_ERROR_OVERFLOW 0xFFFF300Fu
#define TEE_ERROR_TARGET_DEAD 0xFFFF3024u
#define TEE_ERROR_STORAGE_NO_SPACE 0xFFFF3041u
#define TEE_ERROR_TIME_NOT_SET 0xFFFF5000u
#define TEE_ERROR_TIME_NEEDS_RESET 0xFFFF5001u

#define TEE_ORIGIN_API 1u
#define TEE_ORIGIN_COMMS 2u
#define TEE_ORIGIN_TEE 3u
#define TEE_ORIGIN_TRUSTED_APP 4u

#define TEE_PARAM_TYPE_NONE 0u
#define TEE_PARAM_TYPE_VALUE_INPUT 1u
#define TEE_PARAM_TYPE_VALUE_OUTPUT 2u
#define TEE_PARAM_TYPE_VALUE_INOUT 3u
#define TEE_PARAM_TYPE_MEMREF_INPUT 5u
#define TEE_PARAM_TYPE_MEMREF_OUTPUT 6u
#define TEE_PARAM_TYPE_MEMREF_INOUT 7u
#define TEE_PARAM_TYPE_GET(t, i) (((t) >> ((i) * 4)) & 0xF)

#define TEE_LOGIN_TRUSTED_APP 0xF0000000u
#define TEE_MEMORY_ACCESS_READ 0x1u
#define TEE_MEMORY_ACCESS_WRITE 0x2u
#define TEE_MEMORY_ACCESS_ANY_OWNER 0x4u
#define TEE_MALLOC_FILL_ZERO 0x0u
#define TEE_MALLOC_NO_FILL 0x1u
#define TEE_MALLOC_NO_SHARE 0x2u
#define TEE_TIMEOUT_INFINITE 0xFFFFFFFFu

#define TEE_PROPSET_TEE_IMPLEMENTATION ((TEE_PropSetHandle)(uintptr_t)0xFFFFFFFDu)
#define TEE_PROPSET_CURRENT_CLIENT ((TEE_PropSetHandle)(uintptr_t)0xFFFFFFFEu)
#define TEE_PROPSET_CURRENT_TA ((TEE_PropSetHandle)(uintptr_t)0xFFFFFFFFu)

#define TEE_STORAGE_PRIVATE 0x00000001u
#define TEE_STORAGE_PRIVATE_REE 0x80000000u
#define TEE_STORAGE_PRIVATE_RPMB 0x80000100u
#define TEE_DATA_FLAG_ACCESS_READ 0x1u
#define TEE_DATA_FLAG_ACCESS_WRITE 0x2u
#define TEE_DATA_FLAG_ACCESS_WRITE_META 0x4u
#define TEE_DATA_FLAG_SHARE_READ 0x10u
#define TEE_DATA_FLAG_SHARE_WRITE 0x20u
#define TEE_DATA_FLAG_OVERWRITE 0x400u
#define TEE_DATA_MAX_POSITION 0xFFFFFFFFu
#define TEE_OBJECT_ID_MAX_LEN 64u
#define TEE_HANDLE_FLAG_PERSISTENT 0x00010000u
#define TEE_HANDLE_FLAG_INITIALIZED 0x00020000u
#define TEE_TYPE_DATA 0xA00000BFu
#define TEE_TYPE_GENERIC_SECRET 0xA0000000u
#define TEE_USAGE_DEFAULT 0xFFFFFFFFu
#define TEE_ATTR_FLAG_PUBLIC (1u << 28)
#define TEE_ATTR_FLAG_VALUE (1u << 29)
#define TEE_ATTR_SECRET_VALUE 0xC0000000u

/* OP-TEE's user_ta_header.h property entry (24 bytes on LP64) and types. */
struct vteeta_ta_prop { const char *name; uint32_t type; const void *value; };
enum { PROP_BOOL = 0, PROP_U32 = 1, PROP_UUID = 2, PROP_IDENTITY = 3, PROP_STRING = 4, PROP_BINARY = 5, PROP_U64 = 6, PROP_INVALID = 7 };
/* OP-TEE's ta_head. */
struct vteeta_ta_head { TEE_UUID uuid; uint32_t stack_size; uint32_t flags; uint64_t depr_entry; };

/* GP entry points of the TA. */
typedef TEE_Result (*ta_create_fn)(void);
typedef void (*ta_destroy_fn)(void);
typedef TEE_Result (*ta_open_fn)(uint32_t, TEE_Param[4], void **);
typedef void (*ta_close_fn)(void *);
typedef TEE_Result (*ta_invoke_fn)(void *, uint32_t, uint32_t, TEE_Param[4]);

/* GP 1.1 param (COMPAT_1_1 TAs): the memref size is 32 bits. */
typedef union {
    struct { void *buffer; uint32_t size; } memref;
    struct { uint32_t a, b; } value;
} vteeta_gp11_param;
typedef TEE_Result (*ta_open11_fn)(uint32_t, vteeta_gp11_param[4], void **);
typedef TEE_Result (*ta_invoke11_fn)(void *, uint32_t, uint32_t, vteeta_gp11_param[4]);

/* Exported API (prototypes as the GP headers declare them). */
#define VTEETA_API __attribute__((visibility("default")))
VTEETA_API void TEE_Panic(TEE_Result code) __attribute__((noreturn));
#endif
