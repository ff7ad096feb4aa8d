/* libvteeta Property API: the CURRENT_TA set (gpd.ta.appID, then the TA's own ta_props: the
 * standard gpd.ta.* entries and its extension properties), CURRENT_CLIENT (identity and
 * endianness of the current entry point's client) and TEE_IMPLEMENTATION, every
 * TEE_GetPropertyAs* with OP-TEE's conversions and errors, and enumerators. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prop { const char *name; uint32_t type; const void *value; };

static const uint32_t u32_zero = 0, u32_100 = 100, u32_2048 = 2048;
static const uint32_t u32_sockets = 0x01000000u, u32_core = 0x01030100u;
static const bool b_false = false;
/* vtee's device: one fixed UUID for every vtee (there is no die id to derive it from). */
static const TEE_UUID device_id = { 0x76746565, 0x0000, 0x5000, { 0x80, 0x00, 0x76, 0x74, 0x65, 0x65, 0x00, 0x01 } };

static const struct prop impl_props[] = {
    { "gpd.tee.apiversion", PROP_STRING, "1.3.1" },
    { "gpd.tee.description", PROP_STRING, "vtee" },
    { "gpd.tee.deviceID", PROP_UUID, &device_id },
    { "gpd.tee.systemTime.protectionLevel", PROP_U32, &u32_100 },
    { "gpd.tee.TAPersistentTime.protectionLevel", PROP_U32, &u32_100 },
    { "gpd.tee.arith.maxBigIntSize", PROP_U32, &u32_2048 },
    { "gpd.tee.cryptography.ecc", PROP_BOOL, &b_false },
    { "gpd.tee.cryptography.nist", PROP_BOOL, &b_false },
    { "gpd.tee.cryptography.bsi-r", PROP_BOOL, &b_false },
    { "gpd.tee.cryptography.bsi-t", PROP_BOOL, &b_false },
    { "gpd.tee.cryptography.ietf", PROP_BOOL, &b_false },
    { "gpd.tee.cryptography.octa", PROP_BOOL, &b_false },
    { "gpd.tee.trustedStorage.antiRollback.protectionLevel", PROP_U32, &u32_100 },
    { "gpd.tee.trustedStorage.rollbackDetection.protectionLevel", PROP_U32, &u32_100 },
    { "gpd.tee.trustedos.implementation.version", PROP_STRING, "vtee" },
    { "gpd.tee.trustedos.implementation.binaryversion", PROP_U32, &u32_zero },
    { "gpd.tee.trustedos.manufacturer", PROP_STRING, "vtee" },
    { "gpd.tee.firmware.implementation.version", PROP_STRING, "FW_IMPL_UNDEF" },
    { "gpd.tee.firmware.implementation.binaryversion", PROP_U32, &u32_zero },
    { "gpd.tee.firmware.manufacturer", PROP_STRING, "FW_MAN_UNDEF" },
    { "gpd.tee.sockets.version", PROP_U32, &u32_sockets },
    { "gpd.tee.sockets.tcp.version", PROP_U32, &u32_sockets },
    { "gpd.tee.internalCore.version", PROP_U32, &u32_core },
};
#define N_IMPL (sizeof impl_props / sizeof impl_props[0])

enum { SET_NONE = 0, SET_TA = 1, SET_CLIENT = 2, SET_IMPL = 3 };

/* Number of properties in a set, and property i of it (filled into *out); 0 when past the end. */
static size_t set_count(int set) {
    switch (set) {
    case SET_TA: return 1 + vt_num_props;
    case SET_CLIENT: return 2;
    case SET_IMPL: return N_IMPL;
    default: return 0;
    }
}

static int set_get(int set, size_t i, struct prop *out) {
    static const uint32_t endian = 0;
    switch (set) {
    case SET_TA:
        if (i == 0) { *out = (struct prop){ "gpd.ta.appID", PROP_UUID, &vt_ta_uuid }; return 1; }
        if (i - 1 < vt_num_props) {
            const struct vteeta_ta_prop *p = &vt_props[i - 1];
            *out = (struct prop){ p->name, p->type, p->value };
            return p->name != NULL;
        }
        return 0;
    case SET_CLIENT:
        if (i == 0) { *out = (struct prop){ "gpd.client.identity", PROP_IDENTITY, &vt_client }; return 1; }
        if (i == 1) { *out = (struct prop){ "gpd.client.endian", PROP_U32, &endian }; return 1; }
        return 0;
    case SET_IMPL:
        if (i < N_IMPL) { *out = (struct prop){ impl_props[i].name, impl_props[i].type, impl_props[i].value }; return 1; }
        return 0;
    default: return 0;
    }
}

/* MARK: enumerators */

struct penum { uint32_t magic; int set; size_t index; };
#define PENUM_MAGIC 0x50454e55u
static struct penum *enums[64];

