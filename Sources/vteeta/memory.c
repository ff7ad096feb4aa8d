/* libvteeta memory: the TEE_Malloc arena (TA_DATA_SIZE bytes, first fit with coalescing, as
 * OP-TEE's TA heap is the TA's own ta_heap), TEE_Realloc/Free, MemMove/Compare/Fill,
 * CheckMemoryAccessRights and the instance data. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

/* A block header; payload follows, 16-byte aligned. */
struct blk { uint32_t magic; uint32_t used; size_t size; };
#define BLK_MAGIC 0x7EEA110Cu
#define HDR sizeof(struct blk)

static uint8_t *arena;
static size_t arena_size;
/* A used block's `used` holds the allocation generation (>= 1); tee_user_mem_mark_heap starts a
 * new one, tee_user_mem_check_heap counts the live blocks of the generations since. */
static uint32_t alloc_gen = 1, mark_gen = 1;
/* What TEE_Malloc(0) returns: not NULL, never dereferenced, ignored by TEE_Free. */
static uint8_t null_sized_block[16] __attribute__((aligned(16)));
#define TEE_NULL_SIZED_VA ((void *)null_sized_block)

/* Regions the TA owns (image segments, entry stack) for TEE_CheckMemoryAccessRights. */
struct region { uintptr_t start; size_t n; int writable; };
static struct region regions[32];
static int nregions;

void vt_note_region(uintptr_t start, size_t n, int writable) {
    if (nregions < 32) regions[nregions++] = (struct region){ start, n, writable };
}

void vt_arena_init(size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    if (bytes < 2 * HDR) bytes = 2 * HDR;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    arena = m; arena_size = bytes;
    struct blk *b = (struct blk *)arena;
    *b = (struct blk){ BLK_MAGIC, 0, bytes - HDR };
}

static struct blk *next_blk(struct blk *b) {
    uint8_t *n = (uint8_t *)b + HDR + b->size;
    return n < arena + arena_size ? (struct blk *)n : NULL;
}

static void *arena_alloc(size_t size) {
    if (!arena || size > arena_size) return NULL;
    size = (size + 15) & ~(size_t)15;
    for (struct blk *b = (struct blk *)arena; b; b = next_blk(b)) {
        if (b->used) continue;
        struct blk *n;
        while ((n = next_blk(b)) && !n->used) b->size += HDR + n->size; /* coalesce free runs */
        if (b->size < size) continue;
        if (b->size >= size + HDR + 16) {
            struct blk *rest = (struct blk *)((uint8_t *)b + HDR + size);
            *rest = (struct blk){ BLK_MAGIC, 0, b->size - size - HDR };
            b->size = size;
        }
        b->used = alloc_gen;
        return (uint8_t *)b + HDR;
    }
    return NULL;
}

/* The header of an allocated payload, or NULL when `p` is not one (a bad free panics). */
static struct blk *blk_of(void *p) {
    uint8_t *q = p;
    if (!arena || q < arena + HDR || q >= arena + arena_size || ((uintptr_t)q & 15)) return NULL;
    struct blk *b = (struct blk *)(q - HDR);
    if (b->magic != BLK_MAGIC || !b->used || b->size > arena_size) return NULL;
    return b;
}

VTEETA_API void *TEE_Malloc(size_t size, uint32_t hint) {
    /* GP reserves 0x00000000-0x7FFFFFFF: FILL_ZERO (0), NO_FILL (1), NO_SHARE (2) and their
     * combination are known; another GP value is refused, implementation values act as 0. */
    if (hint < 0x80000000u && (hint & ~(TEE_MALLOC_NO_FILL | TEE_MALLOC_NO_SHARE))) return NULL;
    if (size == 0) return TEE_NULL_SIZED_VA;
    void *p = arena_alloc(size);
    /* NO_FILL allows any content: zero is one of them, and a reused block leaks nothing. */
    if (p) memset(p, 0, size);
    return p;
}

VTEETA_API void TEE_Free(void *buffer) {
    if (!buffer || buffer == TEE_NULL_SIZED_VA) return;
    struct blk *b = blk_of(buffer);
    if (!b) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    b->used = 0;
}

