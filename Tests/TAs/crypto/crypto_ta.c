/* vtee's crypto C test TA (OP-TEE layout, built with the exported dev kit). CMD_RUN runs one GP
 * operation on vectors the host supplies and hands the output back for the host to compare with
 * the published answers; the other commands check GP's object rules, state machine and
 * SHORT_BUFFER sizes inside the TA, or commit one misuse that GP makes a panic. */
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

enum { CMD_NOP = 0, CMD_RUN = 1, CMD_STATE = 2, CMD_PANIC = 3, CMD_PERSIST = 4, CMD_GCM = 5, CMD_KEYS = 6 };

#define CHECK(n, cond) do { checks++; if (!(cond)) { EMSG("check %d failed", (n)); return (n); } } while (0)
static uint32_t checks;

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint32_t key_type_for(uint32_t alg) {
    switch (alg) {
    case TEE_ALG_HKDF_MD5_DERIVE_KEY: case TEE_ALG_HKDF_SHA1_DERIVE_KEY: case TEE_ALG_HKDF_SHA224_DERIVE_KEY:
    case TEE_ALG_HKDF_SHA256_DERIVE_KEY: case TEE_ALG_HKDF_SHA384_DERIVE_KEY: case TEE_ALG_HKDF_SHA512_DERIVE_KEY:
        return TEE_TYPE_HKDF_IKM;
    case TEE_ALG_CONCAT_KDF_SHA1_DERIVE_KEY: case TEE_ALG_CONCAT_KDF_SHA224_DERIVE_KEY: case TEE_ALG_CONCAT_KDF_SHA256_DERIVE_KEY:
    case TEE_ALG_CONCAT_KDF_SHA384_DERIVE_KEY: case TEE_ALG_CONCAT_KDF_SHA512_DERIVE_KEY:
        return TEE_TYPE_CONCAT_KDF_Z;
    case TEE_ALG_PBKDF2_HMAC_SHA1_DERIVE_KEY: return TEE_TYPE_PBKDF2_PASSWORD;
    default: break;
    }
    if ((alg & 0xF0000000u) == 0x30000000u && (alg & 0xFF) < 0x10) return TEE_TYPE_GENERIC_SECRET; /* HMAC */
    return TEE_TYPE_AES;
}

static uint32_t key_attr_for(uint32_t type) {
    switch (type) {
    case TEE_TYPE_HKDF_IKM: return TEE_ATTR_HKDF_IKM;
    case TEE_TYPE_CONCAT_KDF_Z: return TEE_ATTR_CONCAT_KDF_Z;
    case TEE_TYPE_PBKDF2_PASSWORD: return TEE_ATTR_PBKDF2_PASSWORD;
    default: return TEE_ATTR_SECRET_VALUE;
    }
}

static TEE_Result make_key(uint32_t alg, const uint8_t *key, size_t len, TEE_ObjectHandle *out) {
    uint32_t type = key_type_for(alg);
    TEE_Attribute a;
    TEE_Result r = TEE_AllocateTransientObject(type, (uint32_t)len * 8, out);
    if (r != TEE_SUCCESS) return r;
    TEE_InitRefAttribute(&a, key_attr_for(type), key, len);
    return TEE_PopulateTransientObject(*out, &a, 1);
}

/* CMD_RUN: p0 = (algorithm, mode | split << 16), p1 = header + key, key2, iv, aad, tag, data,
 * p2 = output, p3 = (result of the final call, output length). */
