/* vtee's GP 1.1 crypto C test TA. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H
#define TA_UUID { 0xc0de0003, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03 } }
#define TA_FLAGS 0
#define TA_STACK_SIZE (8 * 1024)
#define TA_DATA_SIZE (64 * 1024)
#define TA_VERSION "1.0"
#define TA_DESCRIPTION "vtee GP 1.1 crypto test TA"
#endif
