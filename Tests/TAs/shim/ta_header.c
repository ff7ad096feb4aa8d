/* Stand-in for the dev kit's user_ta_header.c (until it is merged): ta_head and the property
 * table in OP-TEE's layout, from user_ta_header_defines.h. */
#include <stddef.h>
#include <stdint.h>
#include "tee_internal_api.h"
#include "user_ta_header_defines.h"
struct ta_head { TEE_UUID uuid; uint32_t stack_size; uint32_t flags; uint64_t depr_entry; };
struct user_ta_property { const char *name; uint32_t type; const void *value; };
__attribute__((visibility("default"))) const struct ta_head ta_head = { TA_UUID, TA_STACK_SIZE + 2048, TA_FLAGS, UINT64_MAX };
static const bool f_single = (TA_FLAGS & 0x4) != 0, f_multi = (TA_FLAGS & 0x8) != 0, f_keep = (TA_FLAGS & 0x10) != 0, f_crash = false, f_nocl = false;
static const uint32_t data_size = TA_DATA_SIZE, stack_size = TA_STACK_SIZE, endian = 0;
__attribute__((visibility("default"))) int trace_level = 4;
__attribute__((visibility("default"))) const struct user_ta_property ta_props[] = {
    { "gpd.ta.singleInstance", 0, &f_single }, { "gpd.ta.multiSession", 0, &f_multi },
    { "gpd.ta.instanceKeepAlive", 0, &f_keep }, { "optee.ta.instanceKeepCrashed", 0, &f_crash },
    { "gpd.ta.dataSize", 1, &data_size }, { "gpd.ta.stackSize", 1, &stack_size },
    { "gpd.ta.version", 4, TA_VERSION }, { "gpd.ta.description", 4, TA_DESCRIPTION },
    { "gpd.ta.endian", 1, &endian }, { "gpd.ta.doesNotCloseHandleOnCorruptObject", 0, &f_nocl },
    TA_CURRENT_TA_EXT_PROPERTIES
};
__attribute__((visibility("default"))) const size_t ta_num_props = sizeof(ta_props) / sizeof(ta_props[0]);