static TEE_Result run(TEE_Param p[4]) {
    uint32_t alg = p[0].value.a, mode = p[0].value.b & 0xFFFF, split = p[0].value.b >> 16;
    const uint8_t *in = p[1].memref.buffer;
    size_t inLen = p[1].memref.size;
    if (inLen < 24) return TEE_ERROR_BAD_PARAMETERS;
    uint32_t keyLen = rd32(in), key2Len = rd32(in + 4), ivLen = rd32(in + 8), aadLen = rd32(in + 12), tagLen = rd32(in + 16), extra = rd32(in + 20);
    size_t hdr = 24 + (size_t)keyLen + key2Len + ivLen + aadLen + tagLen;
    if (hdr > inLen) return TEE_ERROR_BAD_PARAMETERS;
    const uint8_t *key = in + 24, *key2 = key + keyLen, *iv = key2 + key2Len, *aad = iv + ivLen, *tag = aad + aadLen, *data = tag + tagLen;
    size_t dataLen = inLen - hdr, half = split ? dataLen / 2 : 0;
    uint8_t *out = p[2].memref.buffer;
    size_t cap = p[2].memref.size, done = 0, n;
    TEE_OperationHandle op = TEE_HANDLE_NULL;
    TEE_ObjectHandle k1 = TEE_HANDLE_NULL, k2 = TEE_HANDLE_NULL, derived = TEE_HANDLE_NULL;
    TEE_OperationInfo info;
    TEE_Result r = TEE_AllocateOperation(&op, alg, mode, keyLen * 8);
    if (r != TEE_SUCCESS) { p[3].value.a = r; p[3].value.b = 0; return TEE_SUCCESS; }
    TEE_GetOperationInfo(op, &info);
    if (info.operationClass != TEE_OPERATION_DIGEST) {
        if ((r = make_key(alg, key, keyLen, &k1)) != TEE_SUCCESS) goto out;
        if (key2Len) {
            if ((r = make_key(alg, key2, key2Len, &k2)) != TEE_SUCCESS) goto out;
            if ((r = TEE_SetOperationKey2(op, k1, k2)) != TEE_SUCCESS) goto out;
        } else if ((r = TEE_SetOperationKey(op, k1)) != TEE_SUCCESS) goto out;
    }
    switch (info.operationClass) {
    case TEE_OPERATION_DIGEST:
        if (half) TEE_DigestUpdate(op, data, half);
        n = cap;
        r = TEE_DigestDoFinal(op, data + half, dataLen - half, out, &n);
        done = n;
        break;
    case TEE_OPERATION_CIPHER:
        TEE_CipherInit(op, iv, ivLen);
        n = cap;
        if (half) { if ((r = TEE_CipherUpdate(op, data, half, out, &n)) != TEE_SUCCESS) break; done = n; n = cap - done; }
        r = TEE_CipherDoFinal(op, data + half, dataLen - half, out + done, &n);
        done += n;
        break;
    case TEE_OPERATION_MAC:
        TEE_MACInit(op, iv, ivLen);
        if (half) TEE_MACUpdate(op, data, half);
        if (extra == 1) { r = TEE_MACCompareFinal(op, data + half, dataLen - half, tag, tagLen); break; }
        n = cap;
        r = TEE_MACComputeFinal(op, data + half, dataLen - half, out, &n);
        done = n;
        break;
    case TEE_OPERATION_AE:
        if ((r = TEE_AEInit(op, iv, ivLen, mode == TEE_MODE_DECRYPT ? tagLen * 8 : extra, aadLen, dataLen)) != TEE_SUCCESS) break;
        if (split && aadLen > 1) { TEE_AEUpdateAAD(op, aad, aadLen / 2); TEE_AEUpdateAAD(op, aad + aadLen / 2, aadLen - aadLen / 2); }
        else if (aadLen) TEE_AEUpdateAAD(op, aad, aadLen);
        n = cap;
        if (half) { if ((r = TEE_AEUpdate(op, data, half, out, &n)) != TEE_SUCCESS) break; done = n; n = cap - done; }
        if (mode == TEE_MODE_ENCRYPT) {
            size_t t = 16;
            uint8_t tg[16];
            r = TEE_AEEncryptFinal(op, data + half, dataLen - half, out + done, &n, tg, &t);
            done += n;
            if (r == TEE_SUCCESS && done + t <= cap) { memcpy(out + done, tg, t); done += t; }
        } else {
            r = TEE_AEDecryptFinal(op, data + half, dataLen - half, out + done, &n, (void *)tag, tagLen);
            done += n;
        }
        break;
    case TEE_OPERATION_KEY_DERIVATION: {
        TEE_Attribute params[4];
        uint32_t np = 0;
        if (key_type_for(alg) == TEE_TYPE_HKDF_IKM) {
            if (ivLen) TEE_InitRefAttribute(&params[np++], TEE_ATTR_HKDF_SALT, iv, ivLen);
            if (aadLen) TEE_InitRefAttribute(&params[np++], TEE_ATTR_HKDF_INFO, aad, aadLen);
            TEE_InitValueAttribute(&params[np++], TEE_ATTR_HKDF_OKM_LENGTH, extra, 0);
        } else if (key_type_for(alg) == TEE_TYPE_CONCAT_KDF_Z) {
            if (aadLen) TEE_InitRefAttribute(&params[np++], TEE_ATTR_CONCAT_KDF_OTHER_INFO, aad, aadLen);
            TEE_InitValueAttribute(&params[np++], TEE_ATTR_CONCAT_KDF_DKM_LENGTH, extra, 0);
        } else {
            TEE_InitRefAttribute(&params[np++], TEE_ATTR_PBKDF2_SALT, iv, ivLen);
            TEE_InitValueAttribute(&params[np++], TEE_ATTR_PBKDF2_ITERATION_COUNT, tagLen ? rd32(tag) : 1, 0);
            TEE_InitValueAttribute(&params[np++], TEE_ATTR_PBKDF2_DKM_LENGTH, extra, 0);
        }
        if ((r = TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, extra * 8, &derived)) != TEE_SUCCESS) break;
        TEE_DeriveKey(op, params, np, derived);
        n = cap;
        r = TEE_GetObjectBufferAttribute(derived, TEE_ATTR_SECRET_VALUE, out, &n);
        done = n;
        break;
    }
    default:
        r = TEE_ERROR_NOT_SUPPORTED;
    }
