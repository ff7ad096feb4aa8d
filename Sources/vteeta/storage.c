/* libvteeta objects and trusted storage: transient objects (allocate, populate, generate,
 * attributes, copy, restrict, reset, free), persistent objects, their data streams and
 * enumerators. Object contents (keys) live in the secure world's crypto state (TACrypto, the
 * VTEE_REQ_CRYPTO_OBJ_* requests) and persistent handles, positions and the sharing rules in its
 * object store: a handle here names both. Results a function may not return by GP panic, as
 * OP-TEE's libutee does. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define OBJ_MAGIC 0x4f424a48u

/* A GP object handle of the TA. Its contents (type, sizes, usage, attributes: the key) live in
 * the secure world's crypto state under `key`; a persistent object also has a storage handle. */
struct obj {
    uint32_t magic;
    int persistent;
    uint32_t remote;          /* the secure world's storage handle (persistent objects) */
    uint32_t key;             /* the secure world's crypto object (every object) */
    uint32_t flags;           /* TEE_DATA_FLAG_* it was opened with */
};

static struct obj *objects[256];

static struct obj *obj_of(TEE_ObjectHandle h) {
    if (!h) return NULL;
    for (size_t i = 0; i < 256; i++) if (objects[i] && (void *)objects[i] == (void *)h && objects[i]->magic == OBJ_MAGIC) return objects[i];
    return NULL;
}

static struct obj *obj_new(void) {
    for (size_t i = 0; i < 256; i++) {
        if (objects[i]) continue;
        struct obj *o = calloc(1, sizeof *o);
        if (!o) return NULL;
        o->magic = OBJ_MAGIC;
        objects[i] = o;
        return o;
    }
    return NULL;
}

/* Drops the handle and the secure world's crypto object behind it. */
static void obj_free(struct obj *o) {
    if (o->key) { vt_ctl->req_args[0] = o->key; vt_request(VTEE_REQ_CRYPTO_OBJ_FREE); }
    for (size_t i = 0; i < 256; i++) if (objects[i] == o) objects[i] = NULL;
    o->magic = 0;
    free(o);
}

uint32_t vt_object_key(TEE_ObjectHandle h, int *persistent) {
    struct obj *o = obj_of(h);
    if (!o) return 0;
    if (persistent) *persistent = o->persistent;
    return o->key;
}

/* Result check as libutee does it: anything outside `allowed` panics. */
static TEE_Result allow(TEE_Result r, const TEE_Result *allowed, size_t n) {
    if (r == TEE_SUCCESS) return r;
    for (size_t i = 0; i < n; i++) if (allowed[i] == r) return r;
    TEE_Panic(r);
}
static void vt_must(TEE_Result r) { if (r != TEE_SUCCESS) TEE_Panic(r); }
#define ALLOW(r, ...) allow((r), (const TEE_Result[]){ __VA_ARGS__ }, sizeof((const TEE_Result[]){ __VA_ARGS__ }) / sizeof(TEE_Result))

/* MARK: attributes */

