/* libvteeta: the GP 1.1 shapes (__GP11_*) of the cryptographic API that a TA built with
 * CFG_TA_OPTEE_CORE_API_COMPAT_1_1 calls (sizes as uint32_t, the 1.1 TEE_Attribute and
 * TEE_ObjectInfo), each a thin conversion around the 1.3 function in crypto.c / storage.c.
 * TA world. */
#include "internal.h"

#include <string.h>

typedef struct __TEE_OperationHandle *TEE_OperationHandle;
typedef struct { uint32_t attributeID; union { struct { void *buffer; uint32_t length; } ref; struct { uint32_t a, b; } value; } content; } gp11_attr;
typedef struct { uint32_t objectType, objectSize, maxObjectSize, objectUsage, dataSize, dataPosition, handleFlags; } gp11_info;

/* 1.3 functions this file wraps. */
TEE_Result TEE_GetObjectInfo1(TEE_ObjectHandle, TEE_ObjectInfo *);
TEE_Result TEE_GenerateKey(TEE_ObjectHandle, uint32_t, const TEE_Attribute *, uint32_t);
void TEE_FreeOperation(TEE_OperationHandle);
TEE_Result TEE_GetOperationInfoMultiple(TEE_OperationHandle, void *, size_t *);
TEE_Result TEE_SetOperationKey(TEE_OperationHandle, TEE_ObjectHandle);
TEE_Result TEE_SetOperationKey2(TEE_OperationHandle, TEE_ObjectHandle, TEE_ObjectHandle);
void TEE_DigestUpdate(TEE_OperationHandle, const void *, size_t);
TEE_Result TEE_DigestDoFinal(TEE_OperationHandle, const void *, size_t, void *, size_t *);
void TEE_CipherInit(TEE_OperationHandle, const void *, size_t);
TEE_Result TEE_CipherUpdate(TEE_OperationHandle, const void *, size_t, void *, size_t *);
TEE_Result TEE_CipherDoFinal(TEE_OperationHandle, const void *, size_t, void *, size_t *);
void TEE_MACInit(TEE_OperationHandle, const void *, size_t);
void TEE_MACUpdate(TEE_OperationHandle, const void *, size_t);
TEE_Result TEE_MACComputeFinal(TEE_OperationHandle, const void *, size_t, void *, size_t *);
TEE_Result TEE_MACCompareFinal(TEE_OperationHandle, const void *, size_t, const void *, size_t);
TEE_Result TEE_AEInit(TEE_OperationHandle, const void *, size_t, uint32_t, size_t, size_t);
void TEE_AEUpdateAAD(TEE_OperationHandle, const void *, size_t);
TEE_Result TEE_AEUpdate(TEE_OperationHandle, const void *, size_t, void *, size_t *);
TEE_Result TEE_AEEncryptFinal(TEE_OperationHandle, const void *, size_t, void *, size_t *, void *, size_t *);
TEE_Result TEE_AEDecryptFinal(TEE_OperationHandle, const void *, size_t, void *, size_t *, void *, size_t);
TEE_Result TEE_AsymmetricEncrypt(TEE_OperationHandle, const TEE_Attribute *, uint32_t, const void *, size_t, void *, size_t *);
TEE_Result TEE_AsymmetricDecrypt(TEE_OperationHandle, const TEE_Attribute *, uint32_t, const void *, size_t, void *, size_t *);
TEE_Result TEE_AsymmetricSignDigest(TEE_OperationHandle, const TEE_Attribute *, uint32_t, const void *, size_t, void *, size_t *);
TEE_Result TEE_AsymmetricVerifyDigest(TEE_OperationHandle, const TEE_Attribute *, uint32_t, const void *, size_t, const void *, size_t);
void TEE_DeriveKey(TEE_OperationHandle, const TEE_Attribute *, uint32_t, TEE_ObjectHandle);

