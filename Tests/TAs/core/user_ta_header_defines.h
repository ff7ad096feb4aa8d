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
    { "org.vtee.test.string", USER_TA_PROP_TYPE_STRING, "hello" }, \
    { "org.vtee.test.u32", USER_TA_PROP_TYPE_U32, &(const uint32_t){ 42 } }, \
    { "org.vtee.test.bool", USER_TA_PROP_TYPE_BOOL, &(const bool){ true } }, \
    { "org.vtee.test.u64", USER_TA_PROP_TYPE_U64, &(const uint64_t){ 0x123456789ULL } }, \
    { "org.vtee.test.binary", USER_TA_PROP_TYPE_BINARY_BLOCK, "AQID" }
#endif