VTEETA_API void TEE_InitRefAttribute(TEE_Attribute *attr, uint32_t attributeID, const void *buffer, size_t length) {
    if (!attr || (attributeID & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    attr->attributeID = attributeID;
    attr->content.ref.buffer = (void *)(uintptr_t)buffer;
    attr->content.ref.length = length;
}

VTEETA_API void TEE_InitValueAttribute(TEE_Attribute *attr, uint32_t attributeID, uint32_t a, uint32_t b) {
    if (!attr || !(attributeID & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    attr->attributeID = attributeID;
    attr->content.value.a = a;
    attr->content.value.b = b;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

size_t vt_attrs_encode(const TEE_Attribute *attrs, uint32_t n, uint8_t *out, size_t cap) {
    if (n > 64 || (n && !attrs)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (cap < 4) return SIZE_MAX;
    put32(out, n);
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        int value = (attrs[i].attributeID & TEE_ATTR_FLAG_VALUE) != 0;
        size_t len = value ? 0 : attrs[i].content.ref.length;
        if (!value && len && !attrs[i].content.ref.buffer) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
        if (len > UINT32_MAX || cap - off < 16 || cap - off - 16 < len) return SIZE_MAX;
        put32(out + off, attrs[i].attributeID);
        put32(out + off + 4, value ? attrs[i].content.value.a : 0);
        put32(out + off + 8, value ? attrs[i].content.value.b : 0);
        put32(out + off + 12, (uint32_t)len);
        if (len) memcpy(out + off + 16, attrs[i].content.ref.buffer, len);
        off += 16 + len;
    }
    return off;
}

/* MARK: transient objects */

VTEETA_API TEE_Result TEE_AllocateTransientObject(uint32_t objectType, uint32_t maxObjectSize, TEE_ObjectHandle *object) {
    if (!object) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *object = NULL;
    if (objectType == TEE_TYPE_DATA) return TEE_ERROR_NOT_SUPPORTED;
    struct obj *o = obj_new();
    if (!o) return TEE_ERROR_OUT_OF_MEMORY;
    vt_ctl->req_args[0] = objectType;
    vt_ctl->req_args[1] = maxObjectSize;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_ALLOC), TEE_ERROR_NOT_SUPPORTED, TEE_ERROR_OUT_OF_MEMORY);
    if (r != TEE_SUCCESS) { obj_free(o); return r; }
    o->key = (uint32_t)vt_ctl->req_args[0];
    *object = (TEE_ObjectHandle)(void *)o;
    return TEE_SUCCESS;
}

static struct obj *transient_of(TEE_ObjectHandle object) {
    struct obj *o = obj_of(object);
    if (!o || o->persistent) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return o;
}

VTEETA_API void TEE_FreeTransientObject(TEE_ObjectHandle object) {
    if (!object) return;
    obj_free(transient_of(object));
}

VTEETA_API void TEE_ResetTransientObject(TEE_ObjectHandle object) {
    if (!object) return;
    struct obj *o = transient_of(object);
    vt_ctl->req_args[0] = o->key;
    vt_must(vt_request(VTEE_REQ_CRYPTO_OBJ_RESET));
}

VTEETA_API TEE_Result TEE_PopulateTransientObject(TEE_ObjectHandle object, const TEE_Attribute *attrs, uint32_t attrCount) {
    struct obj *o = transient_of(object);
    if (attrCount && !attrs) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (attrCount > 64) return TEE_ERROR_BAD_PARAMETERS;
    size_t n = vt_attrs_encode(attrs, attrCount, vt_req_area, VTEE_CH_REQ_BYTES);
    if (n == SIZE_MAX) return TEE_ERROR_BAD_PARAMETERS;
    vt_ctl->req_args[0] = o->key;
    vt_ctl->req_args[1] = n;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_POPULATE), TEE_ERROR_BAD_PARAMETERS);
}

VTEETA_API TEE_Result TEE_GenerateKey(TEE_ObjectHandle object, uint32_t keySize, const TEE_Attribute *params, uint32_t paramCount) {
    struct obj *o = transient_of(object);
    size_t n = vt_attrs_encode(params, paramCount, vt_req_area, VTEE_CH_REQ_BYTES);
    if (n == SIZE_MAX) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = o->key;
    vt_ctl->req_args[1] = keySize;
    vt_ctl->req_args[2] = n;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_GENERATE), TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_NOT_SUPPORTED, TEE_ERROR_OUT_OF_MEMORY);
}

VTEETA_API TEE_Result TEE_CopyObjectAttributes1(TEE_ObjectHandle destObject, TEE_ObjectHandle srcObject) {
    struct obj *d = transient_of(destObject), *s = obj_of(srcObject);
    if (!s) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = d->key;
    vt_ctl->req_args[1] = s->key;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_COPY), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

VTEETA_API void TEE_CopyObjectAttributes(TEE_ObjectHandle destObject, TEE_ObjectHandle srcObject) {
    TEE_Result r = TEE_CopyObjectAttributes1(destObject, srcObject);
    if (r != TEE_SUCCESS) TEE_Panic(r);
}

VTEETA_API TEE_Result TEE_RestrictObjectUsage1(TEE_ObjectHandle object, uint32_t objectUsage) {
    struct obj *o = obj_of(object);
    if (!o) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = o->key;
    vt_ctl->req_args[1] = objectUsage;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_RESTRICT), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

VTEETA_API void TEE_RestrictObjectUsage(TEE_ObjectHandle object, uint32_t objectUsage) {
    TEE_Result r = TEE_RestrictObjectUsage1(object, objectUsage);
    if (r != TEE_SUCCESS) TEE_Panic(r);
}

