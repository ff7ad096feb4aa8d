/*
 * vtee test TA "arith": decodes up to four big integers from the client, runs one function of
 * the GP arithmetical API on them and sends the results back, so that a test can check the
 * values (and the panics) against published or independently computed answers.
 */
#include <string.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include <arith_ta.h>

#define MAX_BITS 4096
#define WORDS TEE_BigIntSizeInU32(MAX_BITS)

static TEE_BigInt in[4][WORDS];
static TEE_BigInt out[3][WORDS];
static TEE_BigIntFMM fmm[3][WORDS];

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t __unused, TEE_Param p[4] __unused, void **s __unused) { return TEE_SUCCESS; }
void TA_CloseSessionEntryPoint(void *s __unused) {}

static size_t decode(const uint8_t *buf, size_t len)
{
	size_t off = 0, n = 0;

	while (n < 4 && off + 3 <= len) {
		int8_t sign = (int8_t)buf[off];
		size_t l = ((size_t)buf[off + 1] << 8) | buf[off + 2];

		off += 3;
		if (off + l > len)
			TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
		TEE_BigIntInit(in[n], WORDS);
		if (TEE_BigIntConvertFromOctetString(in[n], buf + off, l, sign))
			TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
		off += l;
		n++;
	}
	return n;
}

static size_t encode(uint8_t *buf, size_t cap, TEE_BigInt **vals, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = 0;

		if (off + 3 > cap)
			TEE_Panic(TEE_ERROR_SHORT_BUFFER);
		l = cap - off - 3;
		if (TEE_BigIntConvertToOctetString(buf + off + 3, &l, vals[i]))
			TEE_Panic(TEE_ERROR_SHORT_BUFFER);
		buf[off] = (uint8_t)(TEE_BigIntCmpS32(vals[i], 0) < 0 ? -1 : 1);
		buf[off + 1] = (uint8_t)(l >> 8);
		buf[off + 2] = (uint8_t)l;
		off += 3 + l;
	}
	return off;
}

