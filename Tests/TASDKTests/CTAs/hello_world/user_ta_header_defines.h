/* The TA's properties, read by the dev kit's user_ta_header.c. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <hello_world_ta.h>

#define TA_UUID				TA_HELLO_WORLD_UUID

#define TA_FLAGS			TA_FLAG_EXEC_DDR
#define TA_STACK_SIZE			(2 * 1024)
#define TA_DATA_SIZE			(32 * 1024)

#define TA_VERSION	"1.0"
#define TA_DESCRIPTION	"vtee test TA in OP-TEE's example layout"

#define TA_CURRENT_TA_EXT_PROPERTIES \
	{ "org.vtee.test.hello_world.property1", \
	  USER_TA_PROP_TYPE_STRING, "Some string" }, \
	{ "org.vtee.test.hello_world.property2", \
	  USER_TA_PROP_TYPE_U32, &(const uint32_t){ 0x0010 } }

#endif /* USER_TA_HEADER_DEFINES_H */