/* GP: a secret attribute of a non-extractable object, a wrong kind of attribute or an empty
 * object panic; a missing attribute is ITEM_NOT_FOUND; a short buffer reports the size. */
VTEETA_API TEE_Result TEE_GetObjectBufferAttribute(TEE_ObjectHandle object, uint32_t attributeID, void *buffer, size_t *size) {
    struct obj *o = obj_of(object);
    if (!o || !size || (attributeID & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t cap = buffer ? *size : 0;
    vt_ctl->req_args[0] = o->key;
    vt_ctl->req_args[1] = attributeID;
    vt_ctl->req_args[2] = 0;
    vt_ctl->req_args[3] = cap > VTEE_CH_REQ_BYTES ? VTEE_CH_REQ_BYTES : cap;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_GET_ATTR), TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_SHORT_BUFFER);
    if (r == TEE_ERROR_SHORT_BUFFER) { *size = (size_t)vt_ctl->req_args[2]; return r; }
    if (r != TEE_SUCCESS) return r;
    size_t n = (size_t)vt_ctl->req_args[1];
    if (n > cap) TEE_Panic(TEE_ERROR_COMMUNICATION);
    if (n) memcpy(buffer, vt_req_area, n);
    *size = n;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetObjectValueAttribute(TEE_ObjectHandle object, uint32_t attributeID, uint32_t *a, uint32_t *b) {
    struct obj *o = obj_of(object);
    if (!o || !(attributeID & TEE_ATTR_FLAG_VALUE)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = o->key;
    vt_ctl->req_args[1] = attributeID;
    vt_ctl->req_args[2] = 1;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_CRYPTO_OBJ_GET_ATTR), TEE_ERROR_ITEM_NOT_FOUND);
    if (r != TEE_SUCCESS) return r;
    if (a) *a = (uint32_t)vt_ctl->req_args[1];
    if (b) *b = (uint32_t)vt_ctl->req_args[2];
    return TEE_SUCCESS;
}

/* MARK: object info and closing */

VTEETA_API TEE_Result TEE_GetObjectInfo1(TEE_ObjectHandle object, TEE_ObjectInfo *objectInfo) {
    struct obj *o = obj_of(object);
    if (!o || !objectInfo) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    memset(objectInfo, 0, sizeof *objectInfo);
    vt_ctl->req_args[0] = o->key;
    vt_must(vt_request(VTEE_REQ_CRYPTO_OBJ_INFO));
    objectInfo->objectType = (uint32_t)vt_ctl->req_args[1];
    objectInfo->objectSize = (uint32_t)vt_ctl->req_args[2];
    objectInfo->maxObjectSize = (uint32_t)vt_ctl->req_args[3];
    objectInfo->objectUsage = (uint32_t)vt_ctl->req_args[4];
    if (vt_ctl->req_args[5]) objectInfo->handleFlags |= TEE_HANDLE_FLAG_INITIALIZED;
    if (o->persistent) {
        vt_ctl->req_args[0] = o->remote;
        TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_INFO), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
        if (r != TEE_SUCCESS) return r;
        objectInfo->dataSize = (size_t)vt_ctl->req_args[6];
        objectInfo->dataPosition = (size_t)vt_ctl->req_args[7];
        objectInfo->handleFlags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED | (o->flags & ~TEE_DATA_FLAG_OVERWRITE);
    }
    return TEE_SUCCESS;
}

VTEETA_API void TEE_GetObjectInfo(TEE_ObjectHandle object, TEE_ObjectInfo *objectInfo) {
    TEE_Result r = TEE_GetObjectInfo1(object, objectInfo);
    if (r != TEE_SUCCESS) TEE_Panic(r);
}

VTEETA_API void TEE_CloseObject(TEE_ObjectHandle object) {
    if (!object) return;
    struct obj *o = obj_of(object);
    if (!o) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (o->persistent) {
        vt_ctl->req_args[0] = o->remote;
        vt_request(VTEE_REQ_OBJ_CLOSE);
    }
    obj_free(o);
}

/* MARK: persistent objects */

static int storage_known(uint32_t id) {
    return id == TEE_STORAGE_PRIVATE || id == TEE_STORAGE_PRIVATE_REE;
}

#define VALID_FLAGS (TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE | TEE_DATA_FLAG_ACCESS_WRITE_META | \
                     TEE_DATA_FLAG_SHARE_READ | TEE_DATA_FLAG_SHARE_WRITE | TEE_DATA_FLAG_OVERWRITE)