static TEE_Result compute(uint32_t types, TEE_Param p[4])
{
	uint32_t fn = p[0].value.a;
	size_t dest_words = p[0].value.b ? TEE_BigIntSizeInU32(p[0].value.b) : WORDS;
	size_t n = 0, nout = 1;
	TEE_BigInt *res[3] = { out[0], out[1], out[2] };
	uint32_t r = 0, r2 = 0;
	int32_t s = 0;
	TEE_BigIntFMMContext ctx[4] = { 0 };

	if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
				     TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_VALUE_OUTPUT))
		return TEE_ERROR_BAD_PARAMETERS;
	n = decode(p[1].memref.buffer, p[1].memref.size);
	for (size_t i = 0; i < 3; i++)
		TEE_BigIntInit(out[i], dest_words);

	switch (fn) {
	case ARITH_FN_ADD: TEE_BigIntAdd(out[0], in[0], in[1]); break;
	case ARITH_FN_SUB: TEE_BigIntSub(out[0], in[0], in[1]); break;
	case ARITH_FN_MUL: TEE_BigIntMul(out[0], in[0], in[1]); break;
	case ARITH_FN_SQUARE: TEE_BigIntSquare(out[0], in[0]); break;
	case ARITH_FN_DIV: TEE_BigIntDiv(out[0], out[1], in[0], in[1]); nout = 2; break;
	case ARITH_FN_MOD: TEE_BigIntMod(out[0], in[0], in[1]); break;
	case ARITH_FN_ADDMOD: TEE_BigIntAddMod(out[0], in[0], in[1], in[2]); break;
	case ARITH_FN_SUBMOD: TEE_BigIntSubMod(out[0], in[0], in[1], in[2]); break;
	case ARITH_FN_MULMOD: TEE_BigIntMulMod(out[0], in[0], in[1], in[2]); break;
	case ARITH_FN_SQUAREMOD: TEE_BigIntSquareMod(out[0], in[0], in[1]); break;
	case ARITH_FN_INVMOD: TEE_BigIntInvMod(out[0], in[0], in[1]); break;
	case ARITH_FN_EXPMOD:
		TEE_BigIntInitFMMContext(ctx, TEE_BigIntFMMContextSizeInU32(MAX_BITS), in[2]);
		r = TEE_BigIntExpMod(out[0], in[0], in[1], in[2], ctx);
		break;
	case ARITH_FN_EGCD: TEE_BigIntComputeExtendedGcd(out[0], out[1], out[2], in[0], in[1]); nout = 3; break;
	case ARITH_FN_RELPRIME: r = TEE_BigIntRelativePrime(in[0], in[1]); nout = 0; break;
	case ARITH_FN_PRIME: r = (uint32_t)TEE_BigIntIsProbablePrime(in[0], 80); nout = 0; break;
	case ARITH_FN_SHIFTR:
		if (TEE_BigIntConvertToS32(&s, in[1]))
			return TEE_ERROR_BAD_PARAMETERS;
		/* in place, as TAs often do: dest == op */
		TEE_BigIntAssign(out[0], in[0]);
		TEE_BigIntShiftRight(out[0], out[0], (size_t)s);
		break;
	case ARITH_FN_NEG: TEE_BigIntNeg(out[0], in[0]); break;
	case ARITH_FN_ABS: r = TEE_BigIntAbs(out[0], in[0]); break;
	case ARITH_FN_CMP: r = (uint32_t)TEE_BigIntCmp(in[0], in[1]); nout = 0; break;
	case ARITH_FN_BITS:
		r = TEE_BigIntGetBitCount(in[0]);
		r2 = TEE_BigIntGetBit(in[0], 0) | (TEE_BigIntGetBit(in[0], r ? r - 1 : 0) << 1) |
		     (TEE_BigIntGetBit(in[0], r + 5) << 2);
		nout = 0;
		break;
	case ARITH_FN_FMM:
		/* (a * b) mod n through the FMM functions */
		TEE_BigIntInitFMMContext1(ctx, TEE_BigIntFMMContextSizeInU32(MAX_BITS), in[2]);
		for (size_t i = 0; i < 3; i++)
			TEE_BigIntInitFMM(fmm[i], TEE_BigIntFMMSizeInU32(MAX_BITS));
		TEE_BigIntConvertToFMM(fmm[0], in[0], in[2], ctx);
		TEE_BigIntConvertToFMM(fmm[1], in[1], in[2], ctx);
		TEE_BigIntComputeFMM(fmm[2], fmm[0], fmm[1], in[2], ctx);
		TEE_BigIntConvertFromFMM(out[0], fmm[2], in[2], ctx);
		break;
	case ARITH_FN_TO_S32:
		r = TEE_BigIntConvertToS32(&s, in[0]);
		r2 = (uint32_t)s;
		nout = 0;
		break;
	case ARITH_FN_FROM_S32:
		if (TEE_BigIntConvertToS32(&s, in[0]))
			return TEE_ERROR_BAD_PARAMETERS;
		TEE_BigIntConvertFromS32(out[0], s);
		r = (uint32_t)TEE_BigIntCmpS32(out[0], s);
		break;
	case ARITH_FN_TO_OCTETS: {
		/* in[1] = the buffer size offered */
		uint8_t buf[600];
		size_t l = 0;

		if (TEE_BigIntConvertToS32(&s, in[1]) || s < 0 || (size_t)s > sizeof(buf))
			return TEE_ERROR_BAD_PARAMETERS;
		l = (size_t)s;
		r = TEE_BigIntConvertToOctetString(buf, &l, in[0]);
		r2 = (uint32_t)l;
		nout = 0;
		break;
	}
	case ARITH_FN_SETBIT:
		/* in[1] = bit index: set it, in out[0] (dest size from value b) */
		if (TEE_BigIntConvertToS32(&s, in[1]) || TEE_BigIntAssign(out[0], in[0]))
			return TEE_ERROR_BAD_PARAMETERS;
		r = TEE_BigIntSetBit(out[0], (uint32_t)s, true);
		break;
	case ARITH_FN_INIT_HUGE: {
		/* more words than gpd.tee.arith.maxBigIntSize allows: a panic */
		static TEE_BigInt huge[TEE_BigIntSizeInU32(32768)];

		TEE_BigIntInit(huge, TEE_BigIntSizeInU32(32768));
		break;
	}
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
	(void)n;
	p[2].memref.size = encode(p[2].memref.buffer, p[2].memref.size, res, nout);
	p[3].value.a = r;
	p[3].value.b = r2;
	return TEE_SUCCESS;
}

TEE_Result TA_InvokeCommandEntryPoint(void *s __unused, uint32_t cmd, uint32_t types, TEE_Param p[4])
{
	if (cmd == TA_ARITH_CMD_COMPUTE)
		return compute(types, p);
	return TEE_ERROR_NOT_SUPPORTED;
}
