#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <layout_ta.h>

#define TA_UUID			TA_LAYOUT_UUID
#define TA_FLAGS		(TA_FLAG_SINGLE_INSTANCE | TA_FLAG_MULTI_SESSION)
#define TA_STACK_SIZE		(4 * 1024)
#define TA_DATA_SIZE		(64 * 1024)
#define TA_VERSION		"2.1"
#define TA_DESCRIPTION		"vtee test TA: subdirs-y and per-file flags"

#endif