static struct penum *enum_of(TEE_PropSetHandle h) {
    for (size_t i = 0; i < 64; i++) if (enums[i] && (void *)enums[i] == (void *)h && enums[i]->magic == PENUM_MAGIC) return enums[i];
    return NULL;
}

static int pseudo_set(TEE_PropSetHandle h) {
    if (h == TEE_PROPSET_CURRENT_TA) return SET_TA;
    if (h == TEE_PROPSET_CURRENT_CLIENT) return SET_CLIENT;
    if (h == TEE_PROPSET_TEE_IMPLEMENTATION) return SET_IMPL;
    return SET_NONE;
}

VTEETA_API TEE_Result TEE_AllocatePropertyEnumerator(TEE_PropSetHandle *enumerator) {
    if (!enumerator) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    for (size_t i = 0; i < 64; i++) {
        if (enums[i]) continue;
        struct penum *e = calloc(1, sizeof *e);
        if (!e) return TEE_ERROR_OUT_OF_MEMORY;
        *e = (struct penum){ PENUM_MAGIC, SET_NONE, 0 };
        enums[i] = e;
        *enumerator = (TEE_PropSetHandle)(void *)e;
        return TEE_SUCCESS;
    }
    return TEE_ERROR_OUT_OF_MEMORY;
}

VTEETA_API void TEE_FreePropertyEnumerator(TEE_PropSetHandle enumerator) {
    struct penum *e = enum_of(enumerator);
    if (!e) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    for (size_t i = 0; i < 64; i++) if (enums[i] == e) enums[i] = NULL;
    e->magic = 0;
    free(e);
}

VTEETA_API void TEE_StartPropertyEnumerator(TEE_PropSetHandle enumerator, TEE_PropSetHandle propSet) {
    struct penum *e = enum_of(enumerator);
    int set = pseudo_set(propSet);
    if (!e || set == SET_NONE) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    e->set = set; e->index = 0;
}

VTEETA_API void TEE_ResetPropertyEnumerator(TEE_PropSetHandle enumerator) {
    struct penum *e = enum_of(enumerator);
    if (!e) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    e->set = SET_NONE; e->index = 0;
}

VTEETA_API TEE_Result TEE_GetNextProperty(TEE_PropSetHandle enumerator) {
    struct penum *e = enum_of(enumerator);
    if (!e) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (e->set == SET_NONE) return TEE_ERROR_ITEM_NOT_FOUND;
    e->index++;
    return e->index < set_count(e->set) ? TEE_SUCCESS : TEE_ERROR_ITEM_NOT_FOUND;
}