VTEETA_API void *TEE_Realloc(void *buffer, size_t newSize) {
    if (!buffer || buffer == TEE_NULL_SIZED_VA) return TEE_Malloc(newSize, TEE_MALLOC_FILL_ZERO);
    struct blk *b = blk_of(buffer);
    if (!b) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (newSize == 0) { b->used = 0; return TEE_NULL_SIZED_VA; }
    if (newSize <= b->size) return buffer;
    void *n = arena_alloc(newSize);
    if (!n) return NULL; /* the old block stays valid */
    b = blk_of(buffer);
    memcpy(n, buffer, b->size);
    memset((uint8_t *)n + b->size, 0, newSize - b->size);
    b->used = 0;
    return n;
}

VTEETA_API void *TEE_MemMove(void *dest, const void *src, size_t size) {
    if (size) memmove(dest, src, size);
    return dest;
}

VTEETA_API int32_t TEE_MemCompare(const void *buffer1, const void *buffer2, size_t size) {
    if (!size) return 0;
    int r = memcmp(buffer1, buffer2, size);
    return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

VTEETA_API void TEE_MemFill(void *buffer, uint32_t x, size_t size) {
    if (size) memset(buffer, (int)(uint8_t)x, size);
}

static int inside(uintptr_t p, size_t n, uintptr_t start, size_t len) {
    return p >= start && n <= len && p - start <= len - n;
}

int vt_owned_memory(uintptr_t p, size_t n, int write) {
    if (arena && inside(p, n, (uintptr_t)arena, arena_size)) return 1;
    if (vt_mapped_memory(p, n)) return 1;
    for (int i = 0; i < nregions; i++)
        if (inside(p, n, regions[i].start, regions[i].n)) return !write || regions[i].writable;
    return 0;
}

VTEETA_API TEE_Result TEE_CheckMemoryAccessRights(uint32_t accessFlags, void *buffer, size_t size) {
    if (accessFlags & ~(TEE_MEMORY_ACCESS_READ | TEE_MEMORY_ACCESS_WRITE | TEE_MEMORY_ACCESS_ANY_OWNER))
        return TEE_ERROR_ACCESS_DENIED;
    if (size == 0) return TEE_SUCCESS;
    uintptr_t p = (uintptr_t)buffer;
    if (p + size < p) return TEE_ERROR_ACCESS_DENIED;
    int write = (accessFlags & TEE_MEMORY_ACCESS_WRITE) != 0;
    /* Memory shared with the client (memref params of the current entry point). */
    for (int i = 0; i < 4; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(vt_cur_types, i);
        if (t < TEE_PARAM_TYPE_MEMREF_INPUT || t > TEE_PARAM_TYPE_MEMREF_INOUT || !vt_cur_params[i].memref.buffer) continue;
        if (inside(p, size, (uintptr_t)vt_cur_params[i].memref.buffer, vt_cur_params[i].memref.size)) {
            if (!(accessFlags & TEE_MEMORY_ACCESS_ANY_OWNER)) return TEE_ERROR_ACCESS_DENIED;
            if (write && t == TEE_PARAM_TYPE_MEMREF_INPUT) return TEE_ERROR_ACCESS_DENIED;
            return TEE_SUCCESS;
        }
    }
    return vt_owned_memory(p, size, write) ? TEE_SUCCESS : TEE_ERROR_ACCESS_DENIED;
}

static const void *instance_data;
VTEETA_API void TEE_SetInstanceData(const void *instanceData) { instance_data = instanceData; }
VTEETA_API const void *TEE_GetInstanceData(void) { return instance_data; }

/* MARK: heap accounting (OP-TEE's tee_user_mem_mark_heap / tee_user_mem_check_heap) */

/* Marks the heap: blocks allocated from now on are what the next check counts. */
VTEETA_API void tee_user_mem_mark_heap(void) {
    if (alloc_gen < UINT32_MAX) alloc_gen++;
    mark_gen = alloc_gen;
}

/* The number of TEE_Malloc/TEE_Realloc blocks allocated since the last mark (since the
 * process started without one) that are still live: a TA's leak check. */
VTEETA_API size_t tee_user_mem_check_heap(void) {
    size_t n = 0;
    if (!arena) return 0;
    for (struct blk *b = (struct blk *)arena; b; b = next_blk(b))
        if (b->used >= mark_gen) n++;
    return n;
}
