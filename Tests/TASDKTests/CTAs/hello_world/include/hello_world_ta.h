/* vtee test TA "hello_world": the UUID and commands its clients use. */
#ifndef HELLO_WORLD_TA_H
#define HELLO_WORLD_TA_H

#define TA_HELLO_WORLD_UUID \
	{ 0x5f8b97df, 0x2d0d, 0x4ad2, \
		{ 0x98, 0xd2, 0x74, 0xf4, 0x38, 0x9e, 0x5e, 0x11 } }

/* value[0].a += 1 (VALUE_INOUT) */
#define TA_HELLO_WORLD_CMD_INC_VALUE		0
/* value[0].a -= 1 (VALUE_INOUT) */
#define TA_HELLO_WORLD_CMD_DEC_VALUE		1
/* memref[0] (MEMREF_OUTPUT) <- the TA's gpd.ta.description property */
#define TA_HELLO_WORLD_CMD_DESCRIPTION		2

#endif /* HELLO_WORLD_TA_H */
