/* TAChannel has only a header; this file keeps SwiftPM building it as a C target. */
#include "vtee_ta_channel.h"
typedef int vtee_ta_channel_unused;