out:
    p[3].value.a = r;
    p[3].value.b = (uint32_t)done;
    p[2].memref.size = done;
    TEE_FreeOperation(op);
    TEE_FreeTransientObject(k1);
    TEE_FreeTransientObject(k2);
    TEE_FreeTransientObject(derived);
    return TEE_SUCCESS;
}

static const uint8_t key128[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
static const uint8_t k256_zero[32] = { 0 };

static TEE_ObjectHandle aes_key(const uint8_t *k, size_t len) {
    TEE_ObjectHandle o;
    TEE_Attribute a;
    if (TEE_AllocateTransientObject(TEE_TYPE_AES, 256, &o) != TEE_SUCCESS) TEE_Panic(1);
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, k, len);
    if (TEE_PopulateTransientObject(o, &a, 1) != TEE_SUCCESS) TEE_Panic(2);
    return o;
}

/* CMD_STATE: the operation state machine and the SHORT_BUFFER sizes. */
static uint32_t state_battery(void) {
    TEE_OperationHandle op, op2;
    TEE_OperationInfo info;
    uint8_t buf[64], buf2[64], blk[32] = { 0 };
    size_t n;
    /* Digest: initialized at allocation, a final resets it, SHORT_BUFFER reports the size and keeps the state. */
    CHECK(1, TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) == TEE_SUCCESS);
    TEE_GetOperationInfo(op, &info);
    CHECK(2, info.operationClass == TEE_OPERATION_DIGEST && info.digestLength == 32 && (info.handleState & TEE_HANDLE_FLAG_INITIALIZED));
    TEE_DigestUpdate(op, "ab", 2);
    n = 31;
    CHECK(3, TEE_DigestDoFinal(op, "c", 1, buf, &n) == TEE_ERROR_SHORT_BUFFER && n == 32);
    n = 32;
    CHECK(4, TEE_DigestDoFinal(op, "c", 1, buf, &n) == TEE_SUCCESS && n == 32 && buf[0] == 0xba && buf[31] == 0xad);
    n = 32;   /* After the final the operation starts over. */
    CHECK(5, TEE_DigestDoFinal(op, "abc", 3, buf2, &n) == TEE_SUCCESS && memcmp(buf, buf2, 32) == 0);
    /* CopyOperation carries the running state. */
    CHECK(6, TEE_AllocateOperation(&op2, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) == TEE_SUCCESS);
    TEE_DigestUpdate(op, "a", 1);
    TEE_CopyOperation(op2, op);
    n = 32;
    CHECK(7, TEE_DigestDoFinal(op2, "bc", 2, buf2, &n) == TEE_SUCCESS && memcmp(buf, buf2, 32) == 0);
    TEE_ResetOperation(op);
    n = 32;
    CHECK(8, TEE_DigestDoFinal(op, "abc", 3, buf2, &n) == TEE_SUCCESS && memcmp(buf, buf2, 32) == 0);
    TEE_FreeOperation(op); TEE_FreeOperation(op2);
    /* Cipher: no key, key set, initialized; info and info multiple. */
    CHECK(9, TEE_AllocateOperation(&op, TEE_ALG_AES_CBC_NOPAD, TEE_MODE_ENCRYPT, 128) == TEE_SUCCESS);
    TEE_GetOperationInfo(op, &info);
    CHECK(10, info.handleState == 0 && info.maxKeySize == 128 && info.requiredKeyUsage == TEE_USAGE_ENCRYPT && info.keySize == 0);
    TEE_ObjectHandle k = aes_key(key128, 16);
    CHECK(11, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    TEE_GetOperationInfo(op, &info);
    CHECK(12, info.handleState == TEE_HANDLE_FLAG_KEY_SET && info.keySize == 128);
    TEE_CipherInit(op, blk, 16);
    TEE_GetOperationInfo(op, &info);
    CHECK(13, info.handleState == (TEE_HANDLE_FLAG_KEY_SET | TEE_HANDLE_FLAG_INITIALIZED));
    struct { TEE_OperationInfoMultiple m; TEE_OperationInfoKey k[2]; } im;
    size_t isz = sizeof(TEE_OperationInfoMultiple);
    CHECK(14, TEE_GetOperationInfoMultiple(op, &im.m, &isz) == TEE_ERROR_SHORT_BUFFER && isz == sizeof(TEE_OperationInfoMultiple) + sizeof(TEE_OperationInfoKey));
    CHECK(15, TEE_GetOperationInfoMultiple(op, &im.m, &isz) == TEE_SUCCESS && im.m.numberOfKeys == 1 && im.m.operationState == TEE_OPERATION_STATE_ACTIVE &&
              im.m.keyInformation[0].keySize == 128 && im.m.keyInformation[0].requiredKeyUsage == TEE_USAGE_ENCRYPT);
    /* SHORT_BUFFER on update: the size, and nothing consumed. */
    n = 15;
    CHECK(16, TEE_CipherUpdate(op, blk, 16, buf, &n) == TEE_ERROR_SHORT_BUFFER && n == 16);
    n = 16;
    CHECK(17, TEE_CipherUpdate(op, blk, 16, buf, &n) == TEE_SUCCESS && n == 16);
    n = 0;   /* Partial block buffered: no output yet. */
    CHECK(18, TEE_CipherUpdate(op, blk, 8, buf, &n) == TEE_SUCCESS && n == 0);
    n = 8;
    CHECK(19, TEE_CipherDoFinal(op, blk, 8, buf + 16, &n) == TEE_ERROR_SHORT_BUFFER && n == 16);
    n = 16;
    CHECK(20, TEE_CipherDoFinal(op, blk, 8, buf + 16, &n) == TEE_SUCCESS && n == 16);
    TEE_GetOperationInfo(op, &info);   /* A final returns the operation to its initial state. */
    CHECK(21, info.handleState == TEE_HANDLE_FLAG_KEY_SET);
    /* CBC over zeros chains: block 2 = E(block 1). */
    TEE_CipherInit(op, blk, 16);
    n = 32;
    CHECK(22, TEE_CipherDoFinal(op, blk, 32, buf2, &n) == TEE_SUCCESS && n == 32 && memcmp(buf, buf2, 32) == 0);
    /* SetOperationKey with NULL clears the key. */
    CHECK(23, TEE_SetOperationKey(op, TEE_HANDLE_NULL) == TEE_SUCCESS);
    TEE_GetOperationInfo(op, &info);
    CHECK(24, info.handleState == 0);
    TEE_FreeOperation(op);
    /* AE: SHORT_BUFFER for the tag reports the tag length. */
    CHECK(25, TEE_AllocateOperation(&op, TEE_ALG_AES_GCM, TEE_MODE_ENCRYPT, 128) == TEE_SUCCESS);
    CHECK(26, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    CHECK(27, TEE_AEInit(op, blk, 12, 128, 0, 16) == TEE_SUCCESS);
    size_t tl = 8;
    n = 16;
    CHECK(28, TEE_AEEncryptFinal(op, blk, 16, buf, &n, buf2, &tl) == TEE_ERROR_SHORT_BUFFER && tl == 16);
    tl = 16;
    CHECK(29, TEE_AEEncryptFinal(op, blk, 16, buf, &n, buf2, &tl) == TEE_SUCCESS && n == 16 && tl == 16);
    CHECK(30, TEE_AEInit(op, blk, 12, 100, 0, 16) == TEE_ERROR_NOT_SUPPORTED);
    TEE_FreeOperation(op);
    /* MAC compare: a wrong MAC is MAC_INVALID; the right one passes. */
    CHECK(31, TEE_AllocateOperation(&op, TEE_ALG_AES_CMAC, TEE_MODE_MAC, 128) == TEE_SUCCESS);
    CHECK(32, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    TEE_MACInit(op, NULL, 0);
    n = 15;
    CHECK(33, TEE_MACComputeFinal(op, NULL, 0, buf, &n) == TEE_ERROR_SHORT_BUFFER && n == 16);
    n = 16;
    CHECK(34, TEE_MACComputeFinal(op, NULL, 0, buf, &n) == TEE_SUCCESS && n == 16 && buf[0] == 0xbb && buf[15] == 0x46);
    TEE_MACInit(op, NULL, 0);
    buf[3] ^= 1;
    CHECK(35, TEE_MACCompareFinal(op, NULL, 0, buf, 16) == TEE_ERROR_MAC_INVALID);
    buf[3] ^= 1;
    TEE_MACInit(op, NULL, 0);
    CHECK(36, TEE_MACCompareFinal(op, NULL, 0, buf, 16) == TEE_SUCCESS);
    TEE_FreeOperation(op);
    /* Support and refusals. */
    CHECK(37, TEE_IsAlgorithmSupported(TEE_ALG_AES_GCM, TEE_CRYPTO_ELEMENT_NONE) == TEE_SUCCESS);
    CHECK(38, TEE_IsAlgorithmSupported(TEE_ALG_DES_CBC_NOPAD, TEE_CRYPTO_ELEMENT_NONE) == TEE_ERROR_NOT_SUPPORTED);
    CHECK(39, TEE_AllocateOperation(&op, TEE_ALG_AES_CBC_NOPAD, TEE_MODE_DIGEST, 128) == TEE_ERROR_NOT_SUPPORTED);
    CHECK(40, TEE_AllocateOperation(&op, TEE_ALG_AES_CBC_NOPAD, TEE_MODE_ENCRYPT, 100) == TEE_ERROR_NOT_SUPPORTED);
    CHECK(41, TEE_AllocateOperation(&op, 0x12345678, TEE_MODE_ENCRYPT, 128) == TEE_ERROR_NOT_SUPPORTED && op == TEE_HANDLE_NULL);
    TEE_FreeTransientObject(k);
    /* DigestExtract: the digest in pieces (10 + 22 bytes = SHA-256(abc)). */
    uint8_t ex[32];
    CHECK(42, TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) == TEE_SUCCESS);
    TEE_DigestUpdate(op, "abc", 3);
    n = 10;
    CHECK(43, TEE_DigestExtract(op, ex, &n) == TEE_SUCCESS && n == 10);
    n = 40;
    CHECK(44, TEE_DigestExtract(op, ex + 10, &n) == TEE_SUCCESS && n == 22 && ex[0] == 0xba && ex[31] == 0xad);
    TEE_FreeOperation(op);
    return 0;
}

/* CMD_KEYS: object rules (sizes, usage, extractable, copy, generate, reset). */
static uint32_t keys_battery(void) {
    TEE_ObjectHandle o, o2;
    TEE_ObjectInfo info;
    TEE_Attribute a;
    uint8_t k20[20] = { 0 }, k32[32] = { 1 }, buf[64];
    size_t n;
    uint32_t va, vb;
    /* HMAC-SHA256 keys below 192 bits are refused (object size and attribute length). */
    CHECK(1, TEE_AllocateTransientObject(TEE_TYPE_HMAC_SHA256, 160, &o) == TEE_ERROR_NOT_SUPPORTED);
    CHECK(2, TEE_AllocateTransientObject(TEE_TYPE_HMAC_SHA256, 256, &o) == TEE_SUCCESS);
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, k20, sizeof k20);
    CHECK(3, TEE_PopulateTransientObject(o, &a, 1) == TEE_ERROR_BAD_PARAMETERS);
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, k32, sizeof k32);
    CHECK(4, TEE_PopulateTransientObject(o, &a, 1) == TEE_SUCCESS);
    CHECK(5, TEE_GetObjectInfo1(o, &info) == TEE_SUCCESS && info.objectType == TEE_TYPE_HMAC_SHA256 && info.objectSize == 256 &&
             info.maxObjectSize == 256 && (info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED) && info.objectUsage == 0xFFFFFFFFu);
    /* Extractable by default: the secret reads back; SHORT_BUFFER reports its length. */
    n = 8;
    CHECK(6, TEE_GetObjectBufferAttribute(o, TEE_ATTR_SECRET_VALUE, buf, &n) == TEE_ERROR_SHORT_BUFFER && n == 32);
    n = sizeof buf;
    CHECK(7, TEE_GetObjectBufferAttribute(o, TEE_ATTR_SECRET_VALUE, buf, &n) == TEE_SUCCESS && n == 32 && buf[0] == 1);
    CHECK(8, TEE_GetObjectBufferAttribute(o, TEE_ATTR_RSA_MODULUS, buf, &n) == TEE_ERROR_ITEM_NOT_FOUND);
    /* Usage only shrinks. */
    CHECK(9, TEE_RestrictObjectUsage1(o, TEE_USAGE_MAC | TEE_USAGE_EXTRACTABLE) == TEE_SUCCESS);
    CHECK(10, TEE_RestrictObjectUsage1(o, 0xFFFFFFFFu) == TEE_SUCCESS);
    CHECK(11, TEE_GetObjectInfo1(o, &info) == TEE_SUCCESS && info.objectUsage == (TEE_USAGE_MAC | TEE_USAGE_EXTRACTABLE));
    /* Copy into an object of the same type: attributes and usage follow. */
    CHECK(12, TEE_AllocateTransientObject(TEE_TYPE_HMAC_SHA256, 512, &o2) == TEE_SUCCESS);
    CHECK(13, TEE_CopyObjectAttributes1(o2, o) == TEE_SUCCESS);
    CHECK(14, TEE_GetObjectInfo1(o2, &info) == TEE_SUCCESS && info.objectSize == 256 && info.objectUsage == (TEE_USAGE_MAC | TEE_USAGE_EXTRACTABLE));
    n = sizeof buf;
    CHECK(15, TEE_GetObjectBufferAttribute(o2, TEE_ATTR_SECRET_VALUE, buf, &n) == TEE_SUCCESS && n == 32 && buf[0] == 1);
    /* Reset empties it; it can be populated again. */
    TEE_ResetTransientObject(o2);
    CHECK(16, TEE_GetObjectInfo1(o2, &info) == TEE_SUCCESS && info.objectSize == 0 && !(info.handleFlags & TEE_HANDLE_FLAG_INITIALIZED));
    /* GenerateKey: a random key of the asked size, twice different. */
    CHECK(17, TEE_GenerateKey(o2, 384, NULL, 0) == TEE_SUCCESS);
    CHECK(18, TEE_GetObjectInfo1(o2, &info) == TEE_SUCCESS && info.objectSize == 384);
    uint8_t g1[48], g2[48];
    n = sizeof g1;
    CHECK(19, TEE_GetObjectBufferAttribute(o2, TEE_ATTR_SECRET_VALUE, g1, &n) == TEE_SUCCESS && n == 48);
    TEE_ResetTransientObject(o2);
    CHECK(20, TEE_GenerateKey(o2, 384, NULL, 0) == TEE_SUCCESS);
    n = sizeof g2;
    CHECK(21, TEE_GetObjectBufferAttribute(o2, TEE_ATTR_SECRET_VALUE, g2, &n) == TEE_SUCCESS && n == 48 && memcmp(g1, g2, 48) != 0);
    TEE_FreeTransientObject(o2);
    TEE_FreeTransientObject(o);
    /* AES sizes: 128/192/256 only. */
    CHECK(22, TEE_AllocateTransientObject(TEE_TYPE_AES, 512, &o) == TEE_ERROR_NOT_SUPPORTED);
    CHECK(23, TEE_AllocateTransientObject(TEE_TYPE_AES, 256, &o) == TEE_SUCCESS);
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, k20, 20);
    CHECK(24, TEE_PopulateTransientObject(o, &a, 1) == TEE_ERROR_BAD_PARAMETERS);
    CHECK(25, TEE_GenerateKey(o, 192, NULL, 0) == TEE_SUCCESS);
    TEE_FreeTransientObject(o);
    /* A value attribute. */
    CHECK(26, TEE_AllocateTransientObject(TEE_TYPE_PBKDF2_PASSWORD, 64, &o) == TEE_SUCCESS);
    TEE_InitRefAttribute(&a, TEE_ATTR_PBKDF2_PASSWORD, "password", 8);
    CHECK(27, TEE_PopulateTransientObject(o, &a, 1) == TEE_SUCCESS);
    CHECK(28, TEE_GetObjectValueAttribute(o, TEE_ATTR_PBKDF2_ITERATION_COUNT, &va, &vb) == TEE_ERROR_ITEM_NOT_FOUND);
    TEE_FreeTransientObject(o);
    /* A populated object refuses an attribute of another type. */
    CHECK(29, TEE_AllocateTransientObject(TEE_TYPE_AES, 128, &o) == TEE_SUCCESS);
    TEE_InitRefAttribute(&a, TEE_ATTR_HKDF_IKM, key128, 16);
    CHECK(30, TEE_PopulateTransientObject(o, &a, 1) == TEE_ERROR_BAD_PARAMETERS);
    TEE_FreeTransientObject(o);
    return 0;
}

