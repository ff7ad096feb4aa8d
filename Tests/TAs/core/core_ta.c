/* vtee core C test TA: one command per group of the GP Internal Core API (each runs a battery
 * and answers the number of the first failed check in params[0].value.a, 0 when all pass) and
 * one per fault the sandbox must contain. Multi-instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

enum {
    CMD_NOP = 0, CMD_MEMREF_TOUCH = 1, CMD_MEMORY = 2, CMD_PROPS = 3, CMD_TIME = 4, CMD_CANCEL_MASK = 5,
    CMD_STORAGE = 6, CMD_TA2TA = 7, CMD_PANIC = 8, CMD_SEGV = 9, CMD_ABORT = 10, CMD_EXIT = 11,
    CMD_SPIN = 12, CMD_OPEN_FILE = 13, CMD_SOCKET = 14, CMD_LOG = 15, CMD_HEAP_LIMIT = 16, CMD_STACK = 17,
    CMD_WAIT_CANCEL = 18, CMD_SHARE = 19, CMD_CLIENT = 20, CMD_EXTENSIONS = 21, CMD_SUPP_PLUGIN = 22
};

#define CHECK(n, cond) do { if (!(cond)) return (n); } while (0)

static const TEE_UUID self_uuid = { 0xc0de0001, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0, 0, 0, 0, 0, 1 } };
/* vtee's built-in Swift test TA (vtee.test). */
static const TEE_UUID swift_test_ta = { 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0, 0, 0, 0, 0, 0, 1 } };

static int instance_marker;

TEE_Result TA_CreateEntryPoint(void) { TEE_SetInstanceData(&instance_marker); return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) { IMSG("destroy"); }

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **ctx) {
    (void)types; (void)params;
    *ctx = TEE_Malloc(16, TEE_MALLOC_FILL_ZERO);
    return *ctx ? TEE_SUCCESS : TEE_ERROR_OUT_OF_MEMORY;
}

void TA_CloseSessionEntryPoint(void *ctx) { TEE_Free(ctx); }

static uint32_t memory_battery(TEE_Param *p, uint32_t types) {
    uint8_t *a = TEE_Malloc(100, TEE_MALLOC_FILL_ZERO);
    CHECK(1, a != NULL);
    for (int i = 0; i < 100; i++) CHECK(2, a[i] == 0);
    TEE_MemFill(a, 0x5A, 100);
    CHECK(3, a[0] == 0x5A && a[99] == 0x5A);
    uint8_t *b = TEE_Realloc(a, 4000);
    CHECK(4, b != NULL && b[0] == 0x5A && b[99] == 0x5A);
    TEE_MemMove(b + 1, b, 10);           /* overlapping move */
    CHECK(5, b[1] == 0x5A && b[10] == 0x5A);
    uint8_t x[3] = { 1, 2, 3 }, y[3] = { 1, 2, 4 };
    CHECK(6, TEE_MemCompare(x, y, 3) < 0 && TEE_MemCompare(y, x, 3) > 0 && TEE_MemCompare(x, x, 3) == 0);
    CHECK(7, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ | TEE_MEMORY_ACCESS_WRITE, b, 4000) == TEE_SUCCESS);
    CHECK(8, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ, b, 1u << 30) == TEE_ERROR_ACCESS_DENIED);
    uint8_t local[16];
    CHECK(9, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_WRITE, local, sizeof local) == TEE_SUCCESS);
    if ((types & 0xF) == TEE_PARAM_TYPE_MEMREF_INOUT) {
        /* Client memory: only with ANY_OWNER. */
        CHECK(10, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ, p[0].memref.buffer, p[0].memref.size) == TEE_ERROR_ACCESS_DENIED);
        CHECK(11, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ | TEE_MEMORY_ACCESS_ANY_OWNER, p[0].memref.buffer, p[0].memref.size) == TEE_SUCCESS);
    }
    CHECK(12, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ, (void *)(uintptr_t)0x1000, 16) == TEE_ERROR_ACCESS_DENIED);
    TEE_Free(b);
    TEE_Free(NULL);
    void *z = TEE_Malloc(0, TEE_MALLOC_FILL_ZERO);
    CHECK(13, z != NULL);
    TEE_Free(z);
    CHECK(14, TEE_Malloc(16, 0x4) == NULL);  /* an unknown GP hint */
    CHECK(15, TEE_GetInstanceData() == &instance_marker);
    return 0;
}

