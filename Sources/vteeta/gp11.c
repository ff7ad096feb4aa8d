/* libvteeta: the GP 1.1 shapes (__GP11_*) that a TA built with CFG_TA_OPTEE_CORE_API_COMPAT_1_1
 * calls (sizes as uint32_t, the 1.1 TEE_Param, TEE_Attribute and TEE_ObjectInfo), each a thin
 * conversion around the 1.3 function, plus TEE_GenerateRandom, which TAs call even without
 * cryptography. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <sys/random.h>

typedef struct { uint32_t attributeID; union { struct { void *buffer; uint32_t length; } ref; struct { uint32_t a, b; } value; } content; } gp11_attr;
typedef struct { uint32_t objectType, objectSize, maxObjectSize, objectUsage, dataSize, dataPosition, handleFlags; } gp11_info;

/* 1.3 functions this file wraps. */
TEE_Result TEE_GetPropertyAsString(TEE_PropSetHandle, const char *, char *, size_t *);
TEE_Result TEE_GetPropertyAsBinaryBlock(TEE_PropSetHandle, const char *, void *, size_t *);
TEE_Result TEE_GetPropertyName(TEE_PropSetHandle, void *, size_t *);
TEE_Result TEE_OpenTASession(const TEE_UUID *, uint32_t, uint32_t, TEE_Param *, TEE_TASessionHandle *, uint32_t *);
TEE_Result TEE_InvokeTACommand(TEE_TASessionHandle, uint32_t, uint32_t, uint32_t, TEE_Param *, uint32_t *);
TEE_Result TEE_CheckMemoryAccessRights(uint32_t, void *, size_t);
void *TEE_Malloc(size_t, uint32_t);
void *TEE_Realloc(void *, size_t);
int32_t TEE_MemCompare(const void *, const void *, size_t);
void TEE_MemFill(void *, uint32_t, size_t);
void *TEE_MemMove(void *, const void *, size_t);
TEE_Result TEE_AllocateTransientObject(uint32_t, uint32_t, TEE_ObjectHandle *);
TEE_Result TEE_PopulateTransientObject(TEE_ObjectHandle, const TEE_Attribute *, uint32_t);
TEE_Result TEE_CreatePersistentObject(uint32_t, const void *, size_t, uint32_t, TEE_ObjectHandle, const void *, size_t, TEE_ObjectHandle *);
TEE_Result TEE_OpenPersistentObject(uint32_t, const void *, size_t, uint32_t, TEE_ObjectHandle *);
TEE_Result TEE_GetNextPersistentObject(TEE_ObjectEnumHandle, TEE_ObjectInfo *, void *, size_t *);
TEE_Result TEE_GetObjectBufferAttribute(TEE_ObjectHandle, uint32_t, void *, size_t *);
TEE_Result TEE_GetObjectInfo1(TEE_ObjectHandle, TEE_ObjectInfo *);
TEE_Result TEE_ReadObjectData(TEE_ObjectHandle, void *, size_t, size_t *);
TEE_Result TEE_RenamePersistentObject(TEE_ObjectHandle, const void *, size_t);
TEE_Result TEE_SeekObjectData(TEE_ObjectHandle, intmax_t, TEE_Whence);
TEE_Result TEE_TruncateObjectData(TEE_ObjectHandle, size_t);
TEE_Result TEE_WriteObjectData(TEE_ObjectHandle, const void *, size_t);