VTEETA_API TEE_Result TEE_OpenPersistentObject(uint32_t storageID, const void *objectID, size_t objectIDLen, uint32_t flags,
                                               TEE_ObjectHandle *object) {
    if (!object || objectIDLen > TEE_OBJECT_ID_MAX_LEN || (objectIDLen && !objectID)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *object = NULL;
    if (flags & ~VALID_FLAGS) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!storage_known(storageID)) return TEE_ERROR_ITEM_NOT_FOUND;
    struct obj *o = obj_new();
    if (!o) return TEE_ERROR_OUT_OF_MEMORY;
    if (objectIDLen) memcpy(vt_req_area, objectID, objectIDLen);
    vt_ctl->req_args[0] = objectIDLen;
    vt_ctl->req_args[1] = flags & ~TEE_DATA_FLAG_OVERWRITE;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_OPEN), TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_ACCESS_CONFLICT,
                         TEE_ERROR_OUT_OF_MEMORY, TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
    if (r != TEE_SUCCESS) { obj_free(o); return r; }
    o->persistent = 1;
    o->remote = (uint32_t)vt_ctl->req_args[0];
    o->key = (uint32_t)vt_ctl->req_args[5];
    o->flags = flags;
    *object = (TEE_ObjectHandle)(void *)o;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_CreatePersistentObject(uint32_t storageID, const void *objectID, size_t objectIDLen, uint32_t flags,
                                                 TEE_ObjectHandle attributes, const void *initialData, size_t initialDataLen,
                                                 TEE_ObjectHandle *object) {
    if (objectIDLen > TEE_OBJECT_ID_MAX_LEN || (objectIDLen && !objectID) || (initialDataLen && !initialData))
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (object) *object = NULL;
    if (flags & ~VALID_FLAGS) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct obj *src = NULL;
    if (attributes) {
        src = obj_of(attributes);
        if (!src) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
        vt_ctl->req_args[0] = src->key;
        vt_must(vt_request(VTEE_REQ_CRYPTO_OBJ_INFO));
        if (!vt_ctl->req_args[5]) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    }
    if (!storage_known(storageID)) return TEE_ERROR_ITEM_NOT_FOUND;
    if (initialDataLen > VTEE_CH_REQ_BYTES - objectIDLen) return TEE_ERROR_OUT_OF_MEMORY;
    struct obj *o = obj_new();
    if (!o) return TEE_ERROR_OUT_OF_MEMORY;
    if (objectIDLen) memcpy(vt_req_area, objectID, objectIDLen);
    if (initialDataLen) memcpy(vt_req_area + objectIDLen, initialData, initialDataLen);
    vt_ctl->req_args[0] = objectIDLen; vt_ctl->req_args[1] = flags;
    vt_ctl->req_args[2] = src ? src->key : 0; vt_ctl->req_args[3] = initialDataLen;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_CREATE), TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_ACCESS_CONFLICT,
                         TEE_ERROR_OUT_OF_MEMORY, TEE_ERROR_STORAGE_NO_SPACE, TEE_ERROR_CORRUPT_OBJECT,
                         TEE_ERROR_STORAGE_NOT_AVAILABLE);
    if (r != TEE_SUCCESS) { obj_free(o); return r; }
    o->persistent = 1;
    o->remote = (uint32_t)vt_ctl->req_args[0];
    o->key = (uint32_t)vt_ctl->req_args[1];
    o->flags = flags;
    if (object) *object = (TEE_ObjectHandle)(void *)o;
    else TEE_CloseObject((TEE_ObjectHandle)(void *)o);
    return TEE_SUCCESS;
}

static struct obj *persistent_of(TEE_ObjectHandle h) {
    struct obj *o = obj_of(h);
    if (!o || !o->persistent) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return o;
}

VTEETA_API TEE_Result TEE_CloseAndDeletePersistentObject1(TEE_ObjectHandle object) {
    if (!object) return TEE_SUCCESS;
    struct obj *o = persistent_of(object);
    if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE_META)) TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
    vt_ctl->req_args[0] = o->remote;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_DELETE), TEE_ERROR_STORAGE_NOT_AVAILABLE);
    if (r == TEE_SUCCESS) obj_free(o);
    return r;
}