static uint32_t props_battery(void) {
    char s[80];
    size_t n = sizeof s;
    TEE_UUID u;
    CHECK(1, TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "gpd.ta.appID", s, &n) == TEE_SUCCESS);
    CHECK(2, strcmp(s, "c0de0001-7ee0-4a11-8b5d-000000000001") == 0 && n == 37);
    CHECK(3, TEE_GetPropertyAsUUID(TEE_PROPSET_CURRENT_TA, "gpd.ta.appID", &u) == TEE_SUCCESS && memcmp(&u, &self_uuid, sizeof u) == 0);
    uint32_t v = 0;
    CHECK(4, TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "gpd.ta.dataSize", &v) == TEE_SUCCESS && v == 64 * 1024);
    CHECK(5, TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "gpd.ta.stackSize", &v) == TEE_SUCCESS && v == 4 * 1024);
    bool bo = true;
    CHECK(6, TEE_GetPropertyAsBool(TEE_PROPSET_CURRENT_TA, "gpd.ta.singleInstance", &bo) == TEE_SUCCESS && !bo);
    n = sizeof s;
    CHECK(7, TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "gpd.ta.description", s, &n) == TEE_SUCCESS && strcmp(s, "vtee core test TA") == 0);
    n = sizeof s;
    CHECK(8, TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "org.vtee.test.string", s, &n) == TEE_SUCCESS && strcmp(s, "hello") == 0);
    CHECK(9, TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "org.vtee.test.u32", &v) == TEE_SUCCESS && v == 42);
    CHECK(10, TEE_GetPropertyAsBool(TEE_PROPSET_CURRENT_TA, "org.vtee.test.bool", &bo) == TEE_SUCCESS && bo);
    uint64_t w = 0;
    CHECK(11, TEE_GetPropertyAsU64(TEE_PROPSET_CURRENT_TA, "org.vtee.test.u64", &w) == TEE_SUCCESS && w == 0x123456789ULL);
    uint8_t bin[8];
    n = 2;
    CHECK(12, TEE_GetPropertyAsBinaryBlock(TEE_PROPSET_CURRENT_TA, "org.vtee.test.binary", bin, &n) == TEE_ERROR_SHORT_BUFFER && n == 3);
    CHECK(13, TEE_GetPropertyAsBinaryBlock(TEE_PROPSET_CURRENT_TA, "org.vtee.test.binary", bin, &n) == TEE_SUCCESS && n == 3 && bin[0] == 1 && bin[2] == 3);
    n = sizeof s;
    CHECK(14, TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "org.vtee.test.u32", s, &n) == TEE_SUCCESS && strcmp(s, "42") == 0);
    CHECK(15, TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "org.vtee.test.string", &v) == TEE_ERROR_BAD_FORMAT);
    CHECK(16, TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "no.such.property", &v) == TEE_ERROR_ITEM_NOT_FOUND);
    n = 3;
    CHECK(17, TEE_GetPropertyAsString(TEE_PROPSET_CURRENT_TA, "org.vtee.test.string", s, &n) == TEE_ERROR_SHORT_BUFFER && n == 6);
    TEE_Identity id;
    CHECK(18, TEE_GetPropertyAsIdentity(TEE_PROPSET_CURRENT_CLIENT, "gpd.client.identity", &id) == TEE_SUCCESS && id.login == TEE_LOGIN_PUBLIC);
    CHECK(19, TEE_GetPropertyAsU32(TEE_PROPSET_TEE_IMPLEMENTATION, "gpd.tee.internalCore.version", &v) == TEE_SUCCESS && v == 0x01030100);
    CHECK(20, TEE_GetPropertyAsUUID(TEE_PROPSET_TEE_IMPLEMENTATION, "gpd.tee.deviceID", &u) == TEE_SUCCESS);
    /* Enumerate CURRENT_TA: appID, the 10 standard entries, 5 extension properties. */
    TEE_PropSetHandle e;
    CHECK(21, TEE_AllocatePropertyEnumerator(&e) == TEE_SUCCESS);
    n = sizeof s;
    CHECK(22, TEE_GetPropertyName(e, s, &n) == TEE_ERROR_ITEM_NOT_FOUND);
    TEE_StartPropertyEnumerator(e, TEE_PROPSET_CURRENT_TA);
    int count = 0, saw_ext = 0;
    do {
        n = sizeof s;
        CHECK(23, TEE_GetPropertyName(e, s, &n) == TEE_SUCCESS);
        if (strcmp(s, "org.vtee.test.u32") == 0) {
            CHECK(24, TEE_GetPropertyAsU32(e, NULL, &v) == TEE_SUCCESS && v == 42);
            saw_ext = 1;
        }
        count++;
    } while (TEE_GetNextProperty(e) == TEE_SUCCESS);
    CHECK(25, count == 16 && saw_ext);
    TEE_ResetPropertyEnumerator(e);
    CHECK(26, TEE_GetNextProperty(e) == TEE_ERROR_ITEM_NOT_FOUND);
    TEE_FreePropertyEnumerator(e);
    return 0;
}