/* CMD_PERSIST: a generated, non-extractable AES key stored, reopened and used. */
static uint32_t persist_battery(void) {
    TEE_ObjectHandle k, h;
    TEE_OperationHandle op;
    TEE_ObjectInfo info;
    uint8_t blk[16] = { 1, 2, 3 }, c1[16], c2[16];
    size_t n;
    if (TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "aes-key", 7, TEE_DATA_FLAG_ACCESS_WRITE_META, &h) == TEE_SUCCESS)
        TEE_CloseAndDeletePersistentObject1(h);
    CHECK(1, TEE_AllocateTransientObject(TEE_TYPE_AES, 256, &k) == TEE_SUCCESS);
    CHECK(2, TEE_GenerateKey(k, 256, NULL, 0) == TEE_SUCCESS);
    CHECK(3, TEE_RestrictObjectUsage1(k, TEE_USAGE_ENCRYPT | TEE_USAGE_DECRYPT) == TEE_SUCCESS);
    CHECK(4, TEE_AllocateOperation(&op, TEE_ALG_AES_ECB_NOPAD, TEE_MODE_ENCRYPT, 256) == TEE_SUCCESS);
    CHECK(5, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    TEE_CipherInit(op, NULL, 0);
    n = 16;
    CHECK(6, TEE_CipherDoFinal(op, blk, 16, c1, &n) == TEE_SUCCESS && n == 16);
    CHECK(7, TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "aes-key", 7, TEE_DATA_FLAG_ACCESS_READ, k, "meta", 4, NULL) == TEE_SUCCESS);
    TEE_FreeTransientObject(k);
    CHECK(8, TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "aes-key", 7, TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ, &h) == TEE_SUCCESS);
    CHECK(9, TEE_GetObjectInfo1(h, &info) == TEE_SUCCESS && info.objectType == TEE_TYPE_AES && info.objectSize == 256 &&
             info.objectUsage == (TEE_USAGE_ENCRYPT | TEE_USAGE_DECRYPT) && info.dataSize == 4 && (info.handleFlags & TEE_HANDLE_FLAG_PERSISTENT));
    CHECK(10, TEE_SetOperationKey(op, h) == TEE_SUCCESS);
    TEE_CipherInit(op, NULL, 0);
    n = 16;
    CHECK(11, TEE_CipherDoFinal(op, blk, 16, c2, &n) == TEE_SUCCESS && n == 16 && memcmp(c1, c2, 16) == 0);
    /* A transient copy of a persistent key works too (CopyObjectAttributes1 from a persistent object). */
    CHECK(12, TEE_AllocateTransientObject(TEE_TYPE_AES, 256, &k) == TEE_SUCCESS);
    CHECK(13, TEE_CopyObjectAttributes1(k, h) == TEE_SUCCESS);
    TEE_CloseObject(h);
    CHECK(14, TEE_SetOperationKey(op, k) == TEE_SUCCESS);
    TEE_CipherInit(op, NULL, 0);
    n = 16;
    CHECK(15, TEE_CipherDoFinal(op, blk, 16, c2, &n) == TEE_SUCCESS && memcmp(c1, c2, 16) == 0);
    TEE_FreeTransientObject(k);
    TEE_FreeOperation(op);
    return 0;
}