static uint32_t narrow(size_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

/* Widens up to 64 1.1 attributes into `out`; panics on more (libutee bounds them the same way). */
static const TEE_Attribute *widen(const gp11_attr *in, uint32_t n, TEE_Attribute *out) {
    if (!n) return NULL;
    if (n > 64 || !in) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    for (uint32_t i = 0; i < n; i++) {
        out[i].attributeID = in[i].attributeID;
        if (in[i].attributeID & TEE_ATTR_FLAG_VALUE) { out[i].content.value.a = in[i].content.value.a; out[i].content.value.b = in[i].content.value.b; }
        else { out[i].content.ref.buffer = in[i].content.ref.buffer; out[i].content.ref.length = in[i].content.ref.length; }
    }
    return out;
}

/* A 1.1 in/out length as the size_t l_ of a 1.3 call (NULL panics, as libutee). */
#define LEN_IN(p32) size_t l_; if (!(p32)) TEE_Panic(TEE_ERROR_BAD_PARAMETERS); l_ = *(p32)

VTEETA_API TEE_Result __GP11_TEE_GetObjectInfo1(TEE_ObjectHandle object, gp11_info *info) {
    if (!info) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_ObjectInfo i;
    TEE_Result r = TEE_GetObjectInfo1(object, &i);
    if (r != TEE_SUCCESS) return r;
    info->objectType = i.objectType; info->objectSize = i.objectSize; info->maxObjectSize = i.maxObjectSize;
    info->objectUsage = i.objectUsage; info->dataSize = narrow(i.dataSize); info->dataPosition = narrow(i.dataPosition);
    info->handleFlags = i.handleFlags;
    return r;
}

VTEETA_API TEE_Result __GP11_TEE_GenerateKey(TEE_ObjectHandle object, uint32_t keySize, const gp11_attr *params, uint32_t n) {
    TEE_Attribute a[64];
    return TEE_GenerateKey(object, keySize, widen(params, n, a), n);
}

VTEETA_API void __GP11_TEE_FreeOperation(TEE_OperationHandle operation) { TEE_FreeOperation(operation); }

VTEETA_API TEE_Result __GP11_TEE_GetOperationInfoMultiple(TEE_OperationHandle operation, void *info, uint32_t *size) {
    LEN_IN(size);
    TEE_Result r_ = TEE_GetOperationInfoMultiple(operation, info, &l_);
    *size = narrow(l_);
    return r_;
}

VTEETA_API TEE_Result __GP11_TEE_SetOperationKey(TEE_OperationHandle operation, TEE_ObjectHandle key) { return TEE_SetOperationKey(operation, key); }
VTEETA_API TEE_Result __GP11_TEE_SetOperationKey2(TEE_OperationHandle operation, TEE_ObjectHandle k1, TEE_ObjectHandle k2) {
    return TEE_SetOperationKey2(operation, k1, k2);
}

VTEETA_API void __GP11_TEE_DigestUpdate(TEE_OperationHandle operation, const void *chunk, uint32_t len) { TEE_DigestUpdate(operation, chunk, len); }
VTEETA_API TEE_Result __GP11_TEE_DigestDoFinal(TEE_OperationHandle operation, const void *chunk, uint32_t len, void *hash, uint32_t *hashLen) {
    LEN_IN(hashLen);
    TEE_Result r_ = TEE_DigestDoFinal(operation, chunk, len, hash, &l_);
    *hashLen = narrow(l_);
    return r_;
}

VTEETA_API void __GP11_TEE_CipherInit(TEE_OperationHandle operation, const void *iv, uint32_t ivLen) { TEE_CipherInit(operation, iv, ivLen); }
VTEETA_API TEE_Result __GP11_TEE_CipherUpdate(TEE_OperationHandle operation, const void *src, uint32_t srcLen, void *dst, uint32_t *dstLen) {
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_CipherUpdate(operation, src, srcLen, dst, &l_);
    *dstLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_CipherDoFinal(TEE_OperationHandle operation, const void *src, uint32_t srcLen, void *dst, uint32_t *dstLen) {
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_CipherDoFinal(operation, src, srcLen, dst, &l_);
    *dstLen = narrow(l_);
    return r_;
}

VTEETA_API void __GP11_TEE_MACInit(TEE_OperationHandle operation, const void *iv, uint32_t ivLen) { TEE_MACInit(operation, iv, ivLen); }
VTEETA_API void __GP11_TEE_MACUpdate(TEE_OperationHandle operation, const void *chunk, uint32_t len) { TEE_MACUpdate(operation, chunk, len); }
VTEETA_API TEE_Result __GP11_TEE_MACComputeFinal(TEE_OperationHandle operation, const void *msg, uint32_t msgLen, void *mac, uint32_t *macLen) {
    LEN_IN(macLen);
    TEE_Result r_ = TEE_MACComputeFinal(operation, msg, msgLen, mac, &l_);
    *macLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_MACCompareFinal(TEE_OperationHandle operation, const void *msg, uint32_t msgLen, const void *mac, uint32_t macLen) {
    return TEE_MACCompareFinal(operation, msg, msgLen, mac, macLen);
}

VTEETA_API TEE_Result __GP11_TEE_AEInit(TEE_OperationHandle operation, const void *nonce, uint32_t nonceLen, uint32_t tagLen,
                                        uint32_t aadLen, uint32_t payloadLen) {
    return TEE_AEInit(operation, nonce, nonceLen, tagLen, aadLen, payloadLen);
}
VTEETA_API void __GP11_TEE_AEUpdateAAD(TEE_OperationHandle operation, const void *aad, uint32_t len) { TEE_AEUpdateAAD(operation, aad, len); }
VTEETA_API TEE_Result __GP11_TEE_AEUpdate(TEE_OperationHandle operation, const void *src, uint32_t srcLen, void *dst, uint32_t *dstLen) {
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_AEUpdate(operation, src, srcLen, dst, &l_);
    *dstLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_AEEncryptFinal(TEE_OperationHandle operation, const void *src, uint32_t srcLen, void *dst, uint32_t *dstLen,
                                                void *tag, uint32_t *tagLen) {
    if (!dstLen || !tagLen) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    size_t d = *dstLen, t = *tagLen;
    TEE_Result r = TEE_AEEncryptFinal(operation, src, srcLen, dst, &d, tag, &t);
    *dstLen = narrow(d); *tagLen = narrow(t);
    return r;
}
VTEETA_API TEE_Result __GP11_TEE_AEDecryptFinal(TEE_OperationHandle operation, const void *src, uint32_t srcLen, void *dst, uint32_t *dstLen,
                                                void *tag, uint32_t tagLen) {
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_AEDecryptFinal(operation, src, srcLen, dst, &l_, tag, tagLen);
    *dstLen = narrow(l_);
    return r_;
}

VTEETA_API TEE_Result __GP11_TEE_AsymmetricEncrypt(TEE_OperationHandle operation, const gp11_attr *params, uint32_t n, const void *src,
                                                   uint32_t srcLen, void *dst, uint32_t *dstLen) {
    TEE_Attribute a[64];
    const TEE_Attribute *w = widen(params, n, a);
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_AsymmetricEncrypt(operation, w, n, src, srcLen, dst, &l_);
    *dstLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_AsymmetricDecrypt(TEE_OperationHandle operation, const gp11_attr *params, uint32_t n, const void *src,
                                                   uint32_t srcLen, void *dst, uint32_t *dstLen) {
    TEE_Attribute a[64];
    const TEE_Attribute *w = widen(params, n, a);
    LEN_IN(dstLen);
    TEE_Result r_ = TEE_AsymmetricDecrypt(operation, w, n, src, srcLen, dst, &l_);
    *dstLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_AsymmetricSignDigest(TEE_OperationHandle operation, const gp11_attr *params, uint32_t n, const void *digest,
                                                      uint32_t digestLen, void *sig, uint32_t *sigLen) {
    TEE_Attribute a[64];
    const TEE_Attribute *w = widen(params, n, a);
    LEN_IN(sigLen);
    TEE_Result r_ = TEE_AsymmetricSignDigest(operation, w, n, digest, digestLen, sig, &l_);
    *sigLen = narrow(l_);
    return r_;
}
VTEETA_API TEE_Result __GP11_TEE_AsymmetricVerifyDigest(TEE_OperationHandle operation, const gp11_attr *params, uint32_t n, const void *digest,
                                                        uint32_t digestLen, const void *sig, uint32_t sigLen) {
    TEE_Attribute a[64];
    return TEE_AsymmetricVerifyDigest(operation, widen(params, n, a), n, digest, digestLen, sig, sigLen);
}
VTEETA_API void __GP11_TEE_DeriveKey(TEE_OperationHandle operation, const gp11_attr *params, uint32_t n, TEE_ObjectHandle derived) {
    TEE_Attribute a[64];
    TEE_DeriveKey(operation, widen(params, n, a), n, derived);
}