static uint32_t time_battery(void) {
    TEE_Time t0, t1, ree, pt;
    TEE_GetSystemTime(&t0);
    CHECK(1, TEE_Wait(20) == TEE_SUCCESS);
    TEE_GetSystemTime(&t1);
    uint64_t ms0 = (uint64_t)t0.seconds * 1000 + t0.millis, ms1 = (uint64_t)t1.seconds * 1000 + t1.millis;
    CHECK(2, ms1 >= ms0 + 20 && t1.millis < 1000);
    TEE_GetREETime(&ree);
    CHECK(3, ree.seconds > 1700000000u && ree.millis < 1000);
    TEE_Result r = TEE_GetTAPersistentTime(&pt);
    CHECK(4, r == TEE_ERROR_TIME_NOT_SET || r == TEE_SUCCESS);
    TEE_Time set = { 1000, 500 };
    CHECK(5, TEE_SetTAPersistentTime(&set) == TEE_SUCCESS);
    CHECK(6, TEE_GetTAPersistentTime(&pt) == TEE_SUCCESS && pt.seconds >= 1000 && pt.seconds < 1100);
    TEE_Time big = { 0xFFFFFFFFu, 999 };
    CHECK(7, TEE_SetTAPersistentTime(&big) == TEE_SUCCESS);
    CHECK(8, TEE_Wait(1100) == TEE_SUCCESS);
    CHECK(9, TEE_GetTAPersistentTime(&pt) == TEE_ERROR_OVERFLOW);
    return 0;
}

