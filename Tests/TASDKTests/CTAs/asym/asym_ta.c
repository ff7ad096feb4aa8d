/*
 * vtee test TA "asym": runs TEE_AsymmetricEncrypt/Decrypt/SignDigest/VerifyDigest and
 * TEE_DeriveKey with a key populated from the client's attributes, and TEE_GenerateKey for key
 * pairs, so that a test can hold the results against published vectors.
 */
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include <asym_ta.h>

#define MAX_ATTRS 16

static TEE_Attribute attrs[MAX_ATTRS];

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t __unused, TEE_Param p[4] __unused, void **s __unused) { return TEE_SUCCESS; }
void TA_CloseSessionEntryPoint(void *s __unused) {}

static uint32_t le32(const uint8_t *b) { return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }
static void put32(uint8_t *b, uint32_t v) { b[0] = v; b[1] = v >> 8; b[2] = v >> 16; b[3] = v >> 24; }

/* Decodes an attribute list into attrs[] (pointing into buf); returns the count. */
static uint32_t decode(uint8_t *buf, size_t len)
{
	uint32_t n = 0;
	size_t off = 4;

	if (len < 4)
		return 0;
	n = le32(buf);
	if (n > MAX_ATTRS)
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = 0, l = 0;

		if (off + 8 > len)
			TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
		id = le32(buf + off);
		l = le32(buf + off + 4);
		off += 8;
		if (l > len - off)
			TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
		if (id & TEE_ATTR_FLAG_VALUE) {
			uint32_t a = l == 4 ? (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
					 (uint32_t)buf[off + 2] << 8 | buf[off + 3] : 0;
			TEE_InitValueAttribute(&attrs[i], id, a, 0);
		} else {
			TEE_InitRefAttribute(&attrs[i], id, buf + off, l);
		}
		off += l;
	}
	return n;
}

static TEE_Result operate(uint32_t types, TEE_Param p[4])
{
	uint32_t alg = p[0].value.a, mode = p[0].value.b;
	uint8_t *key = p[1].memref.buffer;
	size_t out_len = p[3].memref.size;
	TEE_ObjectHandle obj = TEE_HANDLE_NULL, derived = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Result res = TEE_SUCCESS;
	uint32_t n = 0, type = 0, bits = 0;

	if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
				     TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INOUT) || p[1].memref.size < 8)
		return TEE_ERROR_BAD_PARAMETERS;
	type = le32(key);
	bits = le32(key + 4);
	n = decode(key + 8, p[1].memref.size - 8);
	res = TEE_AllocateTransientObject(type, bits, &obj);
	if (res)
		return res;
	res = TEE_PopulateTransientObject(obj, attrs, n);
	if (res)
		goto out;
	res = TEE_AllocateOperation(&op, alg, mode, bits);
	if (res)
		goto out;
	res = TEE_SetOperationKey(op, obj);
	if (res)
		goto out;
	switch (mode) {
	case TEE_MODE_ENCRYPT:
		res = TEE_AsymmetricEncrypt(op, NULL, 0, p[2].memref.buffer, p[2].memref.size, p[3].memref.buffer, &out_len);
		break;
	case TEE_MODE_DECRYPT:
		res = TEE_AsymmetricDecrypt(op, NULL, 0, p[2].memref.buffer, p[2].memref.size, p[3].memref.buffer, &out_len);
		break;
	case TEE_MODE_SIGN:
		res = TEE_AsymmetricSignDigest(op, NULL, 0, p[2].memref.buffer, p[2].memref.size, p[3].memref.buffer, &out_len);
		break;
	case TEE_MODE_VERIFY:
		res = TEE_AsymmetricVerifyDigest(op, NULL, 0, p[2].memref.buffer, p[2].memref.size, p[3].memref.buffer, p[3].memref.size);
		break;
	case TEE_MODE_DERIVE:
		n = decode(p[2].memref.buffer, p[2].memref.size);
		res = TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, 4096, &derived);
		if (res)
			break;
		TEE_DeriveKey(op, attrs, n, derived);
		res = TEE_GetObjectBufferAttribute(derived, TEE_ATTR_SECRET_VALUE, p[3].memref.buffer, &out_len);
		break;
	default:
		res = TEE_ERROR_BAD_PARAMETERS;
	}
	p[3].memref.size = out_len;
