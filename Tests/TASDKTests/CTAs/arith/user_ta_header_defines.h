#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H
#include <arith_ta.h>
#define TA_UUID TA_ARITH_UUID
#define TA_FLAGS TA_FLAG_EXEC_DDR
#define TA_STACK_SIZE (16 * 1024)
#define TA_DATA_SIZE (64 * 1024)
#define TA_VERSION "1.0"
#define TA_DESCRIPTION "vtee test TA for the arithmetical API"
#endif