static uint32_t storage_battery(void) {
    const char id[] = "obj-1", id2[] = "obj-2";
    TEE_ObjectHandle h = TEE_HANDLE_NULL, h2 = TEE_HANDLE_NULL, key = TEE_HANDLE_NULL;
    TEE_ObjectInfo info;
    uint8_t buf[64];
    size_t n;
    /* Clean slate (an earlier run may have left objects). */
    for (int i = 0; i < 2; i++) {
        if (TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, i ? id2 : id, 5, TEE_DATA_FLAG_ACCESS_WRITE_META, &h) == TEE_SUCCESS)
            TEE_CloseAndDeletePersistentObject1(h);
    }
    CHECK(1, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ, &h) == TEE_ERROR_ITEM_NOT_FOUND);
    CHECK(2, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE |
                                        TEE_DATA_FLAG_ACCESS_WRITE_META, TEE_HANDLE_NULL, "hello", 5, &h) == TEE_SUCCESS);
    CHECK(3, TEE_GetObjectInfo1(h, &info) == TEE_SUCCESS && info.dataSize == 5 && info.dataPosition == 0 &&
             info.objectType == TEE_TYPE_DATA && (info.handleFlags & TEE_HANDLE_FLAG_PERSISTENT));
    CHECK(4, TEE_ReadObjectData(h, buf, sizeof buf, &n) == TEE_SUCCESS && n == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(5, TEE_WriteObjectData(h, " world", 6) == TEE_SUCCESS);
    CHECK(6, TEE_SeekObjectData(h, 0, TEE_DATA_SEEK_SET) == TEE_SUCCESS);
    CHECK(7, TEE_ReadObjectData(h, buf, sizeof buf, &n) == TEE_SUCCESS && n == 11 && memcmp(buf, "hello world", 11) == 0);
    CHECK(8, TEE_SeekObjectData(h, -5, TEE_DATA_SEEK_END) == TEE_SUCCESS);
    CHECK(9, TEE_ReadObjectData(h, buf, 3, &n) == TEE_SUCCESS && n == 3 && memcmp(buf, "wor", 3) == 0);
    CHECK(10, TEE_SeekObjectData(h, -100, TEE_DATA_SEEK_CUR) == TEE_SUCCESS && TEE_GetObjectInfo1(h, &info) == TEE_SUCCESS && info.dataPosition == 0);
    CHECK(11, TEE_TruncateObjectData(h, 4) == TEE_SUCCESS && TEE_GetObjectInfo1(h, &info) == TEE_SUCCESS && info.dataSize == 4);
    CHECK(12, TEE_SeekObjectData(h, 0xFFFFFFFFll + 1, TEE_DATA_SEEK_SET) == TEE_ERROR_OVERFLOW);
    /* Sharing: h was opened without SHARE_*, so a second handle conflicts. */
    CHECK(13, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ, &h2) == TEE_ERROR_ACCESS_CONFLICT);
    CHECK(14, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_OVERWRITE, TEE_HANDLE_NULL, NULL, 0, &h2) == TEE_ERROR_ACCESS_CONFLICT);
    TEE_CloseObject(h);
    CHECK(15, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ, &h) == TEE_SUCCESS);
    CHECK(16, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ, &h2) == TEE_SUCCESS);
    TEE_CloseObject(h2);
    TEE_CloseObject(h);
    /* Without OVERWRITE an existing object is ACCESS_CONFLICT. */
    CHECK(17, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, 5, 0, TEE_HANDLE_NULL, NULL, 0, NULL) == TEE_ERROR_ACCESS_CONFLICT);
    /* An object with an attribute (a transient secret copied into storage). */
    uint8_t secret[16] = { 9, 8, 7 };
    TEE_Attribute attr;
    CHECK(18, TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, 128, &key) == TEE_SUCCESS);
    TEE_InitRefAttribute(&attr, TEE_ATTR_SECRET_VALUE, secret, sizeof secret);
    CHECK(19, TEE_PopulateTransientObject(key, &attr, 1) == TEE_SUCCESS);
    CHECK(20, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id2, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE_META,
                                         key, "d", 1, &h2) == TEE_SUCCESS);
    TEE_FreeTransientObject(key);
    TEE_CloseObject(h2);
    CHECK(21, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id2, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE_META, &h2) == TEE_SUCCESS);
    CHECK(22, TEE_GetObjectInfo1(h2, &info) == TEE_SUCCESS && info.objectType == TEE_TYPE_GENERIC_SECRET && info.objectSize == 128 && info.dataSize == 1);
    n = sizeof buf;
    CHECK(23, TEE_GetObjectBufferAttribute(h2, TEE_ATTR_SECRET_VALUE, buf, &n) == TEE_SUCCESS && n == 16 && buf[0] == 9 && buf[2] == 7);
    /* Enumerate: both objects. */
    TEE_ObjectEnumHandle en;
    CHECK(24, TEE_AllocatePersistentObjectEnumerator(&en) == TEE_SUCCESS);
    CHECK(25, TEE_StartPersistentObjectEnumerator(en, TEE_STORAGE_PRIVATE) == TEE_SUCCESS);
    int seen = 0;
    uint8_t oid[64];
    size_t oidlen = sizeof oid;
    while (TEE_GetNextPersistentObject(en, &info, oid, &oidlen) == TEE_SUCCESS) {
        if (oidlen == 5 && (memcmp(oid, id, 5) == 0 || memcmp(oid, id2, 5) == 0)) seen++;
        oidlen = sizeof oid;
    }
    CHECK(26, seen == 2);
    TEE_FreePersistentObjectEnumerator(en);
    /* Rename onto an existing id conflicts; onto a fresh one works. */
    CHECK(27, TEE_RenamePersistentObject(h2, id, 5) == TEE_ERROR_ACCESS_CONFLICT);
    CHECK(28, TEE_RenamePersistentObject(h2, "obj-3", 5) == TEE_SUCCESS);
    CHECK(29, TEE_CloseAndDeletePersistentObject1(h2) == TEE_SUCCESS);
    CHECK(30, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "obj-3", 5, TEE_DATA_FLAG_ACCESS_READ, &h2) == TEE_ERROR_ITEM_NOT_FOUND);
    CHECK(31, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 5, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE_META, &h) == TEE_SUCCESS);
    CHECK(32, TEE_ReadObjectData(h, buf, sizeof buf, &n) == TEE_SUCCESS && n == 4 && memcmp(buf, "hell", 4) == 0);
    CHECK(33, TEE_CloseAndDeletePersistentObject1(h) == TEE_SUCCESS);
    /* A 0-byte object id is valid (GP: objectIDLen may be 0; OP-TEE accepts it). */
    if (TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, NULL, 0, TEE_DATA_FLAG_ACCESS_WRITE_META, &h) == TEE_SUCCESS)
        TEE_CloseAndDeletePersistentObject1(h);
    CHECK(34, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, NULL, 0, TEE_DATA_FLAG_ACCESS_READ, TEE_HANDLE_NULL,
                                         "empty id", 8, &h) == TEE_SUCCESS);
    TEE_CloseObject(h);
    CHECK(35, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "", 0, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE_META, &h) == TEE_SUCCESS);
    CHECK(36, TEE_ReadObjectData(h, buf, sizeof buf, &n) == TEE_SUCCESS && n == 8 && memcmp(buf, "empty id", 8) == 0);
    CHECK(37, TEE_CloseAndDeletePersistentObject1(h) == TEE_SUCCESS);
    CHECK(38, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, NULL, 0, TEE_DATA_FLAG_ACCESS_READ, &h) == TEE_ERROR_ITEM_NOT_FOUND);
    return 0;
}