VTEETA_API void TEE_CloseAndDeletePersistentObject(TEE_ObjectHandle object) {
    TEE_Result r = TEE_CloseAndDeletePersistentObject1(object);
    if (r != TEE_SUCCESS) TEE_Panic(r);
}

VTEETA_API TEE_Result TEE_RenamePersistentObject(TEE_ObjectHandle object, const void *newObjectID, size_t newObjectIDLen) {
    struct obj *o = persistent_of(object);
    if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE_META)) TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
    if (newObjectIDLen > TEE_OBJECT_ID_MAX_LEN || (newObjectIDLen && !newObjectID)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (newObjectIDLen) memcpy(vt_req_area, newObjectID, newObjectIDLen);
    vt_ctl->req_args[0] = o->remote;
    vt_ctl->req_args[1] = newObjectIDLen;
    return ALLOW(vt_request(VTEE_REQ_OBJ_RENAME), TEE_ERROR_ACCESS_CONFLICT, TEE_ERROR_CORRUPT_OBJECT,
                 TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

/* MARK: data streams */

VTEETA_API TEE_Result TEE_ReadObjectData(TEE_ObjectHandle object, void *buffer, size_t size, size_t *count) {
    struct obj *o = persistent_of(object);
    if (!count || (size && !buffer)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!(o->flags & TEE_DATA_FLAG_ACCESS_READ)) TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
    *count = 0;
    uint8_t *out = buffer;
    do {
        size_t chunk = size - *count > VTEE_CH_REQ_BYTES ? VTEE_CH_REQ_BYTES : size - *count;
        vt_ctl->req_args[0] = o->remote;
        vt_ctl->req_args[1] = chunk;
        TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_READ), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
        if (r != TEE_SUCCESS) return r;
        size_t got = (size_t)vt_ctl->req_args[1];
        if (got > chunk) TEE_Panic(TEE_ERROR_COMMUNICATION);
        if (got) memcpy(out + *count, vt_req_area, got);
        *count += got;
        if (got < chunk) break;
    } while (*count < size);
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_WriteObjectData(TEE_ObjectHandle object, const void *buffer, size_t size) {
    struct obj *o = persistent_of(object);
    if (size && !buffer) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE)) TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
    const uint8_t *in = buffer;
    size_t done = 0;
    do {
        size_t chunk = size - done > VTEE_CH_REQ_BYTES ? VTEE_CH_REQ_BYTES : size - done;
        if (chunk) memcpy(vt_req_area, in + done, chunk);
        vt_ctl->req_args[0] = o->remote;
        vt_ctl->req_args[1] = chunk;
        TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_WRITE), TEE_ERROR_STORAGE_NO_SPACE, TEE_ERROR_OVERFLOW,
                             TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
        if (r != TEE_SUCCESS) return r;
        done += chunk;
    } while (done < size);
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_TruncateObjectData(TEE_ObjectHandle object, size_t size) {
    struct obj *o = persistent_of(object);
    if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE)) TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
    vt_ctl->req_args[0] = o->remote;
    vt_ctl->req_args[1] = size;
    return ALLOW(vt_request(VTEE_REQ_OBJ_TRUNC), TEE_ERROR_STORAGE_NO_SPACE, TEE_ERROR_CORRUPT_OBJECT,
                 TEE_ERROR_STORAGE_NOT_AVAILABLE, TEE_ERROR_OVERFLOW);
}

