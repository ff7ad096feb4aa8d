/* vtee test TA "asym": one GP asymmetric operation, or one generated key, per command. */
#ifndef ASYM_TA_H
#define ASYM_TA_H

#define TA_ASYM_UUID \
	{ 0xa5e7c0de, 0x3c1b, 0x4f2a, \
		{ 0x8d, 0x6e, 0x5b, 0x4a, 0x39, 0x28, 0x17, 0x06 } }

/* Attribute lists on the wire: u32 count, then per attribute u32 id, u32 length, bytes (u32s
 * little-endian; a value attribute's bytes are its a, 4 bytes big-endian). */

/* p0 VALUE_INPUT a = algorithm, b = mode; p1 MEMREF_INPUT u32 object type, u32 key bits, then the
 * key's attribute list; p2 MEMREF_INPUT the data (digest, plaintext, ciphertext; for DERIVE an
 * attribute list of operation params); p3 MEMREF_INOUT the output (for VERIFY the signature).
 * The command's result is the operation's. */
#define TA_ASYM_CMD_OPERATE 0
/* p0 VALUE_INPUT a = object type, b = key bits; p1 MEMREF_INPUT GenerateKey's params (attribute
 * list); p2 MEMREF_OUTPUT every attribute of the new key (attribute list). */
#define TA_ASYM_CMD_GENERATE 1

/* p0 VALUE_INPUT a = algorithm, b = element (curve): the result of TEE_IsAlgorithmSupported. */
#define TA_ASYM_CMD_SUPPORTED 2

#endif