static uint32_t ta2ta_battery(void) {
    TEE_TASessionHandle s;
    uint32_t origin = 0;
    TEE_Param p[4];
    memset(p, 0, sizeof p);
    /* C TA -> Swift TA (vtee.test NOP_VALUES: every a and b + 1). */
    uint32_t vt = TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_VALUE_INOUT);
    CHECK(1, TEE_OpenTASession(&swift_test_ta, TEE_TIMEOUT_INFINITE, 0, NULL, &s, &origin) == TEE_SUCCESS);
    p[0].value.a = 41; p[3].value.b = 7;
    CHECK(2, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, 0, vt, p, &origin) == TEE_SUCCESS);
    CHECK(3, p[0].value.a == 42 && p[3].value.b == 8);
    /* vtee.test ECHO_MEMREF reverses a memref from this TA's memory. */
    char text[5] = "abcd";
    p[0].memref.buffer = text; p[0].memref.size = 4;
    CHECK(4, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, 10, TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, 0, 0, 0), p, &origin) == TEE_SUCCESS);
    CHECK(5, memcmp(text, "dcba", 4) == 0);
    TEE_CloseTASession(s);
    /* C TA -> C TA (another instance of this TA, in its own process). */
    CHECK(6, TEE_OpenTASession(&self_uuid, TEE_TIMEOUT_INFINITE, 0, NULL, &s, &origin) == TEE_SUCCESS);
    memset(p, 0, sizeof p);
    p[0].value.a = 1;
    CHECK(7, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, CMD_NOP, TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, 0, 0, 0), p, &origin) == TEE_SUCCESS && p[0].value.a == 2);
    /* Its client is this TA: login TRUSTED_APP and our UUID. */
    memset(p, 0, sizeof p);
    CHECK(8, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, CMD_CLIENT, TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0, 0), p, &origin) == TEE_SUCCESS);
    CHECK(9, p[0].value.a == TEE_LOGIN_TRUSTED_APP && p[0].value.b == 1);
    /* A panic over there is TARGET_DEAD with origin TEE here, and this TA goes on. */
    memset(p, 0, sizeof p);
    CHECK(10, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, CMD_PANIC, 0, p, &origin) == TEE_ERROR_TARGET_DEAD && origin == 3);
    TEE_CloseTASession(s);
    /* No such TA. */
    TEE_UUID none = { 0xdeadbeef, 0, 0, { 0 } };
    CHECK(11, TEE_OpenTASession(&none, TEE_TIMEOUT_INFINITE, 0, NULL, &s, &origin) == TEE_ERROR_ITEM_NOT_FOUND && origin == 3);
    /* cancellationRequestTimeout: once it passes, the called TA sees its cancellation flag. A C TA
     * waiting with cancellation unmasked returns CANCEL; vtee.test LONG_RUN (10 s of work polling
     * the flag) stops early with CANCEL. */
    CHECK(12, TEE_OpenTASession(&self_uuid, TEE_TIMEOUT_INFINITE, 0, NULL, &s, &origin) == TEE_SUCCESS);
    memset(p, 0, sizeof p);
    CHECK(13, TEE_InvokeTACommand(s, 20, CMD_WAIT_CANCEL, TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0, 0), p, &origin) == TEE_ERROR_CANCEL &&
              p[0].value.a == 1);
    /* The timeout covered that command only: the next one runs uncancelled. */
    memset(p, 0, sizeof p);
    p[0].value.a = 5;
    CHECK(14, TEE_InvokeTACommand(s, TEE_TIMEOUT_INFINITE, CMD_NOP, TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, 0, 0, 0), p, &origin) == TEE_SUCCESS && p[0].value.a == 6);
    TEE_CloseTASession(s);
    CHECK(15, TEE_OpenTASession(&swift_test_ta, TEE_TIMEOUT_INFINITE, 0, NULL, &s, &origin) == TEE_SUCCESS);
    memset(p, 0, sizeof p);
    p[0].value.a = 10000;
    CHECK(16, TEE_InvokeTACommand(s, 20, 6, TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, 0, 0, 0), p, &origin) == TEE_ERROR_CANCEL);
    TEE_CloseTASession(s);
    return 0;
}