VTEETA_API TEE_Result TEE_SeekObjectData(TEE_ObjectHandle object, intmax_t offset, TEE_Whence whence) {
    struct obj *o = persistent_of(object);
    if ((uint32_t)whence > TEE_DATA_SEEK_END) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = o->remote;
    vt_ctl->req_args[1] = (uint64_t)offset;
    vt_ctl->req_args[2] = (uint64_t)whence;
    return ALLOW(vt_request(VTEE_REQ_OBJ_SEEK), TEE_ERROR_OVERFLOW, TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

/* MARK: enumerators */

struct oenum { uint32_t magic; int started; uint32_t count, next; uint8_t *ids; size_t len, pos; };
#define OENUM_MAGIC 0x4f454e55u
static struct oenum *oenums[64];

static struct oenum *oenum_of(TEE_ObjectEnumHandle h) {
    for (size_t i = 0; i < 64; i++) if (oenums[i] && (void *)oenums[i] == (void *)h) return oenums[i];
    TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
}

VTEETA_API TEE_Result TEE_AllocatePersistentObjectEnumerator(TEE_ObjectEnumHandle *objectEnumerator) {
    if (!objectEnumerator) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    for (size_t i = 0; i < 64; i++) {
        if (oenums[i]) continue;
        struct oenum *e = calloc(1, sizeof *e);
        if (!e) return TEE_ERROR_OUT_OF_MEMORY;
        e->magic = OENUM_MAGIC;
        oenums[i] = e;
        *objectEnumerator = (TEE_ObjectEnumHandle)(void *)e;
        return TEE_SUCCESS;
    }
    return TEE_ERROR_OUT_OF_MEMORY;
}

VTEETA_API void TEE_ResetPersistentObjectEnumerator(TEE_ObjectEnumHandle objectEnumerator) {
    if (!objectEnumerator) return;
    struct oenum *e = oenum_of(objectEnumerator);
    free(e->ids);
    e->ids = NULL; e->started = 0; e->count = e->next = 0; e->len = e->pos = 0;
}

VTEETA_API void TEE_FreePersistentObjectEnumerator(TEE_ObjectEnumHandle objectEnumerator) {
    if (!objectEnumerator) return;
    struct oenum *e = oenum_of(objectEnumerator);
    TEE_ResetPersistentObjectEnumerator(objectEnumerator);
    for (size_t i = 0; i < 64; i++) if (oenums[i] == e) oenums[i] = NULL;
    e->magic = 0;
    free(e);
}

VTEETA_API TEE_Result TEE_StartPersistentObjectEnumerator(TEE_ObjectEnumHandle objectEnumerator, uint32_t storageID) {
    struct oenum *e = oenum_of(objectEnumerator);
    TEE_ResetPersistentObjectEnumerator(objectEnumerator);
    if (!storage_known(storageID)) return TEE_ERROR_ITEM_NOT_FOUND;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_LIST), TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_CORRUPT_OBJECT,
                         TEE_ERROR_STORAGE_NOT_AVAILABLE, TEE_ERROR_OUT_OF_MEMORY);
    if (r != TEE_SUCCESS) return r;
    uint64_t count = vt_ctl->req_args[0], len = vt_ctl->req_args[1];
    if (len > VTEE_CH_REQ_BYTES) TEE_Panic(TEE_ERROR_COMMUNICATION);
    if (count == 0) return TEE_ERROR_ITEM_NOT_FOUND;
    e->ids = malloc(len ? len : 1);
    if (!e->ids) return TEE_ERROR_OUT_OF_MEMORY;
    memcpy(e->ids, vt_req_area, len);
    e->len = len; e->count = (uint32_t)count; e->started = 1;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetNextPersistentObject(TEE_ObjectEnumHandle objectEnumerator, TEE_ObjectInfo *objectInfo,
                                                  void *objectID, size_t *objectIDLen) {
    struct oenum *e = oenum_of(objectEnumerator);
    if (!objectID || !objectIDLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    for (;;) {
        if (!e->started || e->pos >= e->len) return TEE_ERROR_ITEM_NOT_FOUND;
        size_t n = e->ids[e->pos];
        if (n > e->len - e->pos - 1) return TEE_ERROR_ITEM_NOT_FOUND;
        const uint8_t *id = e->ids + e->pos + 1;
        e->pos += 1 + n;
        memcpy(vt_req_area, id, n);
        vt_ctl->req_args[0] = n;
        TEE_Result r = vt_request(VTEE_REQ_OBJ_PEEK);
        if (r == TEE_ERROR_ITEM_NOT_FOUND) continue; /* deleted since the enumeration started */
        r = ALLOW(r, TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
        if (r != TEE_SUCCESS) return r;
        if (objectInfo) {
            memset(objectInfo, 0, sizeof *objectInfo);
            objectInfo->objectType = (uint32_t)vt_ctl->req_args[1];
            objectInfo->objectSize = (uint32_t)vt_ctl->req_args[2];
            objectInfo->maxObjectSize = (uint32_t)vt_ctl->req_args[3];
            objectInfo->objectUsage = (uint32_t)vt_ctl->req_args[4];
            objectInfo->dataSize = (size_t)vt_ctl->req_args[6];
            objectInfo->handleFlags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED;
        }
        memcpy(objectID, id, n);
        *objectIDLen = n;
        return TEE_SUCCESS;
    }
}