/* A size_t result that does not fit the 1.1 uint32_t is SHORT_BUFFER-like: report the max. */
static uint32_t narrow(size_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

VTEETA_API TEE_Result __GP11_TEE_GetPropertyAsString(TEE_PropSetHandle h, const char *name, char *buf, uint32_t *len) {
    if (!len) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t l = *len;
    TEE_Result r = TEE_GetPropertyAsString(h, name, buf, &l);
    *len = narrow(l);
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_GetPropertyAsBinaryBlock(TEE_PropSetHandle h, const char *name, void *buf, uint32_t *len) {
    if (!len) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t l = *len;
    TEE_Result r = TEE_GetPropertyAsBinaryBlock(h, name, buf, &l);
    *len = narrow(l);
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_GetPropertyName(TEE_PropSetHandle e, void *buf, uint32_t *len) {
    if (!len) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t l = *len;
    TEE_Result r = TEE_GetPropertyName(e, buf, &l);
    *len = narrow(l);
    return r;
}

static void params_up(uint32_t types, const vteeta_gp11_param *in, TEE_Param *out) {
    memset(out, 0, 4 * sizeof *out);
    for (int i = 0; i < 4; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(types, i);
        if (t >= TEE_PARAM_TYPE_MEMREF_INPUT) { out[i].memref.buffer = in[i].memref.buffer; out[i].memref.size = in[i].memref.size; }
        else if (t != TEE_PARAM_TYPE_NONE) { out[i].value.a = in[i].value.a; out[i].value.b = in[i].value.b; }
    }
}

static void params_down(uint32_t types, const TEE_Param *in, vteeta_gp11_param *out) {
    for (int i = 0; i < 4; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(types, i);
        if (t >= TEE_PARAM_TYPE_MEMREF_INPUT) out[i].memref.size = narrow(in[i].memref.size);
        else if (t != TEE_PARAM_TYPE_NONE) { out[i].value.a = in[i].value.a; out[i].value.b = in[i].value.b; }
    }
}

VTEETA_API TEE_Result __GP11_TEE_OpenTASession(const TEE_UUID *dest, uint32_t timeout, uint32_t types, vteeta_gp11_param params[4],
                                               TEE_TASessionHandle *session, uint32_t *origin) {
    TEE_Param p[4];
    if (params) params_up(types, params, p);
    TEE_Result r = TEE_OpenTASession(dest, timeout, types, params ? p : NULL, session, origin);
    if (params) params_down(types, p, params);
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_InvokeTACommand(TEE_TASessionHandle session, uint32_t timeout, uint32_t cmd, uint32_t types,
                                                 vteeta_gp11_param params[4], uint32_t *origin) {
    TEE_Param p[4];
    if (params) params_up(types, params, p);
    TEE_Result r = TEE_InvokeTACommand(session, timeout, cmd, types, params ? p : NULL, origin);
    if (params) params_down(types, p, params);
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_CheckMemoryAccessRights(uint32_t flags, void *buffer, uint32_t size) {
    return TEE_CheckMemoryAccessRights(flags, buffer, size);
}
VTEETA_API void *__GP11_TEE_Malloc(uint32_t size, uint32_t hint) { return TEE_Malloc(size, hint); }
VTEETA_API void *__GP11_TEE_Realloc(void *buffer, uint32_t size) { return TEE_Realloc(buffer, size); }
VTEETA_API int32_t __GP11_TEE_MemCompare(const void *a, const void *b, uint32_t size) { return TEE_MemCompare(a, b, size); }
VTEETA_API void __GP11_TEE_MemFill(void *buff, uint32_t x, uint32_t size) { TEE_MemFill(buff, x, size); }
VTEETA_API void *__GP11_TEE_MemMove(void *dest, const void *src, uint32_t size) { return TEE_MemMove(dest, src, size); }

VTEETA_API TEE_Result __GP11_TEE_AllocateTransientObject(uint32_t type, uint32_t maxKeySize, TEE_ObjectHandle *object) {
    return TEE_AllocateTransientObject(type, maxKeySize, object);
}

VTEETA_API TEE_Result __GP11_TEE_PopulateTransientObject(TEE_ObjectHandle object, const gp11_attr *attrs, uint32_t n) {
    if (n > 64) return TEE_ERROR_BAD_PARAMETERS;
    if (n && !attrs) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_Attribute a[64];
    for (uint32_t i = 0; i < n; i++) {
        a[i].attributeID = attrs[i].attributeID;
        if (attrs[i].attributeID & TEE_ATTR_FLAG_VALUE) { a[i].content.value.a = attrs[i].content.value.a; a[i].content.value.b = attrs[i].content.value.b; }
        else { a[i].content.ref.buffer = attrs[i].content.ref.buffer; a[i].content.ref.length = attrs[i].content.ref.length; }
    }
    return TEE_PopulateTransientObject(object, a, n);
}

VTEETA_API void __GP11_TEE_InitRefAttribute(gp11_attr *attr, uint32_t id, const void *buffer, uint32_t length) {
    if (!attr || (id & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    attr->attributeID = id;
    attr->content.ref.buffer = (void *)(uintptr_t)buffer;
    attr->content.ref.length = length;
}

VTEETA_API void __GP11_TEE_InitValueAttribute(gp11_attr *attr, uint32_t id, uint32_t a, uint32_t b) {
    if (!attr || !(id & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    attr->attributeID = id;
    attr->content.value.a = a;
    attr->content.value.b = b;
}

VTEETA_API TEE_Result __GP11_TEE_CreatePersistentObject(uint32_t storageID, const void *id, uint32_t idLen, uint32_t flags,
                                                        TEE_ObjectHandle attributes, const void *data, uint32_t dataLen,
                                                        TEE_ObjectHandle *object) {
    return TEE_CreatePersistentObject(storageID, id, idLen, flags, attributes, data, dataLen, object);
}

VTEETA_API TEE_Result __GP11_TEE_OpenPersistentObject(uint32_t storageID, const void *id, uint32_t idLen, uint32_t flags,
                                                      TEE_ObjectHandle *object) {
    return TEE_OpenPersistentObject(storageID, id, idLen, flags, object);
}

static void info_down(const TEE_ObjectInfo *in, gp11_info *out) {
    out->objectType = in->objectType; out->objectSize = in->objectSize; out->maxObjectSize = in->maxObjectSize;
    out->objectUsage = in->objectUsage; out->dataSize = narrow(in->dataSize); out->dataPosition = narrow(in->dataPosition);
    out->handleFlags = in->handleFlags;
}

VTEETA_API TEE_Result __GP11_TEE_GetNextPersistentObject(TEE_ObjectEnumHandle e, gp11_info *info, void *id, uint32_t *idLen) {
    if (!idLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_ObjectInfo i;
    size_t l = *idLen;
    TEE_Result r = TEE_GetNextPersistentObject(e, info ? &i : NULL, id, &l);
    if (r == TEE_SUCCESS) { *idLen = narrow(l); if (info) info_down(&i, info); }
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_GetObjectBufferAttribute(TEE_ObjectHandle object, uint32_t id, void *buffer, uint32_t *size) {
    if (!size) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t l = *size;
    TEE_Result r = TEE_GetObjectBufferAttribute(object, id, buffer, &l);
    *size = narrow(l);
    return r;
}

VTEETA_API void __GP11_TEE_GetObjectInfo(TEE_ObjectHandle object, gp11_info *info) {
    TEE_ObjectInfo i;
    TEE_Result r = TEE_GetObjectInfo1(object, &i);
    if (r != TEE_SUCCESS) TEE_Panic(r);
    if (info) info_down(&i, info);
}

VTEETA_API TEE_Result __GP11_TEE_ReadObjectData(TEE_ObjectHandle object, void *buffer, uint32_t size, uint32_t *count) {
    if (!count) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t c = 0;
    TEE_Result r = TEE_ReadObjectData(object, buffer, size, &c);
    *count = narrow(c);
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_RenamePersistentObject(TEE_ObjectHandle object, const void *id, uint32_t idLen) {
    return TEE_RenamePersistentObject(object, id, idLen);
}
VTEETA_API TEE_Result __GP11_TEE_SeekObjectData(TEE_ObjectHandle object, int32_t offset, TEE_Whence whence) {
    return TEE_SeekObjectData(object, offset, whence);
}
VTEETA_API TEE_Result __GP11_TEE_TruncateObjectData(TEE_ObjectHandle object, uint32_t size) { return TEE_TruncateObjectData(object, size); }
VTEETA_API TEE_Result __GP11_TEE_WriteObjectData(TEE_ObjectHandle object, const void *buffer, uint32_t size) {
    return TEE_WriteObjectData(object, buffer, size);
}

VTEETA_API void TEE_GenerateRandom(void *randomBuffer, size_t randomBufferLen) {
    if (randomBufferLen && !randomBuffer) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    uint8_t *p = randomBuffer;
    size_t done = 0;
    while (done < randomBufferLen) {
        ssize_t n = getrandom(p + done, randomBufferLen - done, 0);
        if (n <= 0) TEE_Panic(TEE_ERROR_GENERIC);
        done += (size_t)n;
    }
}
VTEETA_API void __GP11_TEE_GenerateRandom(void *randomBuffer, uint32_t randomBufferLen) { TEE_GenerateRandom(randomBuffer, randomBufferLen); }