/* OP-TEE's libutee extensions outside the GP API. */
static uint32_t extensions_battery(void) {
    TEE_UUID u;
    memset(&u, 0x55, sizeof u);
    CHECK(1, tee_uuid_from_str(&u, "c0de0001-7EE0-4a11-8b5d-000000000001") == TEE_SUCCESS);
    CHECK(2, memcmp(&u, &self_uuid, sizeof u) == 0);
    CHECK(3, tee_uuid_from_str(&u, "c0de0001-7ee0-4a11-8b5d-00000000000") == TEE_ERROR_BAD_PARAMETERS);
    CHECK(4, tee_uuid_from_str(&u, "c0de0001-7ee0-4a11-8b5d-0000000000012") == TEE_ERROR_BAD_PARAMETERS);
    CHECK(5, tee_uuid_from_str(&u, "c0de0001x7ee0-4a11-8b5d-000000000001") == TEE_ERROR_BAD_PARAMETERS);
    CHECK(6, tee_uuid_from_str(&u, "g0de0001-7ee0-4a11-8b5d-000000000001") == TEE_ERROR_BAD_PARAMETERS);
    CHECK(7, memcmp(&u, &self_uuid, sizeof u) == 0);
    /* tee_map_zi: zeroed memory of the TA's own, unmapped only as a whole. */
    uint8_t *m = tee_map_zi(10000, 0);
    CHECK(8, m != NULL);
    int zero = 1;
    for (size_t i = 0; i < 10000; i++) zero &= m[i] == 0;
    CHECK(9, zero);
    memset(m, 0x77, 10000);
    CHECK(10, TEE_CheckMemoryAccessRights(TEE_MEMORY_ACCESS_READ | TEE_MEMORY_ACCESS_WRITE, m, 10000) == TEE_SUCCESS);
    CHECK(11, tee_unmap(m + 4096, 4096) == TEE_ERROR_BAD_PARAMETERS);
    CHECK(12, tee_unmap(m, 100000) == TEE_ERROR_BAD_PARAMETERS);
    CHECK(13, tee_unmap(m, 10000) == TEE_SUCCESS);
    CHECK(14, tee_unmap(m, 10000) == TEE_ERROR_BAD_PARAMETERS);
    CHECK(15, tee_map_zi(0, 0) == NULL && tee_map_zi(4096, TEE_MEMORY_ACCESS_WRITE) == NULL);
    uint8_t *shared = tee_map_zi(1, TEE_MEMORY_ACCESS_ANY_OWNER);
    CHECK(16, shared != NULL && tee_unmap(shared, 1) == TEE_SUCCESS);
    /* Heap accounting: blocks allocated since the mark and still live. */
    tee_user_mem_mark_heap();
    CHECK(17, tee_user_mem_check_heap() == 0);
    void *a = TEE_Malloc(100, 0), *b = TEE_Malloc(200, 0);
    CHECK(18, a && b && tee_user_mem_check_heap() == 2);
    TEE_Free(a);
    CHECK(19, tee_user_mem_check_heap() == 1);
    TEE_Free(b);
    CHECK(20, tee_user_mem_check_heap() == 0);
    /* dhex_dump (DHEXDUMP at debug level): lines reach the log. */
    dhex_dump(__func__, __LINE__, TRACE_ERROR, "vtee", 4);
    return 0;
}

