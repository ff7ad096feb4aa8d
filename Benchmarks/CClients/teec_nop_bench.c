/* teec_nop_bench: latency of a NOP invoke (vtee.test NOP_VALUES, 4 x VALUE_INOUT) from a C client
 * through libteec.so, the figure `vtee bench` reports as c_invoke_ns. Usage: teec_nop_bench [N]
 * (default 2000 timed calls after 200 warm-up calls). Needs VTEE_SOCKET to name a running daemon.
 * Prints one JSON line: {"c_invoke_ns": median, "c_invoke_p99_ns": p99, "calls": N}. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tee_client_api.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	if (n < 1 || n > 10000000)
		n = 2000;
	static const TEEC_UUID test_uuid = { 0x7e57c0de, 0x0000, 0x4000, { 0x80, 0, 0, 0, 0, 0, 0, 1 } };
	TEEC_Context ctx;
	TEEC_Session s;
	uint32_t origin = 0;
	TEEC_Result r = TEEC_InitializeContext(NULL, &ctx);
	if (r != TEEC_SUCCESS) {
		fprintf(stderr, "TEEC_InitializeContext: 0x%x (is VTEE_SOCKET a running daemon?)\n", r);
		return 1;
	}
	r = TEEC_OpenSession(&ctx, &s, &test_uuid, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin);
	if (r != TEEC_SUCCESS) {
		fprintf(stderr, "TEEC_OpenSession: 0x%x origin %u\n", r, origin);
		return 1;
	}
	TEEC_Operation op;
	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT, TEEC_VALUE_INOUT);
	uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
	if (!lat)
		return 1;
	for (long i = -200; i < n; i++) {
		uint64_t t0 = now_ns();
		r = TEEC_InvokeCommand(&s, 0, &op, &origin);
		uint64_t t1 = now_ns();
		if (r != TEEC_SUCCESS) {
			fprintf(stderr, "TEEC_InvokeCommand: 0x%x origin %u\n", r, origin);
			return 1;
		}
		if (i >= 0)
			lat[i] = t1 - t0;
	}
	qsort(lat, (size_t)n, sizeof(uint64_t), cmp_u64);
	printf("{\"c_invoke_ns\": %llu, \"c_invoke_p99_ns\": %llu, \"calls\": %ld}\n", (unsigned long long)lat[n / 2],
	       (unsigned long long)lat[(size_t)((double)n * 0.99)], n);
	free(lat);
	TEEC_CloseSession(&s);
	TEEC_FinalizeContext(&ctx);
	return 0;
}