/* CMD_PANIC: one misuse GP makes a panic (the host expects TARGET_DEAD). */
static TEE_Result misuse(uint32_t which) {
    TEE_OperationHandle op;
    TEE_ObjectHandle k;
    uint8_t buf[32] = { 0 };
    size_t n = sizeof buf;
    switch (which) {
    case 1: /* Update before init. */
        TEE_AllocateOperation(&op, TEE_ALG_AES_CBC_NOPAD, TEE_MODE_ENCRYPT, 128);
        TEE_SetOperationKey(op, aes_key(key128, 16));
        TEE_CipherUpdate(op, buf, 16, buf, &n);
        break;
    case 2: /* A cipher function on a digest operation. */
        TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0);
        TEE_CipherInit(op, NULL, 0);
        break;
    case 3: /* Reading a secret of a non-extractable key. */
        k = aes_key(key128, 16);
        TEE_RestrictObjectUsage1(k, TEE_USAGE_ENCRYPT);
        TEE_GetObjectBufferAttribute(k, TEE_ATTR_SECRET_VALUE, buf, &n);
        break;
    case 4: /* A key of the wrong type. */
        TEE_AllocateOperation(&op, TEE_ALG_HMAC_SHA256, TEE_MODE_MAC, 256);
        TEE_SetOperationKey(op, aes_key(key128, 16));
        break;
    case 5: /* A NOPAD final that ends mid-block. */
        TEE_AllocateOperation(&op, TEE_ALG_AES_ECB_NOPAD, TEE_MODE_ENCRYPT, 128);
        TEE_SetOperationKey(op, aes_key(key128, 16));
        TEE_CipherInit(op, NULL, 0);
        TEE_CipherDoFinal(op, buf, 15, buf, &n);
        break;
    case 6: /* A handle that is not an operation. */
        TEE_ResetOperation((TEE_OperationHandle)(uintptr_t)0x7777);
        break;
    case 7: /* A key without the usage the mode needs. */
        TEE_AllocateOperation(&op, TEE_ALG_AES_ECB_NOPAD, TEE_MODE_DECRYPT, 128);
        k = aes_key(key128, 16);
        TEE_RestrictObjectUsage1(k, TEE_USAGE_ENCRYPT);
        TEE_SetOperationKey(op, k);
        break;
    case 8: /* Setting a key on an active operation. */
        TEE_AllocateOperation(&op, TEE_ALG_AES_ECB_NOPAD, TEE_MODE_ENCRYPT, 128);
        k = aes_key(key128, 16);
        TEE_SetOperationKey(op, k);
        TEE_CipherInit(op, NULL, 0);
        TEE_SetOperationKey(op, k);
        break;
    case 9: /* A key larger than the operation's maxKeySize. */
        TEE_AllocateOperation(&op, TEE_ALG_AES_ECB_NOPAD, TEE_MODE_ENCRYPT, 128);
        TEE_SetOperationKey(op, aes_key(k256_zero, 32));
        break;
    case 10: /* Populating an initialized object. */
        k = aes_key(key128, 16);
        { TEE_Attribute a; TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, key128, 16); TEE_PopulateTransientObject(k, &a, 1); }
        break;
    case 11: /* CopyOperation between different algorithms. */
        TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0);
        { TEE_OperationHandle o2; TEE_AllocateOperation(&o2, TEE_ALG_SHA1, TEE_MODE_DIGEST, 0); TEE_CopyOperation(o2, op); }
        break;
    case 12: /* DigestUpdate after DigestExtract. */
        TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0);
        TEE_DigestExtract(op, buf, &n);
        TEE_DigestUpdate(op, "a", 1);
        break;
    default:
        return TEE_ERROR_BAD_PARAMETERS;
    }
    return TEE_SUCCESS;
}

