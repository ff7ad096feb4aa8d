/* vtee's GP 1.1 crypto C test TA: built with CFG_TA_OPTEE_CORE_API_COMPAT_1_1=y, so every
 * cryptographic call below resolves to libvteeta's __GP11_* twin (uint32_t lengths, the 1.1
 * TEE_Attribute and TEE_ObjectInfo). Command 0 returns SHA-256(memref 0) in memref 1 and, in
 * memref 2, AES-128-GCM (SP 800-38A's key, zero nonce, no AAD) of memref 0 followed by its tag;
 * value 3 a = first failed check (0: none), b = checks run. */
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

static uint32_t checks;
#define CHECK(n, cond) do { checks++; if (!(cond)) return (n); } while (0)

static uint32_t run(TEE_Param p[4]) {
    static const uint8_t key[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
    uint8_t nonce[12] = { 0 }, tag[16];
    TEE_OperationHandle op;
    TEE_ObjectHandle k, d;
    TEE_Attribute a, params[2];
    TEE_ObjectInfo info;
    uint32_t n, t;
    CHECK(1, TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) == TEE_SUCCESS);
    n = 31;
    CHECK(2, TEE_DigestDoFinal(op, p[0].memref.buffer, p[0].memref.size, p[1].memref.buffer, &n) == TEE_ERROR_SHORT_BUFFER && n == 32);
    n = p[1].memref.size;
    CHECK(3, TEE_DigestDoFinal(op, p[0].memref.buffer, p[0].memref.size, p[1].memref.buffer, &n) == TEE_SUCCESS && n == 32);
    p[1].memref.size = n;
    TEE_FreeOperation(op);
    CHECK(4, TEE_AllocateTransientObject(TEE_TYPE_AES, 128, &k) == TEE_SUCCESS);
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, key, sizeof key);
    CHECK(5, TEE_PopulateTransientObject(k, &a, 1) == TEE_SUCCESS);
    CHECK(6, TEE_GetObjectInfo1(k, &info) == TEE_SUCCESS && info.objectSize == 128 && info.objectType == TEE_TYPE_AES);
    CHECK(7, TEE_AllocateOperation(&op, TEE_ALG_AES_GCM, TEE_MODE_ENCRYPT, 128) == TEE_SUCCESS);
    CHECK(8, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    CHECK(9, TEE_AEInit(op, nonce, sizeof nonce, 128, 0, p[0].memref.size) == TEE_SUCCESS);
    n = p[2].memref.size - 16; t = sizeof tag;
    CHECK(10, TEE_AEEncryptFinal(op, p[0].memref.buffer, p[0].memref.size, p[2].memref.buffer, &n, tag, &t) == TEE_SUCCESS && t == 16);
    memcpy((uint8_t *)p[2].memref.buffer + n, tag, t);
    p[2].memref.size = n + t;
    TEE_FreeOperation(op);
    /* GenerateKey and DeriveKey with 1.1 attributes: HKDF-SHA256 of a generated IKM, 32 bytes out. */
    CHECK(11, TEE_AllocateTransientObject(TEE_TYPE_HKDF_IKM, 256, &d) == TEE_SUCCESS);
    CHECK(12, TEE_GenerateKey(d, 256, NULL, 0) == TEE_SUCCESS);
    CHECK(13, TEE_AllocateOperation(&op, TEE_ALG_HKDF_SHA256_DERIVE_KEY, TEE_MODE_DERIVE, 256) == TEE_SUCCESS);
    CHECK(14, TEE_SetOperationKey(op, d) == TEE_SUCCESS);
    TEE_ResetTransientObject(k);
    TEE_FreeTransientObject(k);
    CHECK(15, TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, 256, &k) == TEE_SUCCESS);
    TEE_InitValueAttribute(&params[0], TEE_ATTR_HKDF_OKM_LENGTH, 32, 0);
    TEE_InitRefAttribute(&params[1], TEE_ATTR_HKDF_INFO, "info", 4);
    TEE_DeriveKey(op, params, 2, k);
    uint8_t okm[32];
    n = sizeof okm;
    CHECK(16, TEE_GetObjectBufferAttribute(k, TEE_ATTR_SECRET_VALUE, okm, &n) == TEE_SUCCESS && n == 32);
    TEE_FreeOperation(op);
    TEE_FreeTransientObject(k);
    TEE_FreeTransientObject(d);
    return 0;
}

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **ctx) { return TEE_SUCCESS; }
void TA_CloseSessionEntryPoint(void *ctx) {}

TEE_Result TA_InvokeCommandEntryPoint(void *ctx, uint32_t cmd, uint32_t types, TEE_Param p[4]) {
    if (cmd != 0) return TEE_ERROR_BAD_PARAMETERS;
    checks = 0;
    p[3].value.a = run(p);
    p[3].value.b = checks;
    return TEE_SUCCESS;
}
