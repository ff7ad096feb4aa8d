/* vtee's crypto C test TA: runs GP crypto operations for the host's known-answer tests, plus
 * state-machine, SHORT_BUFFER and panic checks. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H
#define TA_UUID { 0xc0de0002, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02 } }
#define TA_FLAGS 0
#define TA_STACK_SIZE (16 * 1024)
#define TA_DATA_SIZE (256 * 1024)
#define TA_VERSION "1.0"
#define TA_DESCRIPTION "vtee crypto test TA"
#endif
