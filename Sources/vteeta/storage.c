/* libvteeta trusted storage: transient objects (as far as storage needs them: allocate,
 * populate, attributes, copy, restrict, reset, free), persistent objects, their data streams
 * and enumerators. Persistent handles, positions and the sharing rules live in the secure
 * world (requests over the channel); a handle here caches the object's attributes. Results a
 * function may not return by GP panic, as OP-TEE's libutee does. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define TEE_USAGE_EXTRACTABLE 0x00000001u
#define OBJ_MAGIC 0x4f424a48u

struct attr { uint32_t id, a, b; uint32_t len; uint8_t *buf; };
struct obj {
    uint32_t magic;
    int persistent;
    uint32_t remote;          /* the secure world's handle (persistent objects) */
    uint32_t flags;           /* TEE_DATA_FLAG_* it was opened with */
    TEE_ObjectInfo info;
    struct attr *attrs;
    uint32_t nattrs;
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

static void attrs_clear(struct obj *o) {
    for (uint32_t i = 0; i < o->nattrs; i++) { if (o->attrs[i].buf) memset(o->attrs[i].buf, 0, o->attrs[i].len); free(o->attrs[i].buf); }
    free(o->attrs);
    o->attrs = NULL; o->nattrs = 0;
}

static void obj_free(struct obj *o) {
    attrs_clear(o);
    for (size_t i = 0; i < 256; i++) if (objects[i] == o) objects[i] = NULL;
    o->magic = 0;
    free(o);
}

/* Result check as libutee does it: anything outside `allowed` panics. */
static TEE_Result allow(TEE_Result r, const TEE_Result *allowed, size_t n) {
    if (r == TEE_SUCCESS) return r;
    for (size_t i = 0; i < n; i++) if (allowed[i] == r) return r;
    TEE_Panic(r);
}
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

static int attrs_set(struct obj *o, const TEE_Attribute *attrs, uint32_t n) {
    struct attr *list = calloc(n ? n : 1, sizeof *list);
    if (!list) return 0;
    for (uint32_t i = 0; i < n; i++) {
        list[i].id = attrs[i].attributeID;
        if (attrs[i].attributeID & TEE_ATTR_FLAG_VALUE) {
            list[i].a = attrs[i].content.value.a; list[i].b = attrs[i].content.value.b;
        } else {
            size_t len = attrs[i].content.ref.length;
            if (len > UINT32_MAX || (len && !attrs[i].content.ref.buffer)) { o->attrs = list; o->nattrs = i; return 0; }
            list[i].len = (uint32_t)len;
            list[i].buf = malloc(len ? len : 1);
            if (!list[i].buf) { o->attrs = list; o->nattrs = i; return 0; }
            if (len) memcpy(list[i].buf, attrs[i].content.ref.buffer, len);
        }
    }
    attrs_clear(o);
    o->attrs = list; o->nattrs = n;
    return 1;
}

static struct attr *attr_find(struct obj *o, uint32_t id) {
    for (uint32_t i = 0; i < o->nattrs; i++) if (o->attrs[i].id == id) return &o->attrs[i];
    return NULL;
}