/* Copies NUL-terminated `s` into buf/len with GP's SHORT_BUFFER rule (needed size incl. NUL). */
static TEE_Result copy_string(const char *s, void *buf, size_t *len) {
    size_t need = strlen(s) + 1;
    if (!len) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (!buf || *len < need) { *len = need; return TEE_ERROR_SHORT_BUFFER; }
    memcpy(buf, s, need);
    *len = need;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetPropertyName(TEE_PropSetHandle enumerator, void *nameBuffer, size_t *nameBufferLen) {
    struct penum *e = enum_of(enumerator);
    if (!e) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct prop p;
    if (e->set == SET_NONE || !set_get(e->set, e->index, &p)) return TEE_ERROR_ITEM_NOT_FOUND;
    return copy_string(p.name, nameBuffer, nameBufferLen);
}

/* MARK: lookups */

/* The property a handle + name designates: a pseudo-handle searches by name, an enumerator
 * answers its current property (name ignored). An invalid handle panics. */
static TEE_Result lookup(TEE_PropSetHandle h, const char *name, struct prop *out) {
    int set = pseudo_set(h);
    if (set != SET_NONE) {
        if (!name) return TEE_ERROR_ITEM_NOT_FOUND;
        for (size_t i = 0; i < set_count(set); i++)
            if (set_get(set, i, out) && out->name && strcmp(out->name, name) == 0) return out->value ? TEE_SUCCESS : TEE_ERROR_ITEM_NOT_FOUND;
        return TEE_ERROR_ITEM_NOT_FOUND;
    }
    struct penum *e = enum_of(h);
    if (!e) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (e->set == SET_NONE || !set_get(e->set, e->index, out) || !out->value) return TEE_ERROR_ITEM_NOT_FOUND;
    return TEE_SUCCESS;
}

static void uuid_string(const TEE_UUID *u, char out[37]) {
    snprintf(out, 37, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", u->timeLow, u->timeMid,
             u->timeHiAndVersion, u->clockSeqAndNode[0], u->clockSeqAndNode[1], u->clockSeqAndNode[2],
             u->clockSeqAndNode[3], u->clockSeqAndNode[4], u->clockSeqAndNode[5], u->clockSeqAndNode[6],
             u->clockSeqAndNode[7]);
}

VTEETA_API TEE_Result TEE_GetPropertyAsString(TEE_PropSetHandle h, const char *name, char *valueBuffer, size_t *valueBufferLen) {
    struct prop p;
    TEE_Result r = lookup(h, name, &p);
    if (r != TEE_SUCCESS) return r;
    char tmp[96];
    const char *s = tmp;
    switch (p.type) {
    case PROP_BOOL: s = *(const bool *)p.value ? "true" : "false"; break;
    case PROP_U32: snprintf(tmp, sizeof tmp, "%" PRIu32, *(const uint32_t *)p.value); break;
    case PROP_U64: snprintf(tmp, sizeof tmp, "%" PRIu64, *(const uint64_t *)p.value); break;
    case PROP_UUID: uuid_string(p.value, tmp); break;
    case PROP_IDENTITY: {
        const TEE_Identity *id = p.value;
        char u[37];
        uuid_string(&id->uuid, u);
        snprintf(tmp, sizeof tmp, "%" PRIx32 ":%s", id->login, u);
        break;
    }
    case PROP_STRING: case PROP_BINARY: s = p.value; break;
    default: return TEE_ERROR_BAD_FORMAT;
    }
    return copy_string(s, valueBuffer, valueBufferLen);
}

/* The fixed-size getters' shared body: property `name` of set `h`, which must have type `type`,
 * copied into `value` (`size` bytes). A NULL `value` panics, as libutee does. */
static TEE_Result get_fixed(TEE_PropSetHandle h, const char *name, uint32_t type, void *value, size_t size) {
    if (!value) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct prop p;
    TEE_Result r = lookup(h, name, &p);
    if (r != TEE_SUCCESS) return r;
    if (p.type != type) return TEE_ERROR_BAD_FORMAT;
    memcpy(value, p.value, size);
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetPropertyAsBool(TEE_PropSetHandle h, const char *name, bool *value) {
    return get_fixed(h, name, PROP_BOOL, value, sizeof *value);
}

VTEETA_API TEE_Result TEE_GetPropertyAsU32(TEE_PropSetHandle h, const char *name, uint32_t *value) {
    return get_fixed(h, name, PROP_U32, value, sizeof *value);
}

VTEETA_API TEE_Result TEE_GetPropertyAsU64(TEE_PropSetHandle h, const char *name, uint64_t *value) {
    if (!value) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct prop p;
    TEE_Result r = lookup(h, name, &p);
    if (r != TEE_SUCCESS) return r;
    if (p.type == PROP_U64) *value = *(const uint64_t *)p.value;
    else if (p.type == PROP_U32) *value = *(const uint32_t *)p.value;
    else return TEE_ERROR_BAD_FORMAT;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_GetPropertyAsUUID(TEE_PropSetHandle h, const char *name, TEE_UUID *value) {
    return get_fixed(h, name, PROP_UUID, value, sizeof *value);
}

VTEETA_API TEE_Result TEE_GetPropertyAsIdentity(TEE_PropSetHandle h, const char *name, TEE_Identity *value) {
    return get_fixed(h, name, PROP_IDENTITY, value, sizeof *value);
}

long vt_base64_decode(const char *in, uint8_t *out, size_t cap) {
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *c = in; *c; c++) {
        int v;
        if (*c >= 'A' && *c <= 'Z') v = *c - 'A';
        else if (*c >= 'a' && *c <= 'z') v = *c - 'a' + 26;
        else if (*c >= '0' && *c <= '9') v = *c - '0' + 52;
        else if (*c == '+') v = 62;
        else if (*c == '/') v = 63;
        else if (*c == '=' || *c == '\n' || *c == ' ') continue;
        else return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out && n < cap) out[n] = (uint8_t)(acc >> bits);
            n++;
        }
    }
    return (long)n;
}

VTEETA_API TEE_Result TEE_GetPropertyAsBinaryBlock(TEE_PropSetHandle h, const char *name, void *valueBuffer, size_t *valueBufferLen) {
    if (!valueBufferLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct prop p;
    TEE_Result r = lookup(h, name, &p);
    if (r != TEE_SUCCESS) return r;
    if (p.type != PROP_BINARY) return TEE_ERROR_BAD_FORMAT;
    long need = vt_base64_decode(p.value, NULL, 0);
    if (need < 0) return TEE_ERROR_BAD_FORMAT;
    if (!valueBuffer || *valueBufferLen < (size_t)need) { *valueBufferLen = (size_t)need; return TEE_ERROR_SHORT_BUFFER; }
    vt_base64_decode(p.value, valueBuffer, *valueBufferLen);
    *valueBufferLen = (size_t)need;
    return TEE_SUCCESS;
}
