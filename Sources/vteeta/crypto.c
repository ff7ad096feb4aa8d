/* libvteeta GP cryptographic operations: each call forwards to the secure world's crypto state
 * (module TACrypto, requests VTEE_REQ_CRYPTO_*), where operation state and keys live; a
 * TEE_OperationHandle is the secure world's handle number. Results a function may not return
 * panic, as OP-TEE's libutee does (the secure world reports the state errors as BAD_STATE /
 * BAD_PARAMETERS and this file turns them into TEE_Panic). One call carries at most
 * VTEE_CH_REQ_BYTES / 2 bytes of data (digest, MAC and AAD updates are split). TA world. */
#include "internal.h"

#include <string.h>

#define TEE_ERROR_MAC_INVALID 0xFFFF3071u
#define TEE_ERROR_SIGNATURE_INVALID 0xFFFF3072u
#define TEE_ERROR_CIPHERTEXT_INVALID 0xF0100006u
#define MAX_DATA (VTEE_CH_REQ_BYTES / 2)

typedef struct __TEE_OperationHandle *TEE_OperationHandle;
typedef struct { uint32_t algorithm, operationClass, mode, digestLength, maxKeySize, keySize, requiredKeyUsage, handleState; } TEE_OperationInfo;
typedef struct { uint32_t keySize, requiredKeyUsage; } TEE_OperationInfoKey;
typedef struct {
    uint32_t algorithm, operationClass, mode, digestLength, maxKeySize, handleState, operationState, numberOfKeys;
    TEE_OperationInfoKey keyInformation[];
} TEE_OperationInfoMultiple;

/* Step kinds of VTEE_REQ_CRYPTO_OP_STEP (TACrypto's CryptoStep). */
enum { ST_DIGEST_UPDATE = 1, ST_DIGEST_FINAL = 2, ST_CIPHER_UPDATE = 3, ST_CIPHER_FINAL = 4, ST_MAC_UPDATE = 5,
       ST_MAC_COMPUTE = 6, ST_MAC_COMPARE = 7, ST_AE_AAD = 8, ST_AE_UPDATE = 9, ST_AE_ENC_FINAL = 10, ST_AE_DEC_FINAL = 11, ST_DIGEST_EXTRACT = 12 };

static TEE_Result allow(TEE_Result r, const TEE_Result *allowed, size_t n) {
    if (r == TEE_SUCCESS) return r;
    for (size_t i = 0; i < n; i++) if (allowed[i] == r) return r;
    TEE_Panic(r);
}
#define ALLOW(r, ...) allow((r), (const TEE_Result[]){ __VA_ARGS__ }, sizeof((const TEE_Result[]){ __VA_ARGS__ }) / sizeof(TEE_Result))
static void must(TEE_Result r) { if (r != TEE_SUCCESS) TEE_Panic(r); }

static uint32_t op_id(TEE_OperationHandle op) {
    uintptr_t v = (uintptr_t)(void *)op;
    if (!v || v > UINT32_MAX) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return (uint32_t)v;
}

static uint32_t key_id(TEE_ObjectHandle h) {
    if (!h) return 0;
    uint32_t k = vt_object_key(h, NULL);
    if (!k) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return k;
}

/* MARK: generic operations */

VTEETA_API TEE_Result TEE_AllocateOperation(TEE_OperationHandle *operation, uint32_t algorithm, uint32_t mode, uint32_t maxKeySize) {
    if (!operation) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *operation = NULL;
    vt_ctl->req_args[0] = algorithm; vt_ctl->req_args[1] = mode; vt_ctl->req_args[2] = maxKeySize;
    TEE_Result r = ALLOW(vt_request(VTEE_REQ_CRYPTO_OP_ALLOC), TEE_ERROR_NOT_SUPPORTED, TEE_ERROR_OUT_OF_MEMORY);
    if (r == TEE_SUCCESS) *operation = (TEE_OperationHandle)(uintptr_t)vt_ctl->req_args[0];
    return r;
}