static int recurse(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    if (n > 100000000) return pad[0];   /* never reached: the guard page stops it first */
    return n + recurse(n + 1) + pad[0];
}

TEE_Result TA_InvokeCommandEntryPoint(void *ctx, uint32_t cmd, uint32_t types, TEE_Param p[4]) {
    (void)ctx;
    switch (cmd) {
    case CMD_NOP:
        if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, 0, 0, 0)) return TEE_ERROR_BAD_PARAMETERS;
        p[0].value.a++;
        return TEE_SUCCESS;
    case CMD_MEMREF_TOUCH:
        /* Writes only the first byte and reports the whole size: the rest must stay as it was. */
        if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, 0, 0, 0) || p[0].memref.size == 0) return TEE_ERROR_BAD_PARAMETERS;
        ((uint8_t *)p[0].memref.buffer)[0] = 0xAA;
        return TEE_SUCCESS;
    case CMD_MEMORY: { uint32_t r = memory_battery(p, types); if ((types >> 4 & 0xF) == TEE_PARAM_TYPE_VALUE_OUTPUT) p[1].value.a = r; return r ? TEE_ERROR_GENERIC : TEE_SUCCESS; }
    case CMD_PROPS: p[0].value.a = props_battery(); return TEE_SUCCESS;
    case CMD_TIME: p[0].value.a = time_battery(); return TEE_SUCCESS;
    case CMD_CANCEL_MASK: {
        /* a: what Unmask reported (1 = was masked); b: what Mask reported afterwards (0 = was unmasked). */
        bool was = TEE_UnmaskCancellation();
        bool again = TEE_MaskCancellation();
        p[0].value.a = was; p[0].value.b = again;
        if (p[0].value.a == 1 && types == TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_VALUE_INPUT, 0, 0) && p[1].value.a) TEE_UnmaskCancellation();
        return TEE_SUCCESS;
    }
    case CMD_STORAGE: p[0].value.a = storage_battery(); return TEE_SUCCESS;
    case CMD_TA2TA: p[0].value.a = ta2ta_battery(); return TEE_SUCCESS;
    case CMD_EXTENSIONS: p[0].value.a = extensions_battery(); return TEE_SUCCESS;
    case CMD_PANIC: TEE_Panic(types == TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, 0, 0, 0) ? p[0].value.a : 0xBAD);
    case CMD_SEGV: *(volatile int *)(uintptr_t)8 = 1; return TEE_ERROR_GENERIC;
    case CMD_ABORT: abort();
    case CMD_EXIT: exit(3);
    case CMD_SPIN: IMSG("cancel me"); for (;;) { __asm__ __volatile__("" ::: "memory"); }
    case CMD_OPEN_FILE: { int fd = open("/etc/hostname", O_RDONLY); p[0].value.a = (uint32_t)fd; return TEE_ERROR_GENERIC; }
    case CMD_SOCKET: { int fd = socket(AF_INET, SOCK_STREAM, 0); p[0].value.a = (uint32_t)fd; return TEE_ERROR_GENERIC; }
    case CMD_LOG: IMSG("hello from the core TA, value %u", p[0].value.a); EMSG("an error line"); return TEE_SUCCESS;
    case CMD_HEAP_LIMIT: {
        /* TEE_Malloc stops at TA_DATA_SIZE: count 1 KiB blocks until NULL. */
        uint32_t count = 0;
        while (TEE_Malloc(1024, TEE_MALLOC_FILL_ZERO) && count < 100000) count++;
        p[0].value.a = count;
        return TEE_SUCCESS;
    }
    case CMD_STACK: p[0].value.a = (uint32_t)recurse(0); return TEE_SUCCESS;
    case CMD_WAIT_CANCEL: {
        TEE_UnmaskCancellation();
        IMSG("cancel me");
        TEE_Result r = TEE_Wait(TEE_TIMEOUT_INFINITE);
        p[0].value.a = TEE_GetCancellationFlag();
        return r;
    }
    case CMD_CLIENT: {
        TEE_Identity id;
        if (TEE_GetPropertyAsIdentity(TEE_PROPSET_CURRENT_CLIENT, "gpd.client.identity", &id) != TEE_SUCCESS) return TEE_ERROR_GENERIC;
        p[0].value.a = id.login;
        p[0].value.b = memcmp(&id.uuid, &self_uuid, sizeof self_uuid) == 0;
        return TEE_SUCCESS;
    }
    case CMD_SUPP_PLUGIN: {
        /* tee_invoke_supp_plugin on the tests' plugin (test_plugin.c): [0] VALUE_INOUT a = plugin
         * command, out b = out_len; [1] MEMREF_INOUT the data, its size set to out_len. */
        static const TEE_UUID plugin = { 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x0d } };
        if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, TEE_PARAM_TYPE_MEMREF_INOUT, 0, 0)) return TEE_ERROR_BAD_PARAMETERS;
        size_t out = 0;
        TEE_Result r = tee_invoke_supp_plugin(&plugin, p[0].value.a, 0, p[1].memref.buffer, p[1].memref.size, &out);
        p[0].value.b = (uint32_t)out;
        if (r == TEE_SUCCESS) p[1].memref.size = out;
        return r;
    }
    default: return TEE_ERROR_NOT_SUPPORTED;
    }
}
