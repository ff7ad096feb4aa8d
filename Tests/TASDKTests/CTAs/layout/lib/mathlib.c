/* Compiled from lib/sub.mk: sees its own per-file flag and private include dir only. */
#include <mathlib.h>
#include <mathlib_priv.h>

#ifndef MATHLIB_FACTOR
#error "cflags-mathlib.c-y was not applied"
#endif
#if defined(LAYOUT_FILE_FLAG) || defined(LAYOUT_DIR_FLAG)
#error "the parent directory's cflags leaked into lib/"
#endif

uint32_t mathlib_scale(uint32_t v)
{
	return v * MATHLIB_FACTOR;
}
