/* The check reporting every C test program of this folder shares: one line per check ("ok NAME"
 * or "FAIL NAME: why"), counted in `passed` / `failed` for the program's "summary" line. */
#ifndef VTEE_TEST_CHECK_H
#define VTEE_TEST_CHECK_H
#include <stdarg.h>
#include <stdio.h>

static int passed, failed;

static void check(const char *name, int ok, const char *fmt, ...)
{
	if (ok) {
		printf("ok %s\n", name);
		passed++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL %s: ", name);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failed++;
}
#endif