VTEETA_API void TEE_FreeOperation(TEE_OperationHandle operation) {
    if (!operation) return;
    vt_ctl->req_args[0] = op_id(operation);
    must(vt_request(VTEE_REQ_CRYPTO_OP_FREE));
}

/* Fetches info (8 words) and infoMultiple (8 + 2n words) of `operation`. */
static uint32_t fetch_info(TEE_OperationHandle operation, uint32_t *words, uint32_t cap) {
    vt_ctl->req_args[0] = op_id(operation);
    must(vt_request(VTEE_REQ_CRYPTO_OP_INFO));
    uint64_t n = vt_ctl->req_args[1];
    if (n > cap) TEE_Panic(TEE_ERROR_COMMUNICATION);
    memcpy(words, vt_req_area, (size_t)n * 4);
    return (uint32_t)n;
}

VTEETA_API void TEE_GetOperationInfo(TEE_OperationHandle operation, TEE_OperationInfo *operationInfo) {
    if (!operationInfo) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    uint32_t w[24];
    if (fetch_info(operation, w, 24) < 8) TEE_Panic(TEE_ERROR_COMMUNICATION);
    memcpy(operationInfo, w, sizeof *operationInfo);
}

VTEETA_API TEE_Result TEE_GetOperationInfoMultiple(TEE_OperationHandle operation, TEE_OperationInfoMultiple *info, size_t *operationSize) {
    if (!info || !operationSize) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    uint32_t w[24];
    uint32_t n = fetch_info(operation, w, 24);
    if (n < 16) TEE_Panic(TEE_ERROR_COMMUNICATION);
    uint32_t keys = w[8 + 7];
    if (keys > 2 || n != 16 + 2 * keys) TEE_Panic(TEE_ERROR_COMMUNICATION);
    size_t need = sizeof(TEE_OperationInfoMultiple) + keys * sizeof(TEE_OperationInfoKey);
    if (*operationSize < need) { *operationSize = need; return TEE_ERROR_SHORT_BUFFER; }
    memcpy(info, w + 8, need);
    *operationSize = need;
    return TEE_SUCCESS;
}

VTEETA_API void TEE_ResetOperation(TEE_OperationHandle operation) {
    vt_ctl->req_args[0] = op_id(operation);
    must(vt_request(VTEE_REQ_CRYPTO_OP_RESET));
}

VTEETA_API TEE_Result TEE_SetOperationKey(TEE_OperationHandle operation, TEE_ObjectHandle key) {
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = key_id(key);
    vt_ctl->req_args[2] = 0; vt_ctl->req_args[3] = 0;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OP_SET_KEY), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

VTEETA_API TEE_Result TEE_SetOperationKey2(TEE_OperationHandle operation, TEE_ObjectHandle key1, TEE_ObjectHandle key2) {
    if ((key1 == NULL) != (key2 == NULL)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = key_id(key1);
    vt_ctl->req_args[2] = key_id(key2);
    vt_ctl->req_args[3] = 1;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_OP_SET_KEY), TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NOT_AVAILABLE);
}

VTEETA_API void TEE_CopyOperation(TEE_OperationHandle dstOperation, TEE_OperationHandle srcOperation) {
    vt_ctl->req_args[0] = op_id(dstOperation);
    vt_ctl->req_args[1] = op_id(srcOperation);
    must(vt_request(VTEE_REQ_CRYPTO_OP_COPY));
}

VTEETA_API TEE_Result TEE_IsAlgorithmSupported(uint32_t algId, uint32_t element) {
    vt_ctl->req_args[0] = algId; vt_ctl->req_args[1] = element;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_SUPPORTED), TEE_ERROR_NOT_SUPPORTED);
}

/* MARK: data steps */

/* One step: `in` (n bytes) then `tag` (t bytes) into the request area; output up to *outLen
 * bytes back into `out`. Returns the secure world's result; *outLen / *tagLen get the sizes. */
