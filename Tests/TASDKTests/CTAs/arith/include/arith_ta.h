/* vtee test TA "arith": runs one TEE_BigInt function on operands the client sends. */
#ifndef ARITH_TA_H
#define ARITH_TA_H

#define TA_ARITH_UUID \
	{ 0xb16127a0, 0x5a1e, 0x4c0d, \
		{ 0x9e, 0x7f, 0x61, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6 } }

/* params: [0] VALUE_INPUT a = function (ARITH_FN_*), b = destination size in bits (0: 4096);
 * [1] MEMREF_INPUT operands, [2] MEMREF_OUTPUT results, each value encoded as
 * (int8 sign, uint16 big-endian length, big-endian magnitude); [3] VALUE_OUTPUT a = the
 * function's TEE_Result or scalar result, b = a second scalar (e.g. a reported length). */
#define TA_ARITH_CMD_COMPUTE 0

enum {
	ARITH_FN_ADD = 1, ARITH_FN_SUB, ARITH_FN_MUL, ARITH_FN_SQUARE, ARITH_FN_DIV,
	ARITH_FN_MOD, ARITH_FN_ADDMOD, ARITH_FN_SUBMOD, ARITH_FN_MULMOD, ARITH_FN_SQUAREMOD,
	ARITH_FN_INVMOD, ARITH_FN_EXPMOD, ARITH_FN_EGCD, ARITH_FN_RELPRIME, ARITH_FN_PRIME,
	ARITH_FN_SHIFTR, ARITH_FN_NEG, ARITH_FN_ABS, ARITH_FN_CMP, ARITH_FN_BITS,
	ARITH_FN_FMM, ARITH_FN_TO_S32, ARITH_FN_FROM_S32, ARITH_FN_TO_OCTETS, ARITH_FN_SETBIT,
	ARITH_FN_INIT_HUGE
};

#endif
