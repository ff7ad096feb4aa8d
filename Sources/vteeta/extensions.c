/* libvteeta: OP-TEE's libutee extensions outside the GP API that a TA may call and that need
 * nothing of the secure world: tee_uuid_from_str, tee_map_zi / tee_unmap. TA world, inside the
 * sandboxed TA process (mmap/munmap are on the seccomp allowlist; RLIMIT_DATA bounds them). */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* MARK: tee_uuid_from_str */

static int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads `n` hex digits of s at *pos into *out; 0 on a bad digit. */
static int read_hex(const char *s, size_t *pos, int n, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        int d = hex_nibble(s[*pos]);
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
        (*pos)++;
    }
    *out = v;
    return 1;
}

/* OP-TEE's tee_uuid_from_str: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case, nothing
 * after it) into *uuid; BAD_PARAMETERS for anything else, *uuid then untouched. */
VTEETA_API TEE_Result tee_uuid_from_str(TEE_UUID *uuid, const char *s) {
    if (!uuid || !s || strnlen(s, 37) != 36) return TEE_ERROR_BAD_PARAMETERS;
    static const int groups[5] = { 8, 4, 4, 4, 12 };
    uint64_t v[5];
    size_t pos = 0;
    for (int g = 0; g < 5; g++) {
        if (g > 0 && s[pos++] != '-') return TEE_ERROR_BAD_PARAMETERS;
        if (!read_hex(s, &pos, groups[g], &v[g])) return TEE_ERROR_BAD_PARAMETERS;
    }
    uuid->timeLow = (uint32_t)v[0];
    uuid->timeMid = (uint16_t)v[1];
    uuid->timeHiAndVersion = (uint16_t)v[2];
    uuid->clockSeqAndNode[0] = (uint8_t)(v[3] >> 8);
    uuid->clockSeqAndNode[1] = (uint8_t)v[3];
    for (int i = 0; i < 6; i++) uuid->clockSeqAndNode[2 + i] = (uint8_t)(v[4] >> (8 * (5 - i)));
    return TEE_SUCCESS;
}

/* MARK: tee_map_zi / tee_unmap */

/* The live mappings of tee_map_zi: only these may be unmapped, and TEE_CheckMemoryAccessRights
 * treats them as the TA's own memory. */
#define MAX_ZI 64
static struct { uintptr_t start; size_t len; } zi[MAX_ZI];

static size_t page_round(size_t len) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return len > SIZE_MAX - pg ? 0 : (len + pg - 1) & ~(pg - 1);
}

int vt_mapped_memory(uintptr_t p, size_t n) {
    for (int i = 0; i < MAX_ZI; i++)
        if (zi[i].start && p >= zi[i].start && n <= zi[i].len && p - zi[i].start <= zi[i].len - n) return 1;
    return 0;
}

/* OP-TEE's tee_map_zi: `len` bytes of zeroed, private, read-write memory outside the TEE_Malloc
 * heap; flags 0 or TEE_MEMORY_ACCESS_ANY_OWNER (the mapping may then be handed to another TA
 * as a memref, which vtee copies anyway). NULL for len 0, other flags, or when the TA's data
 * limit or the table of mappings is exhausted. */
VTEETA_API void *tee_map_zi(size_t len, uint32_t flags) {
    if (len == 0 || (flags & ~(uint32_t)TEE_MEMORY_ACCESS_ANY_OWNER)) return NULL;
    size_t n = page_round(len);
    int slot = -1;
    for (int i = 0; i < MAX_ZI && slot < 0; i++) if (!zi[i].start) slot = i;
    if (n == 0 || slot < 0) return NULL;
    void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    zi[slot].start = (uintptr_t)m;
    zi[slot].len = n;
    return m;
}

/* OP-TEE's tee_unmap: unmaps exactly a mapping tee_map_zi returned (same address, a length
 * that rounds to the same pages); anything else is BAD_PARAMETERS and stays mapped. */
VTEETA_API TEE_Result tee_unmap(void *buf, size_t len) {
    size_t n = page_round(len);
    for (int i = 0; i < MAX_ZI; i++) {
        if (!buf || zi[i].start != (uintptr_t)buf) continue;
        if (n != zi[i].len) return TEE_ERROR_BAD_PARAMETERS;
        if (munmap(buf, n) != 0) return TEE_ERROR_BAD_PARAMETERS;
        zi[i].start = 0; zi[i].len = 0;
        return TEE_SUCCESS;
    }
    return TEE_ERROR_BAD_PARAMETERS;
}