static TEE_Result step(TEE_OperationHandle operation, uint32_t kind, const void *in, size_t n, void *out, size_t *outLen,
                       const void *tag, size_t t, void *tagOut, size_t *tagLen) {
    if ((n && !in) || (t && !tag)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (n > MAX_DATA || t > 64) TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
    size_t cap = outLen ? *outLen : 0;
    if (cap && !out) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (n) memcpy(vt_req_area, in, n);
    if (t) memcpy(vt_req_area + n, tag, t);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = kind;
    vt_ctl->req_args[2] = n;
    vt_ctl->req_args[3] = cap > MAX_DATA ? MAX_DATA : cap;
    vt_ctl->req_args[4] = tagLen ? *tagLen : t;
    TEE_Result r = vt_request(VTEE_REQ_CRYPTO_OP_STEP);
    if (r == TEE_ERROR_SHORT_BUFFER) {
        if (outLen) *outLen = (size_t)vt_ctl->req_args[2];
        if (tagLen) *tagLen = (size_t)vt_ctl->req_args[4];
        return r;
    }
    if (r != TEE_SUCCESS) return r;
    size_t got = (size_t)vt_ctl->req_args[2], tg = (size_t)vt_ctl->req_args[4];
    if (got > cap || (tagLen && tg > *tagLen) || got + tg > VTEE_CH_REQ_BYTES) TEE_Panic(TEE_ERROR_COMMUNICATION);
    if (got) memcpy(out, vt_req_area, got);
    if (outLen) *outLen = got;
    if (tagLen) { if (tg) memcpy(tagOut, vt_req_area + got, tg); *tagLen = tg; }
    return TEE_SUCCESS;
}

/* An update without output, split into request-sized chunks. */
static void feed(TEE_OperationHandle operation, uint32_t kind, const void *chunk, size_t len) {
    if (len && !chunk) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    const uint8_t *p = chunk;
    do {
        size_t n = len > MAX_DATA ? MAX_DATA : len;
        size_t zero = 0;
        must(step(operation, kind, p, n, NULL, &zero, NULL, 0, NULL, NULL));
        p += n; len -= n;
    } while (len);
}

VTEETA_API void TEE_DigestUpdate(TEE_OperationHandle operation, const void *chunk, size_t chunkSize) {
    feed(operation, ST_DIGEST_UPDATE, chunk, chunkSize);
}

VTEETA_API TEE_Result TEE_DigestDoFinal(TEE_OperationHandle operation, const void *chunk, size_t chunkLen, void *hash, size_t *hashLen) {
    if (!hashLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (chunkLen > MAX_DATA) { feed(operation, ST_DIGEST_UPDATE, chunk, chunkLen); chunkLen = 0; }
    return ALLOW(step(operation, ST_DIGEST_FINAL, chunk, chunkLen, hash, hashLen, NULL, 0, NULL, NULL), TEE_ERROR_SHORT_BUFFER);
}

/* GP 1.3.1: the digest in pieces; the first call finishes it, later ones continue (no SHORT_BUFFER). */
VTEETA_API TEE_Result TEE_DigestExtract(TEE_OperationHandle operation, void *hash, size_t *hashLen) {
    if (!hashLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    must(step(operation, ST_DIGEST_EXTRACT, NULL, 0, hash, hashLen, NULL, 0, NULL, NULL));
    return TEE_SUCCESS;
}

static void init_iv(TEE_OperationHandle operation, const void *IV, size_t IVLen) {
    if (IVLen && !IV) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (IVLen > 4096) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (IVLen) memcpy(vt_req_area, IV, IVLen);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = IVLen;
    must(vt_request(VTEE_REQ_CRYPTO_OP_INIT));
}

VTEETA_API void TEE_CipherInit(TEE_OperationHandle operation, const void *IV, size_t IVLen) { init_iv(operation, IV, IVLen); }

VTEETA_API TEE_Result TEE_CipherUpdate(TEE_OperationHandle operation, const void *srcData, size_t srcLen, void *destData, size_t *destLen) {
    if (!destLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(step(operation, ST_CIPHER_UPDATE, srcData, srcLen, destData, destLen, NULL, 0, NULL, NULL), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API TEE_Result TEE_CipherDoFinal(TEE_OperationHandle operation, const void *srcData, size_t srcLen, void *destData, size_t *destLen) {
    size_t zero = 0;
    if (!destLen) { if (srcLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS); destLen = &zero; }
    return ALLOW(step(operation, ST_CIPHER_FINAL, srcData, srcLen, destData, destLen, NULL, 0, NULL, NULL), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API void TEE_MACInit(TEE_OperationHandle operation, const void *IV, size_t IVLen) { init_iv(operation, IV, IVLen); }

VTEETA_API void TEE_MACUpdate(TEE_OperationHandle operation, const void *chunk, size_t chunkSize) {
    feed(operation, ST_MAC_UPDATE, chunk, chunkSize);
}

VTEETA_API TEE_Result TEE_MACComputeFinal(TEE_OperationHandle operation, const void *message, size_t messageLen, void *mac, size_t *macLen) {
    if (!macLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (messageLen > MAX_DATA) { feed(operation, ST_MAC_UPDATE, message, messageLen); messageLen = 0; }
    return ALLOW(step(operation, ST_MAC_COMPUTE, message, messageLen, mac, macLen, NULL, 0, NULL, NULL), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API TEE_Result TEE_MACCompareFinal(TEE_OperationHandle operation, const void *message, size_t messageLen, const void *mac, size_t macLen) {
    if (macLen && !mac) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (macLen > 64) return TEE_ERROR_MAC_INVALID;
    if (messageLen > MAX_DATA) { feed(operation, ST_MAC_UPDATE, message, messageLen); messageLen = 0; }
    size_t zero = 0;
    return ALLOW(step(operation, ST_MAC_COMPARE, message, messageLen, NULL, &zero, mac, macLen, NULL, NULL), TEE_ERROR_MAC_INVALID);
}

VTEETA_API TEE_Result TEE_AEInit(TEE_OperationHandle operation, const void *nonce, size_t nonceLen, uint32_t tagLen, size_t AADLen, size_t payloadLen) {
    if ((nonceLen && !nonce) || nonceLen > 4096) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (nonceLen) memcpy(vt_req_area, nonce, nonceLen);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = nonceLen; vt_ctl->req_args[2] = tagLen;
    vt_ctl->req_args[3] = AADLen; vt_ctl->req_args[4] = payloadLen;
    return ALLOW(vt_request(VTEE_REQ_CRYPTO_AE_INIT), TEE_ERROR_NOT_SUPPORTED);
}

VTEETA_API void TEE_AEUpdateAAD(TEE_OperationHandle operation, const void *AADdata, size_t AADdataLen) {
    feed(operation, ST_AE_AAD, AADdata, AADdataLen);
}

VTEETA_API TEE_Result TEE_AEUpdate(TEE_OperationHandle operation, const void *srcData, size_t srcLen, void *destData, size_t *destLen) {
    if (!destLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(step(operation, ST_AE_UPDATE, srcData, srcLen, destData, destLen, NULL, 0, NULL, NULL), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API TEE_Result TEE_AEEncryptFinal(TEE_OperationHandle operation, const void *srcData, size_t srcLen, void *destData, size_t *destLen,
                                         void *tag, size_t *tagLen) {
    if (!destLen || !tagLen || (*tagLen && !tag)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(step(operation, ST_AE_ENC_FINAL, srcData, srcLen, destData, destLen, NULL, 0, tag, tagLen), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API TEE_Result TEE_AEDecryptFinal(TEE_OperationHandle operation, const void *srcData, size_t srcLen, void *destData, size_t *destLen,
                                         void *tag, size_t tagLen) {
    if (!destLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (tagLen > 64) return TEE_ERROR_MAC_INVALID;
    return ALLOW(step(operation, ST_AE_DEC_FINAL, srcData, srcLen, destData, destLen, tag, tagLen, NULL, NULL),
                 TEE_ERROR_SHORT_BUFFER, TEE_ERROR_MAC_INVALID);
}

/* MARK: asymmetric and key derivation */

static TEE_Result asym(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount, const void *src, size_t srcLen,
                       const void *sig, size_t sigLen, void *dest, size_t *destLen) {
    if ((srcLen && !src) || (sigLen && !sig)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t blob = vt_attrs_encode(params, paramCount, vt_req_area, MAX_DATA);
    if (blob == SIZE_MAX || srcLen > MAX_DATA - blob || sigLen > MAX_DATA - blob - srcLen) TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
    if (srcLen) memcpy(vt_req_area + blob, src, srcLen);
    if (sigLen) memcpy(vt_req_area + blob + srcLen, sig, sigLen);
    size_t cap = destLen ? *destLen : 0;
    if (cap && !dest) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = blob; vt_ctl->req_args[2] = srcLen; vt_ctl->req_args[3] = sigLen;
    vt_ctl->req_args[4] = cap > MAX_DATA ? MAX_DATA : cap;
    TEE_Result r = vt_request(VTEE_REQ_CRYPTO_ASYM);
    if (r == TEE_ERROR_SHORT_BUFFER && destLen) { *destLen = (size_t)vt_ctl->req_args[2]; return r; }
    if (r != TEE_SUCCESS) return r;
    size_t got = (size_t)vt_ctl->req_args[2];
    if (got > cap) TEE_Panic(TEE_ERROR_COMMUNICATION);
    if (got) memcpy(dest, vt_req_area, got);
    if (destLen) *destLen = got;
    return TEE_SUCCESS;
}

VTEETA_API TEE_Result TEE_AsymmetricEncrypt(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount,
                                            const void *srcData, size_t srcLen, void *destData, size_t *destLen) {
    if (!destLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(asym(operation, params, paramCount, srcData, srcLen, NULL, 0, destData, destLen), TEE_ERROR_SHORT_BUFFER,
                 TEE_ERROR_BAD_PARAMETERS);
}

VTEETA_API TEE_Result TEE_AsymmetricDecrypt(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount,
                                            const void *srcData, size_t srcLen, void *destData, size_t *destLen) {
    if (!destLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(asym(operation, params, paramCount, srcData, srcLen, NULL, 0, destData, destLen), TEE_ERROR_SHORT_BUFFER,
                 TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_CIPHERTEXT_INVALID);
}

VTEETA_API TEE_Result TEE_AsymmetricSignDigest(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount,
                                               const void *digest, size_t digestLen, void *signature, size_t *signatureLen) {
    if (!signatureLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    return ALLOW(asym(operation, params, paramCount, digest, digestLen, NULL, 0, signature, signatureLen), TEE_ERROR_SHORT_BUFFER);
}

VTEETA_API TEE_Result TEE_AsymmetricVerifyDigest(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount,
                                                 const void *digest, size_t digestLen, const void *signature, size_t signatureLen) {
    return ALLOW(asym(operation, params, paramCount, digest, digestLen, signature, signatureLen, NULL, NULL), TEE_ERROR_SIGNATURE_INVALID);
}

VTEETA_API void TEE_DeriveKey(TEE_OperationHandle operation, const TEE_Attribute *params, uint32_t paramCount, TEE_ObjectHandle derivedKey) {
    int persistent = 0;
    uint32_t k = derivedKey ? vt_object_key(derivedKey, &persistent) : 0;
    if (!k || persistent) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t blob = vt_attrs_encode(params, paramCount, vt_req_area, MAX_DATA);
    if (blob == SIZE_MAX) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = op_id(operation);
    vt_ctl->req_args[1] = k;
    vt_ctl->req_args[2] = blob;
    must(vt_request(VTEE_REQ_CRYPTO_DERIVE));
}
