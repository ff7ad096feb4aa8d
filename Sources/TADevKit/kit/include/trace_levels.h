/* SPDX-License-Identifier: BSD-2-Clause */
/* vtee TA dev kit: trace levels (OP-TEE's values). */
#ifndef TRACE_LEVELS_H
#define TRACE_LEVELS_H

#define TRACE_MIN	1
#define TRACE_ERROR	TRACE_MIN
#define TRACE_INFO	2
#define TRACE_DEBUG	3
#define TRACE_FLOW	4
#define TRACE_MAX	TRACE_FLOW

/* The level compiled in: CFG_TEE_TA_LOG_LEVEL, else 1 (errors only). */
#ifndef TRACE_LEVEL
# if defined(CFG_TEE_TA_LOG_LEVEL)
#  define TRACE_LEVEL	CFG_TEE_TA_LOG_LEVEL
# else
#  define TRACE_LEVEL	TRACE_ERROR
# endif
#endif

#endif /* TRACE_LEVELS_H */