out:
	if (op)
		TEE_FreeOperation(op);
	TEE_FreeTransientObject(obj);
	if (derived)
		TEE_FreeTransientObject(derived);
	return res;
}

/* Every attribute an asymmetric key may hold. */
static const uint32_t all_ids[] = {
	TEE_ATTR_RSA_MODULUS, TEE_ATTR_RSA_PUBLIC_EXPONENT, TEE_ATTR_RSA_PRIVATE_EXPONENT, TEE_ATTR_RSA_PRIME1,
	TEE_ATTR_RSA_PRIME2, TEE_ATTR_RSA_EXPONENT1, TEE_ATTR_RSA_EXPONENT2, TEE_ATTR_RSA_COEFFICIENT,
	TEE_ATTR_DSA_PRIME, TEE_ATTR_DSA_SUBPRIME, TEE_ATTR_DSA_BASE, TEE_ATTR_DSA_PUBLIC_VALUE, TEE_ATTR_DSA_PRIVATE_VALUE,
	TEE_ATTR_DH_PRIME, TEE_ATTR_DH_SUBPRIME, TEE_ATTR_DH_BASE, TEE_ATTR_DH_PUBLIC_VALUE, TEE_ATTR_DH_PRIVATE_VALUE,
	TEE_ATTR_ECC_PUBLIC_VALUE_X, TEE_ATTR_ECC_PUBLIC_VALUE_Y, TEE_ATTR_ECC_PRIVATE_VALUE, TEE_ATTR_ECC_CURVE,
	TEE_ATTR_ED25519_PUBLIC_VALUE, TEE_ATTR_ED25519_PRIVATE_VALUE, TEE_ATTR_X25519_PUBLIC_VALUE, TEE_ATTR_X25519_PRIVATE_VALUE,
};

static TEE_Result generate(uint32_t types, TEE_Param p[4])
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	uint8_t *out = p[2].memref.buffer;
	size_t cap = p[2].memref.size, off = 4;
	uint32_t n = 0, count = 0;
	TEE_Result res = TEE_SUCCESS;

	if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
				     TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_NONE) || cap < 4)
		return TEE_ERROR_BAD_PARAMETERS;
	n = decode(p[1].memref.buffer, p[1].memref.size);
	res = TEE_AllocateTransientObject(p[0].value.a, p[0].value.b, &obj);
	if (res)
		return res;
	res = TEE_GenerateKey(obj, p[0].value.b, attrs, n);
	if (res)
		goto out;
	for (size_t i = 0; i < sizeof(all_ids) / sizeof(all_ids[0]); i++) {
		uint32_t id = all_ids[i];
		size_t l = 0;

		if (off + 8 > cap) {
			res = TEE_ERROR_SHORT_BUFFER;
			goto out;
		}
		if (id & TEE_ATTR_FLAG_VALUE) {
			uint32_t a = 0, b = 0;

			if (TEE_GetObjectValueAttribute(obj, id, &a, &b) != TEE_SUCCESS || off + 12 > cap)
				continue;
			out[off + 8] = a >> 24; out[off + 9] = a >> 16; out[off + 10] = a >> 8; out[off + 11] = a;
			l = 4;
		} else {
			l = cap - off - 8;
			if (TEE_GetObjectBufferAttribute(obj, id, out + off + 8, &l) != TEE_SUCCESS)
				continue;
		}
		put32(out + off, id);
		put32(out + off + 4, (uint32_t)l);
		off += 8 + l;
		count++;
	}
	put32(out, count);
	p[2].memref.size = off;
out:
	TEE_FreeTransientObject(obj);
	return res;
}

TEE_Result TA_InvokeCommandEntryPoint(void *s __unused, uint32_t cmd, uint32_t types, TEE_Param p[4])
{
	switch (cmd) {
	case TA_ASYM_CMD_OPERATE: return operate(types, p);
	case TA_ASYM_CMD_GENERATE: return generate(types, p);
	case TA_ASYM_CMD_SUPPORTED:
		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
			return TEE_ERROR_BAD_PARAMETERS;
		return TEE_IsAlgorithmSupported(p[0].value.a, p[0].value.b);
	default: return TEE_ERROR_NOT_SUPPORTED;
	}
}
