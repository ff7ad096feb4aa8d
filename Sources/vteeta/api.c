/* libvteeta: cancellation, time, TA-to-TA sessions and the OP-TEE extensions TAs call (cache
 * maintenance, supplicant plugins). What needs the secure world (REE time, persistent time,
 * other TAs) is a request over the TA channel; the rest stays in the process. TA world. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* MARK: cancellation (masked at every session's open, the mask kept per session as OP-TEE does) */

VTEETA_API bool TEE_GetCancellationFlag(void) {
    return !*vt_cancel_mask && vtee_ch_load(&vt_ctl->cancel) != 0;
}

VTEETA_API bool TEE_UnmaskCancellation(void) {
    bool was = *vt_cancel_mask;
    *vt_cancel_mask = false;
    return was;
}

VTEETA_API bool TEE_MaskCancellation(void) {
    bool was = *vt_cancel_mask;
    *vt_cancel_mask = true;
    return was;
}

/* MARK: time */

VTEETA_API void TEE_GetSystemTime(TEE_Time *time) {
    if (!time) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    time->seconds = (uint32_t)ts.tv_sec;
    time->millis = (uint32_t)(ts.tv_nsec / 1000000);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleeps on the channel's cancellation word, so a cancel request wakes it at once. */
VTEETA_API TEE_Result TEE_Wait(uint32_t timeout) {
    uint64_t end = timeout == TEE_TIMEOUT_INFINITE ? UINT64_MAX : now_ms() + timeout;
    for (;;) {
        if (TEE_GetCancellationFlag()) return TEE_ERROR_CANCEL;
        uint64_t now = now_ms();
        if (now >= end) return TEE_SUCCESS;
        uint64_t left = end - now;
        if (left > 1000) left = 1000;
        struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
        uint32_t seen = vtee_ch_load(&vt_ctl->cancel);
        if (seen && *vt_cancel_mask) {
            /* Cancelled but masked: the flag stays up, so sleep without watching it. */
            nanosleep(&ts, NULL);
            continue;
        }
        syscall(SYS_futex, &vt_ctl->cancel, FUTEX_WAIT, seen, &ts, NULL, 0);
    }
}

VTEETA_API void TEE_GetREETime(TEE_Time *time) {
    if (!time) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_Result r = vt_request(VTEE_REQ_REE_TIME);
    if (r != TEE_SUCCESS) TEE_Panic(r);
    time->seconds = (uint32_t)vt_ctl->req_args[0];
    time->millis = (uint32_t)(vt_ctl->req_args[1] / 1000000u);
}

VTEETA_API TEE_Result TEE_GetTAPersistentTime(TEE_Time *time) {
    if (!time) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_Result r = vt_request(VTEE_REQ_PTIME_GET);
    if (r == TEE_SUCCESS || r == TEE_ERROR_OVERFLOW) {
        time->seconds = (uint32_t)vt_ctl->req_args[0];
        time->millis = (uint32_t)vt_ctl->req_args[1];
        return r;
    }
    memset(time, 0, sizeof *time);
    if (r == TEE_ERROR_TIME_NOT_SET || r == TEE_ERROR_TIME_NEEDS_RESET) return r;
    TEE_Panic(r);
}

VTEETA_API TEE_Result TEE_SetTAPersistentTime(const TEE_Time *time) {
    if (!time) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    if (time->millis >= 1000) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[0] = time->seconds;
    vt_ctl->req_args[1] = time->millis;
    TEE_Result r = vt_request(VTEE_REQ_PTIME_SET);
    if (r != TEE_SUCCESS && r != TEE_ERROR_OUT_OF_MEMORY && r != TEE_ERROR_STORAGE_NO_SPACE) TEE_Panic(r);
    return r;
}

/* MARK: TA-to-TA */

struct ta_sess { uint32_t magic; uint32_t id; };
#define TASESS_MAGIC 0x54415353u
static struct ta_sess *ta_sessions[64];

static struct ta_sess *ta_sess_of(TEE_TASessionHandle h) {
    for (size_t i = 0; i < 64; i++) if (ta_sessions[i] && (void *)ta_sessions[i] == (void *)h) return ta_sessions[i];
    return NULL;
}

/* Puts params into the request: values as they are, memrefs copied into the request area
 * (their current bytes, so what the other TA does not write stays as it was). */
static TEE_Result marshal(uint32_t types, TEE_Param *params) {
    size_t off = 0;
    vt_ctl->req_param_types = types;
    for (int i = 0; i < 4; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(types, i);
        vt_ctl->req_params[i].a = 0; vt_ctl->req_params[i].b = 0;
        if (t == TEE_PARAM_TYPE_NONE) continue;
        if (!params) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
        if (t == TEE_PARAM_TYPE_VALUE_INPUT || t == TEE_PARAM_TYPE_VALUE_OUTPUT || t == TEE_PARAM_TYPE_VALUE_INOUT) {
            vt_ctl->req_params[i].a = params[i].value.a; vt_ctl->req_params[i].b = params[i].value.b;
        } else if (t >= TEE_PARAM_TYPE_MEMREF_INPUT && t <= TEE_PARAM_TYPE_MEMREF_INOUT) {
            size_t n = params[i].memref.size;
            if (!params[i].memref.buffer) {
                if (n) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
                vt_ctl->req_params[i].a = UINT64_MAX; continue;
            }
            if (n > VTEE_CH_REQ_BYTES - off) return TEE_ERROR_OUT_OF_MEMORY;
            memcpy(vt_req_area + off, params[i].memref.buffer, n);
            vt_ctl->req_params[i].a = off; vt_ctl->req_params[i].b = n;
            off = (off + n + 63) & ~(size_t)63;
        } else {
            TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
        }
    }
    return TEE_SUCCESS;
}

static void unmarshal(uint32_t types, TEE_Param *params) {
    for (int i = 0; i < 4; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(types, i);
        if (t == TEE_PARAM_TYPE_VALUE_OUTPUT || t == TEE_PARAM_TYPE_VALUE_INOUT) {
            params[i].value.a = (uint32_t)vt_ctl->req_params[i].a; params[i].value.b = (uint32_t)vt_ctl->req_params[i].b;
        } else if ((t == TEE_PARAM_TYPE_MEMREF_OUTPUT || t == TEE_PARAM_TYPE_MEMREF_INOUT) && params[i].memref.buffer) {
            size_t cap = params[i].memref.size, got = (size_t)vt_ctl->req_params[i].b;
            uint64_t off = vt_ctl->req_params[i].a;
            size_t n = got < cap ? got : cap;
            if (off <= VTEE_CH_REQ_BYTES && n <= VTEE_CH_REQ_BYTES - off) memcpy(params[i].memref.buffer, vt_req_area + off, n);
            params[i].memref.size = got;
        }
    }
}

VTEETA_API TEE_Result TEE_OpenTASession(const TEE_UUID *destination, uint32_t cancellationRequestTimeout, uint32_t paramTypes,
                                        TEE_Param params[4], TEE_TASessionHandle *session, uint32_t *returnOrigin) {
    if (!destination || !session) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *session = NULL;
    size_t slot = 64;
    for (size_t i = 0; i < 64; i++) if (!ta_sessions[i]) { slot = i; break; }
    TEE_Result r = slot == 64 ? TEE_ERROR_OUT_OF_MEMORY : marshal(paramTypes, params);
    if (r != TEE_SUCCESS) { if (returnOrigin) *returnOrigin = TEE_ORIGIN_TEE; return r; }
    uint8_t *u = vt_ctl->req_uuid;
    u[0] = (uint8_t)(destination->timeLow >> 24); u[1] = (uint8_t)(destination->timeLow >> 16);
    u[2] = (uint8_t)(destination->timeLow >> 8); u[3] = (uint8_t)destination->timeLow;
    u[4] = (uint8_t)(destination->timeMid >> 8); u[5] = (uint8_t)destination->timeMid;
    u[6] = (uint8_t)(destination->timeHiAndVersion >> 8); u[7] = (uint8_t)destination->timeHiAndVersion;
    memcpy(u + 8, destination->clockSeqAndNode, 8);
    vt_ctl->req_args[0] = cancellationRequestTimeout;
    r = vt_request(VTEE_REQ_TA_OPEN);
    if (params) unmarshal(paramTypes, params);
    if (returnOrigin) *returnOrigin = vt_ctl->req_origin;
    if (r != TEE_SUCCESS) return r;
    struct ta_sess *s = malloc(sizeof *s);
    if (!s) { vt_request(VTEE_REQ_TA_CLOSE); if (returnOrigin) *returnOrigin = TEE_ORIGIN_TEE; return TEE_ERROR_OUT_OF_MEMORY; }
    s->magic = TASESS_MAGIC; s->id = (uint32_t)vt_ctl->req_args[1];
    ta_sessions[slot] = s;
    *session = (TEE_TASessionHandle)(void *)s;
    return TEE_SUCCESS;
}

VTEETA_API void TEE_CloseTASession(TEE_TASessionHandle session) {
    if (!session) return;
    struct ta_sess *s = ta_sess_of(session);
    if (!s) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    vt_ctl->req_args[1] = s->id;
    vt_request(VTEE_REQ_TA_CLOSE);
    for (size_t i = 0; i < 64; i++) if (ta_sessions[i] == s) ta_sessions[i] = NULL;
    free(s);
}

VTEETA_API TEE_Result TEE_InvokeTACommand(TEE_TASessionHandle session, uint32_t cancellationRequestTimeout, uint32_t commandID,
                                          uint32_t paramTypes, TEE_Param params[4], uint32_t *returnOrigin) {
    struct ta_sess *s = ta_sess_of(session);
    if (!s) TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    TEE_Result r = marshal(paramTypes, params);
    if (r != TEE_SUCCESS) { if (returnOrigin) *returnOrigin = TEE_ORIGIN_TEE; return r; }
    vt_ctl->req_args[0] = cancellationRequestTimeout;
    vt_ctl->req_args[1] = s->id;
    vt_ctl->req_args[2] = commandID;
    r = vt_request(VTEE_REQ_TA_INVOKE);
    if (params) unmarshal(paramTypes, params);
    if (returnOrigin) *returnOrigin = vt_ctl->req_origin;
    return r;
}

/* MARK: OP-TEE extensions */

/* Cache maintenance: a host process shares coherent memory with the secure world: nothing to do. */
VTEETA_API TEE_Result TEE_CacheClean(char *buf, size_t len) { (void)buf; (void)len; return TEE_SUCCESS; }
VTEETA_API TEE_Result TEE_CacheFlush(char *buf, size_t len) { (void)buf; (void)len; return TEE_SUCCESS; }
VTEETA_API TEE_Result TEE_CacheInvalidate(char *buf, size_t len) { (void)buf; (void)len; return TEE_SUCCESS; }

/* Supplicant plugins: RPC SUPP_PLUGIN through the secure world to the normal world's supplicant;
 * the data goes through the request area, at most out_len bytes (capped at len) come back. */
VTEETA_API TEE_Result tee_invoke_supp_plugin(const TEE_UUID *uuid, uint32_t cmd, uint32_t sub_cmd, void *buf, size_t len, size_t *outlen) {
    if (!uuid || (len && !buf) || (!len && buf)) return TEE_ERROR_BAD_PARAMETERS;
    if (len > VTEE_CH_REQ_BYTES) return TEE_ERROR_OUT_OF_MEMORY;
    uint8_t *u = vt_ctl->req_uuid;
    u[0] = (uint8_t)(uuid->timeLow >> 24); u[1] = (uint8_t)(uuid->timeLow >> 16);
    u[2] = (uint8_t)(uuid->timeLow >> 8); u[3] = (uint8_t)uuid->timeLow;
    u[4] = (uint8_t)(uuid->timeMid >> 8); u[5] = (uint8_t)uuid->timeMid;
    u[6] = (uint8_t)(uuid->timeHiAndVersion >> 8); u[7] = (uint8_t)uuid->timeHiAndVersion;
    memcpy(u + 8, uuid->clockSeqAndNode, 8);
    vt_ctl->req_args[0] = cmd;
    vt_ctl->req_args[1] = sub_cmd;
    vt_ctl->req_args[2] = len;
    vt_ctl->req_args[3] = 0;
    if (len) memcpy(vt_req_area, buf, len);
    TEE_Result r = vt_request(VTEE_REQ_SUPP_PLUGIN);
    size_t out = (size_t)vt_ctl->req_args[3];
    if (outlen) *outlen = out;
    if (r == TEE_SUCCESS && len && out) memcpy(buf, vt_req_area, out < len ? out : len);
    return r;
}
