/* vtee's core C test TA: one command per GP Internal Core API group and per fault. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H
#define TA_UUID { 0xc0de0001, 0x7ee0, 0x4a11, { 0x8b, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 } }
#define TA_FLAGS 0
#define TA_STACK_SIZE (4 * 1024)
#define TA_DATA_SIZE (64 * 1024)
#define TA_VERSION "1.0"
#define TA_DESCRIPTION "vtee core test TA"
#define TA_CURRENT_TA_EXT_PROPERTIES \
    { "org.vtee.test.string", 4, "hello" }, \
    { "org.vtee.test.u32", 1, &(const uint32_t){ 42 } }, \
    { "org.vtee.test.bool", 0, &(const bool){ true } }, \
    { "org.vtee.test.u64", 6, &(const uint64_t){ 0x123456789ULL } }, \
    { "org.vtee.test.binary", 5, "AQID" }
#endif