/* Serialized attributes (opaque to the secure world): count, then {id, a, b, len, bytes}. */
static size_t attrs_size(const struct obj *o) {
    size_t n = 4;
    for (uint32_t i = 0; i < o->nattrs; i++) n += 16 + o->attrs[i].len;
    return n;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void attrs_write(const struct obj *o, uint8_t *out) {
    put32(out, o->nattrs);
    size_t off = 4;
    for (uint32_t i = 0; i < o->nattrs; i++) {
        put32(out + off, o->attrs[i].id); put32(out + off + 4, o->attrs[i].a);
        put32(out + off + 8, o->attrs[i].b); put32(out + off + 12, o->attrs[i].len);
        if (o->attrs[i].len) memcpy(out + off + 16, o->attrs[i].buf, o->attrs[i].len);
        off += 16 + o->attrs[i].len;
    }
}

static int attrs_read(struct obj *o, const uint8_t *in, size_t n) {
    if (n < 4) return n == 0;
    uint32_t count = get32(in);
    if (count > 64) return 0;
    TEE_Attribute tmp[64];
    size_t off = 4;
    for (uint32_t i = 0; i < count; i++) {
        if (n - off < 16) return 0;
        uint32_t len = get32(in + off + 12);
        if (n - off - 16 < len) return 0;
        tmp[i].attributeID = get32(in + off);
        if (tmp[i].attributeID & TEE_ATTR_FLAG_VALUE) { tmp[i].content.value.a = get32(in + off + 4); tmp[i].content.value.b = get32(in + off + 8); }
        else { tmp[i].content.ref.buffer = (void *)(uintptr_t)(in + off + 16); tmp[i].content.ref.length = len; }
        off += 16 + len;
    }
    return attrs_set(o, tmp, count);
}

/* MARK: transient objects */

VTEETA_API TEE_Result TEE_AllocateTransientObject(uint32_t objectType, uint32_t maxObjectSize, TEE_ObjectHandle *object) {
    if (!object) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *object = NULL;
    if (objectType == TEE_TYPE_DATA) return TEE_ERROR_NOT_SUPPORTED;
    struct obj *o = obj_new();
    if (!o) return TEE_ERROR_OUT_OF_MEMORY;
    o->info.objectType = objectType;
    o->info.maxObjectSize = maxObjectSize;
    o->info.objectUsage = TEE_USAGE_DEFAULT;
    *object = (TEE_ObjectHandle)(void *)o;
    return TEE_SUCCESS;
}

VTEETA_API void TEE_FreeTransientObject(TEE_ObjectHandle object) {
    if (!object) return;
    struct obj *o = obj_of(object);
    if (!o || o->persistent) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    obj_free(o);
}

VTEETA_API void TEE_ResetTransientObject(TEE_ObjectHandle object) {
    if (!object) return;
    struct obj *o = obj_of(object);
    if (!o || o->persistent) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    attrs_clear(o);
    o->info.handleFlags &= ~TEE_HANDLE_FLAG_INITIALIZED;
    o->info.objectSize = 0;
}

VTEETA_API TEE_Result TEE_PopulateTransientObject(TEE_ObjectHandle object, const TEE_Attribute *attrs, uint32_t attrCount) {
    struct obj *o = obj_of(object);
    if (!o || o->persistent || (o->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (attrCount && !attrs) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (attrCount > 64) return TEE_ERROR_BAD_PARAMETERS;
    uint32_t size = 0;
    for (uint32_t i = 0; i < attrCount; i++)
        if (attrs[i].attributeID == TEE_ATTR_SECRET_VALUE) {
            if (attrs[i].content.ref.length * 8 > o->info.maxObjectSize) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
            size = (uint32_t)attrs[i].content.ref.length * 8;
        }
    if (!attrs_set(o, attrs, attrCount)) return TEE_ERROR_OUT_OF_MEMORY;
    o->info.objectSize = size;
    o->info.handleFlags |= TEE_HANDLE_FLAG_INITIALIZED;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_CopyObjectAttributes1(TEE_ObjectHandle destObject, TEE_ObjectHandle srcObject) {
    struct obj *d = obj_of(destObject), *s = obj_of(srcObject);
    if (!d || !s || d->persistent || (d->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED) ||
        !(s->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (d->info.objectType != s->info.objectType && s->info.objectType != TEE_TYPE_DATA) return TEE_ERROR_BAD_PARAMETERS;
    if (s->info.objectSize > d->info.maxObjectSize) return TEE_ERROR_BAD_PARAMETERS;
    TEE_Attribute tmp[64];
    uint32_t n = s->nattrs > 64 ? 64 : s->nattrs;
    for (uint32_t i = 0; i < n; i++) {
        tmp[i].attributeID = s->attrs[i].id;
        if (s->attrs[i].id & TEE_ATTR_FLAG_VALUE) { tmp[i].content.value.a = s->attrs[i].a; tmp[i].content.value.b = s->attrs[i].b; }
        else { tmp[i].content.ref.buffer = s->attrs[i].buf; tmp[i].content.ref.length = s->attrs[i].len; }
    }
    if (!attrs_set(d, tmp, n)) return TEE_ERROR_OUT_OF_MEMORY;
    d->info.objectSize = s->info.objectSize;
    d->info.objectUsage &= s->info.objectUsage;
    d->info.handleFlags |= TEE_HANDLE_FLAG_INITIALIZED;
    return TEE_SUCCESS;
}

VTEETA_API void TEE_CopyObjectAttributes(TEE_ObjectHandle destObject, TEE_ObjectHandle srcObject) {
    TEE_Result r = TEE_CopyObjectAttributes1(destObject, srcObject);
    if (r != TEE_SUCCESS) TEE_Panic(r);
}

VTEETA_API TEE_Result TEE_RestrictObjectUsage1(TEE_ObjectHandle object, uint32_t objectUsage) {
    struct obj *o = obj_of(object);
    if (!o) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    o->info.objectUsage &= objectUsage;
    return TEE_SUCCESS;
}

VTEETA_API void TEE_RestrictObjectUsage(TEE_ObjectHandle object, uint32_t objectUsage) {
    (void)TEE_RestrictObjectUsage1(object, objectUsage);
}

VTEETA_API TEE_Result TEE_GetObjectBufferAttribute(TEE_ObjectHandle object, uint32_t attributeID, void *buffer, size_t *size) {
    struct obj *o = obj_of(object);
    if (!o || !size || !(o->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED) || (attributeID & TEE_ATTR_FLAG_VALUE))
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!(attributeID & TEE_ATTR_FLAG_PUBLIC) && !(o->info.objectUsage & TEE_USAGE_EXTRACTABLE)) TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    struct attr *a = attr_find(o, attributeID);
    if (!a) return TEE_ERROR_ITEM_NOT_FOUND;
    if (!buffer || *size < a->len) { *size = a->len; return TEE_ERROR_SHORT_BUFFER; }
    if (a->len) memcpy(buffer, a->buf, a->len);
    *size = a->len;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetObjectValueAttribute(TEE_ObjectHandle object, uint32_t attributeID, uint32_t *a, uint32_t *b) {
    struct obj *o = obj_of(object);
    if (!o || !(o->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED) || !(attributeID & TEE_ATTR_FLAG_VALUE))
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!(attributeID & TEE_ATTR_FLAG_PUBLIC) && !(o->info.objectUsage & TEE_USAGE_EXTRACTABLE)) TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    struct attr *at = attr_find(o, attributeID);
    if (!at) return TEE_ERROR_ITEM_NOT_FOUND;
    if (a) *a = at->a;
    if (b) *b = at->b;
    return TEE_SUCCESS;
}

/* MARK: object info and closing */

VTEETA_API TEE_Result TEE_GetObjectInfo1(TEE_ObjectHandle object, TEE_ObjectInfo *objectInfo) {
    struct obj *o = obj_of(object);
    if (!o || !objectInfo) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (o->persistent) {
        vt_ctl->req_args[0] = o->remote;
        TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_INFO), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
        if (r != TEE_SUCCESS) return r;
        o->info.dataSize = (size_t)vt_ctl->req_args[6];
        o->info.dataPosition = (size_t)vt_ctl->req_args[7];
    }
    *objectInfo = o->info;
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
    o->flags = flags;
    o->info.objectType = (uint32_t)vt_ctl->req_args[1];
    o->info.objectSize = (uint32_t)vt_ctl->req_args[2];
    o->info.maxObjectSize = (uint32_t)vt_ctl->req_args[3];
    o->info.objectUsage = (uint32_t)vt_ctl->req_args[4];
    o->info.dataSize = (size_t)vt_ctl->req_args[6];
    o->info.handleFlags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED | (flags & ~TEE_DATA_FLAG_OVERWRITE);
    uint64_t alen = vt_ctl->req_args[5];
    if (alen > VTEE_CH_REQ_BYTES || !attrs_read(o, vt_req_area, (size_t)alen)) {
        vt_ctl->req_args[0] = o->remote;
        vt_request(VTEE_REQ_OBJ_CLOSE);
        obj_free(o);
        return TEE_ERROR_CORRUPT_OBJECT;
    }
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
        if (!src || !(src->info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    }
    if (!storage_known(storageID)) return TEE_ERROR_ITEM_NOT_FOUND;
    size_t alen = src ? attrs_size(src) : 0;
    if (alen > VTEE_CH_REQ_BYTES - objectIDLen || initialDataLen > VTEE_CH_REQ_BYTES - objectIDLen - alen)
        return TEE_ERROR_OUT_OF_MEMORY;
    struct obj *o = obj_new();
    if (!o) return TEE_ERROR_OUT_OF_MEMORY;
    if (objectIDLen) memcpy(vt_req_area, objectID, objectIDLen);
    if (src) attrs_write(src, vt_req_area + objectIDLen);
    if (initialDataLen) memcpy(vt_req_area + objectIDLen + alen, initialData, initialDataLen);
    uint32_t type = src ? src->info.objectType : TEE_TYPE_DATA;
    vt_ctl->req_args[0] = objectIDLen; vt_ctl->req_args[1] = flags;
    vt_ctl->req_args[2] = alen; vt_ctl->req_args[3] = initialDataLen;
    vt_ctl->req_args[4] = type;
    vt_ctl->req_args[5] = src ? src->info.objectSize : 0;
    vt_ctl->req_args[6] = src ? src->info.maxObjectSize : 0;
    vt_ctl->req_args[7] = src ? src->info.objectUsage : TEE_USAGE_DEFAULT;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_OBJ_CREATE), TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_ACCESS_CONFLICT,
                         TEE_ERROR_OUT_OF_MEMORY, TEE_ERROR_STORAGE_NO_SPACE, TEE_ERROR_CORRUPT_OBJECT,
                         TEE_ERROR_STORAGE_NOT_AVAILABLE);
    if (r != TEE_SUCCESS) { obj_free(o); return r; }
    o->persistent = 1;
    o->remote = (uint32_t)vt_ctl->req_args[0];
    o->flags = flags;
    o->info.objectType = type;
    o->info.objectSize = src ? src->info.objectSize : 0;
    o->info.maxObjectSize = src ? src->info.maxObjectSize : 0;
    o->info.objectUsage = src ? src->info.objectUsage : TEE_USAGE_DEFAULT;
    o->info.dataSize = initialDataLen;
    o->info.handleFlags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED | (flags & ~TEE_DATA_FLAG_OVERWRITE);
    if (src) {
        TEE_Attribute tmp[64];
        uint32_t n = src->nattrs > 64 ? 64 : src->nattrs;
        for (uint32_t i = 0; i < n; i++) {
            tmp[i].attributeID = src->attrs[i].id;
            if (src->attrs[i].id & TEE_ATTR_FLAG_VALUE) { tmp[i].content.value.a = src->attrs[i].a; tmp[i].content.value.b = src->attrs[i].b; }
            else { tmp[i].content.ref.buffer = src->attrs[i].buf; tmp[i].content.ref.length = src->attrs[i].len; }
        }
        attrs_set(o, tmp, n);
    }
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
