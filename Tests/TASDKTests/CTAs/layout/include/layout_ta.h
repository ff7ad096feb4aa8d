/* vtee test TA "layout": UUID and commands. */
#ifndef LAYOUT_TA_H
#define LAYOUT_TA_H

#define TA_LAYOUT_UUID \
	{ 0x3a1e5c7b, 0x88d4, 0x4b0c, \
		{ 0x9f, 0x1e, 0x2c, 0x6b, 0x7d, 0x9a, 0x0e, 0x42 } }

/* value[0].a = value[0].a * 3 + 7 + CFG_VTEE_LAYOUT_BASE (VALUE_INOUT) */
#define TA_LAYOUT_CMD_COMPUTE	0
/* memref[0] (MEMREF_INOUT): each byte x becomes x ^ 0x5a, over a heap copy */
#define TA_LAYOUT_CMD_XOR	1

#endif /* LAYOUT_TA_H */
