/* vtee's bench C TA. Command 0: NOP (value a + 1), for ta_c_invoke_ns. Command 1: AES-128-GCM
 * encryption of memref 0 into memref 1 with the tag in memref 2 (one TEE_AEInit and one
 * TEE_AEEncryptFinal on the session's operation), for ta_aes_gcm_4k_ns. */
#include <string.h>
#include <tee_internal_api.h>

struct bench_session { TEE_OperationHandle op; TEE_ObjectHandle key; };

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **ctx) {
    static struct bench_session s;
    static const uint8_t key[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
    TEE_Attribute a;
    TEE_Result r = TEE_AllocateOperation(&s.op, TEE_ALG_AES_GCM, TEE_MODE_ENCRYPT, 128);
    if (r != TEE_SUCCESS) return r;
    if ((r = TEE_AllocateTransientObject(TEE_TYPE_AES, 128, &s.key)) != TEE_SUCCESS) return r;
    TEE_InitRefAttribute(&a, TEE_ATTR_SECRET_VALUE, key, sizeof key);
    if ((r = TEE_PopulateTransientObject(s.key, &a, 1)) != TEE_SUCCESS) return r;
    if ((r = TEE_SetOperationKey(s.op, s.key)) != TEE_SUCCESS) return r;
    *ctx = &s;
    return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *ctx) {
    struct bench_session *s = ctx;
    TEE_FreeOperation(s->op);
    TEE_FreeTransientObject(s->key);
}

TEE_Result TA_InvokeCommandEntryPoint(void *ctx, uint32_t cmd, uint32_t types, TEE_Param p[4]) {
    struct bench_session *s = ctx;
    static uint8_t nonce[12];
    if (cmd == 0) { p[0].value.a++; return TEE_SUCCESS; }
    if (cmd != 1 || types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    nonce[11]++;   /* a fresh nonce per message */
    size_t n = p[1].memref.size, t = p[2].memref.size;
    TEE_Result r = TEE_AEInit(s->op, nonce, sizeof nonce, 128, 0, p[0].memref.size);
    if (r != TEE_SUCCESS) return r;
    r = TEE_AEEncryptFinal(s->op, p[0].memref.buffer, p[0].memref.size, p[1].memref.buffer, &n, p[2].memref.buffer, &t);
    p[1].memref.size = n;
    p[2].memref.size = t;
    return r;
}
