/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vtee TA dev kit: the trace macros of OP-TEE TAs.
 *
 * EMSG/IMSG/DMSG/FMSG print at ERROR/INFO/DEBUG/FLOW; a macro above
 * TRACE_LEVEL (= CFG_TEE_TA_LOG_LEVEL) compiles to nothing. The line goes
 * through trace_printf() in libvteeta, which filters again on the TA's
 * exported `trace_level` and forwards it, tagged with the TA's UUID, to the
 * daemon's log: "E/TA:  func:42 text" for E/D/F and "I/TA: text" for INFO.
 */
#ifndef TRACE_H
#define TRACE_H

#include <compiler.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <trace_levels.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAX_PRINT_SIZE	256
#define MAX_FUNC_PRINT_SIZE	32

/* Defined by user_ta_header.c in every TA. */
extern const char trace_ext_prefix[];
extern int trace_level;

/* Prints one trace line; func/line are omitted from the prefix when func is NULL. */
void trace_printf(const char *func, int line, int level, bool level_ok,
		  const char *fmt, ...) __printf(5, 6);
/* Raw output of an already formatted line. */
void trace_ext_puts(const char *str);
/* The runtime trace filter of this TA. */
int trace_get_level(void);
void trace_set_level(int level);
/* Hex dump of len bytes at buf at the given level. */
void dhex_dump(const char *function, int line, int level,
	       const void *buf, int len);

#define trace_printf_helper(level, level_ok, ...) \
	trace_printf(__func__, __LINE__, (level), (level_ok), __VA_ARGS__)
#define trace_printf_helper_raw(level, level_ok, ...) \
	trace_printf(NULL, 0, (level), (level_ok), __VA_ARGS__)

/* MSG prints at level 0 (always), tagged M. */
#define MSG(...)	trace_printf_helper(0, false, __VA_ARGS__)
#define MSG_RAW(...)	trace_printf_helper_raw(0, false, __VA_ARGS__)

#if (TRACE_LEVEL < TRACE_ERROR)
#define EMSG(...)	(void)0
#define EMSG_RAW(...)	(void)0
#else
#define EMSG(...)	trace_printf_helper(TRACE_ERROR, true, __VA_ARGS__)
#define EMSG_RAW(...)	trace_printf_helper_raw(TRACE_ERROR, true, __VA_ARGS__)
#endif

#if (TRACE_LEVEL < TRACE_INFO)
#define IMSG(...)	(void)0
#define IMSG_RAW(...)	(void)0
#else
#define IMSG(...)	trace_printf_helper(TRACE_INFO, true, __VA_ARGS__)
#define IMSG_RAW(...)	trace_printf_helper_raw(TRACE_INFO, true, __VA_ARGS__)
#endif

#if (TRACE_LEVEL < TRACE_DEBUG)
#define DMSG(...)	(void)0
#define DMSG_RAW(...)	(void)0
#define DHEXDUMP(buf, len) (void)0
#else
#define DMSG(...)	trace_printf_helper(TRACE_DEBUG, true, __VA_ARGS__)
#define DMSG_RAW(...)	trace_printf_helper_raw(TRACE_DEBUG, true, __VA_ARGS__)
#define DHEXDUMP(buf, len) dhex_dump(__func__, __LINE__, TRACE_DEBUG, (buf), (len))
#endif

#if (TRACE_LEVEL < TRACE_FLOW)
#define FMSG(...)	(void)0
#define FMSG_RAW(...)	(void)0
#else
#define FMSG(...)	trace_printf_helper(TRACE_FLOW, true, __VA_ARGS__)
#define FMSG_RAW(...)	trace_printf_helper_raw(TRACE_FLOW, true, __VA_ARGS__)
#endif

#define INMSG(...)	FMSG("> " __VA_ARGS__)
#define OUTMSG(...)	FMSG("< " __VA_ARGS__)
#define OUTRMSG(r)	do { OUTMSG("r=[%x]", r); return r; } while (0)

#ifdef __cplusplus
}
#endif

#endif /* TRACE_H */
