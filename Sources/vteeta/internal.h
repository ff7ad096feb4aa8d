/* libvteeta internals shared by its files (TA world, inside the sandboxed TA process). */
#ifndef VTEETA_INTERNAL_H
#define VTEETA_INTERNAL_H
#include "gp.h"
#include "vtee_ta_channel.h"

/* The channel mapping and its two data areas. */
extern struct vtee_ch_control *vt_ctl;
extern uint8_t *vt_call_area;
extern uint8_t *vt_req_area;
/* What the TA image says about itself. */
extern TEE_UUID vt_ta_uuid;
extern const struct vteeta_ta_prop *vt_props;
extern size_t vt_num_props;
extern int *vt_trace_level;
/* The current entry point: its client and its cancellation mask. */
extern TEE_Identity vt_client;
extern bool *vt_cancel_mask;
/* Memref params of the current entry point (client-owned memory, for access checks). */
extern TEE_Param vt_cur_params[4];
extern uint32_t vt_cur_types;

/* Sends request `req` (fields of vt_ctl->req_* filled by the caller) to the secure world
 * and waits for its reply; returns vt_ctl->req_result. Outside an entry point: BAD_STATE. */
TEE_Result vt_request(uint32_t req);
/* Ends the process as a panic with `code` (the secure world reports TARGET_DEAD). */
__attribute__((noreturn)) void vt_panic(TEE_Result code);
/* The TEE_Malloc arena (TA_DATA_SIZE bytes). */
void vt_arena_init(size_t bytes);
/* 1 if [p, p+n) lies inside the arena, the TA stack or the TA image (writable: rw segments). */
int vt_owned_memory(uintptr_t p, size_t n, int write);
/* 1 if [p, p+n) lies inside one mapping of tee_map_zi. */
int vt_mapped_memory(uintptr_t p, size_t n);
/* Records the TA image's segments and the entry stack for vt_owned_memory. */
void vt_note_region(uintptr_t start, size_t n, int writable);
/* Base64 decode for binary-block properties; returns the decoded length or -1. */
long vt_base64_decode(const char *in, uint8_t *out, size_t cap);
/* The secure world's crypto object behind a TA object handle (0: not an object handle). */
uint32_t vt_object_key(TEE_ObjectHandle h, int *persistent);
/* Writes `n` attributes in the channel's attribute form into out[0..cap); returns the length,
 * SIZE_MAX when they do not fit (panics on a NULL buffer with a length, as libutee). */
size_t vt_attrs_encode(const TEE_Attribute *attrs, uint32_t n, uint8_t *out, size_t cap);
#endif