/* The session's AES-GCM key and operation for CMD_GCM (the bench). */
struct gcm_session { TEE_OperationHandle op; TEE_ObjectHandle key; };

static TEE_Result gcm_4k(struct gcm_session *s, TEE_Param p[4]) {
    static const uint8_t nonce[12] = { 0 };
    if (!s->op) {
        if (TEE_AllocateOperation(&s->op, TEE_ALG_AES_GCM, TEE_MODE_ENCRYPT, 128) != TEE_SUCCESS) return TEE_ERROR_GENERIC;
        s->key = aes_key(key128, 16);
        if (TEE_SetOperationKey(s->op, s->key) != TEE_SUCCESS) return TEE_ERROR_GENERIC;
    }
    size_t n = p[1].memref.size, t = 16;
    TEE_Result r = TEE_AEInit(s->op, nonce, sizeof nonce, 128, 0, p[0].memref.size);
    if (r != TEE_SUCCESS) return r;
    r = TEE_AEEncryptFinal(s->op, p[0].memref.buffer, p[0].memref.size, p[1].memref.buffer, &n, p[2].memref.buffer, &t);
    p[1].memref.size = n;
    p[2].memref.size = t;
    return r;
}

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
/* Crypto works in TA_DestroyEntryPoint too (a TA frees what it holds there). */
void TA_DestroyEntryPoint(void) {
    TEE_OperationHandle op;
    if (TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) == TEE_SUCCESS) {
        TEE_FreeOperation(op);
        IMSG("destroy: crypto ok");
    }
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **ctx) {
    static struct gcm_session s;
    memset(&s, 0, sizeof s);
    *ctx = &s;
    return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *ctx) {
    struct gcm_session *s = ctx;
    TEE_FreeOperation(s->op);
    TEE_FreeTransientObject(s->key);
}

TEE_Result TA_InvokeCommandEntryPoint(void *ctx, uint32_t cmd, uint32_t types, TEE_Param p[4]) {
    uint32_t r;
    checks = 0;
    switch (cmd) {
    case CMD_NOP: p[0].value.a++; return TEE_SUCCESS;
    case CMD_RUN: return run(p);
    case CMD_STATE: r = state_battery(); p[0].value.a = r; p[0].value.b = checks; return TEE_SUCCESS;
    case CMD_KEYS: r = keys_battery(); p[0].value.a = r; p[0].value.b = checks; return TEE_SUCCESS;
    case CMD_PERSIST: r = persist_battery(); p[0].value.a = r; p[0].value.b = checks; return TEE_SUCCESS;
    case CMD_PANIC: return misuse(p[0].value.a);
    case CMD_GCM: return gcm_4k(ctx, p);
    default: return TEE_ERROR_BAD_PARAMETERS;
    }
}
