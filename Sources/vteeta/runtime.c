/* libvteeta runtime: loads the TA image, installs the sandbox (seccomp allowlist, data limit,
 * entry stack of TA_STACK_SIZE), then runs the TA's GP entry points for the secure world over
 * the TA channel. TA world: touches only the channel memfd (fd 3), the doorbell socket (fd 4)
 * and the image memfd (fd 5, closed once loaded). */
#define _GNU_SOURCE
#include "internal.h"
#include "vteeta.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

struct vtee_ch_control *vt_ctl;
uint8_t *vt_call_area;
uint8_t *vt_req_area;
TEE_UUID vt_ta_uuid;
const struct vteeta_ta_prop *vt_props;
size_t vt_num_props;
int *vt_trace_level;
TEE_Identity vt_client;
static bool vt_default_mask = true;
bool *vt_cancel_mask = &vt_default_mask;
TEE_Param vt_cur_params[4];
uint32_t vt_cur_types;

static int vt_in_entry;
static const char *vt_uuid_str = "";

/* The TA's entry points (GP 1.3 names, or the GP 1.1 ones of a COMPAT_1_1 build). */
static ta_create_fn ep_create;
static ta_destroy_fn ep_destroy;
static ta_open_fn ep_open;
static ta_close_fn ep_close;
static ta_invoke_fn ep_invoke;
static ta_open11_fn ep_open11;
static ta_invoke11_fn ep_invoke11;

/* Sessions of this instance: the secure world's number, the TA's session context, the
 * session's cancellation mask (masked at open, kept across invocations as OP-TEE does). */
struct vt_session { uint32_t num; int used; void *ctx; bool mask; };
static struct vt_session *sessions;
static size_t nsessions;

/* MARK: doorbell */

static void bell_ring(void) {
    char b = 1;
    ssize_t r = write(VTEE_TA_FD_DOORBELL, &b, 1);
    (void)r; /* a full socket already holds a pending wake-up */
}

static void post(uint32_t state) {
    vtee_ch_store(&vt_ctl->state, state);
    if (vtee_ch_load(&vt_ctl->sw_waiting)) bell_ring();
}

/* Waits until the secure world posts `a` or `b`; exits when the secure world is gone. */
static uint32_t wait_for(uint32_t a, uint32_t b) {
    for (int i = 0; i < 4000; i++) {
        uint32_t s = vtee_ch_load(&vt_ctl->state);
        if (s == a || s == b) return s;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
    for (;;) {
        vtee_ch_store(&vt_ctl->ta_waiting, 1);
        uint32_t s = vtee_ch_load(&vt_ctl->state);
        if (s == a || s == b) { vtee_ch_store(&vt_ctl->ta_waiting, 0); return s; }
        struct pollfd p = { .fd = VTEE_TA_FD_DOORBELL, .events = POLLIN };
        int n = poll(&p, 1, 1000);
        if (n > 0 && (p.revents & (POLLHUP | POLLERR))) _exit(0); /* the secure world closed the channel */
        char buf[64];
        while (read(VTEE_TA_FD_DOORBELL, buf, sizeof buf) > 0) {}
        vtee_ch_store(&vt_ctl->ta_waiting, 0);
    }
}

TEE_Result vt_request(uint32_t req) {
    if (!vt_in_entry) return TEE_ERROR_BAD_STATE;
    vt_ctl->req = req;
    vt_ctl->req_result = TEE_ERROR_COMMUNICATION;
    vt_ctl->req_origin = TEE_ORIGIN_TEE;
    post(VTEE_CH_REQ);
    wait_for(VTEE_CH_REPLY, VTEE_CH_REPLY);
    return vt_ctl->req_result;
}

void vt_panic(TEE_Result code) {
    if (vt_ctl) {
        vt_ctl->panic_code = code;
        vtee_ch_store(&vt_ctl->panicked, 1);
    }
    _exit(VTEE_TA_PANIC_EXIT);
}

VTEETA_API void TEE_Panic(TEE_Result code) { vt_panic(code); }

/* MARK: trace (OP-TEE's trace.h functions, which the dev kit's EMSG/IMSG/DMSG/FMSG call) */

VTEETA_API int trace_get_level(void) { return vt_trace_level ? *vt_trace_level : 1; }
VTEETA_API void trace_set_level(int level) { if (vt_trace_level) *vt_trace_level = level; }

static void send_log(int level, const char *text) {
    size_t n = strnlen(text, 1023);
    memcpy(vt_req_area, text, n);
    vt_req_area[n] = 0;
    vt_ctl->req_args[0] = (uint64_t)level;
    vt_ctl->req_args[1] = n;
    if (vt_request(VTEE_REQ_LOG) == TEE_ERROR_BAD_STATE) {
        /* Outside an entry point there is no one to hand the line to: stderr (the daemon's). */
        fprintf(stderr, "ta-%s: %s\n", vt_uuid_str, text);
    }
}

VTEETA_API void trace_ext_puts(const char *str) { send_log(2, str ? str : ""); }

/* OP-TEE's trace_printf: `func`/`line` NULL/0 for the *_RAW forms; `level_ok` false skips the
 * runtime level check. Lines are "E/TA:  fn:42 text" (ERROR, DEBUG, FLOW) or "I/TA: text". */
VTEETA_API void trace_printf(const char *func, int line, int level, bool level_ok, const char *fmt, ...) {
    if (level_ok && level > trace_get_level()) return;
    static const char tags[] = "?EIDF";
    char buf[256];
    int n = 0;
    char tag = (level >= 1 && level <= 4) ? tags[level] : 'M';
    if (func && level != 2) n = snprintf(buf, sizeof buf, "%c/TA:  %s:%d ", tag, func, line);
    else n = snprintf(buf, sizeof buf, "%c/TA: ", tag);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof buf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, sizeof buf - (size_t)n, fmt ? fmt : "", ap);
        va_end(ap);
    }
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == '\n') buf[--len] = 0;
    send_log(level, buf);
}

/* OP-TEE's dhex_dump (DHEXDUMP): logs `len` bytes of `buf` as hex, 16 a line. */
VTEETA_API void dhex_dump(const char *function, int line, int level, const void *buf, int len) {
    if (level > trace_get_level() || !buf || len <= 0) return;
    const uint8_t *b = buf;
    for (int off = 0; off < len; off += 16) {
        char out[3 * 16 + 1];
        int k = 0;
        for (int i = off; i < len && i < off + 16; i++) k += snprintf(out + k, sizeof out - (size_t)k, "%02x ", b[i]);
        trace_printf(function, line, level, false, "%s", out);
    }
}

/* MARK: entry points */

static struct vt_session *session_find(uint32_t num) {
    for (size_t i = 0; i < nsessions; i++) if (sessions[i].used && sessions[i].num == num) return &sessions[i];
    return NULL;
}

static struct vt_session *session_add(uint32_t num) {
    for (size_t i = 0; i < nsessions; i++) if (!sessions[i].used) { sessions[i] = (struct vt_session){ num, 1, NULL, true }; return &sessions[i]; }
    struct vt_session *grown = realloc(sessions, (nsessions + 8) * sizeof *sessions);
    if (!grown) return NULL;
    sessions = grown;
    memset(sessions + nsessions, 0, 8 * sizeof *sessions);
    nsessions += 8;
    return session_add(num);
}

/* Turns the channel's params into TEE_Params over the call area; 0 if they are out of range. */
static int params_in(uint32_t types, TEE_Param p[4]) {
    memset(p, 0, 4 * sizeof *p);
    for (int i = 0; i < 4; i++) {
        uint64_t a = vt_ctl->params[i].a, b = vt_ctl->params[i].b;
        switch (TEE_PARAM_TYPE_GET(types, i)) {
        case TEE_PARAM_TYPE_VALUE_INPUT: case TEE_PARAM_TYPE_VALUE_OUTPUT: case TEE_PARAM_TYPE_VALUE_INOUT:
            p[i].value.a = (uint32_t)a; p[i].value.b = (uint32_t)b; break;
        case TEE_PARAM_TYPE_MEMREF_INPUT: case TEE_PARAM_TYPE_MEMREF_OUTPUT: case TEE_PARAM_TYPE_MEMREF_INOUT:
            if (a == UINT64_MAX) { p[i].memref.buffer = NULL; p[i].memref.size = 0; break; }
            if (a > VTEE_CH_CALL_BYTES || b > VTEE_CH_CALL_BYTES - a) return 0;
            p[i].memref.buffer = vt_call_area + a; p[i].memref.size = (size_t)b; break;
        default: break;
        }
    }
    return 1;
}

static void params_out(uint32_t types, const TEE_Param p[4]) {
    for (int i = 0; i < 4; i++) {
        switch (TEE_PARAM_TYPE_GET(types, i)) {
        case TEE_PARAM_TYPE_VALUE_OUTPUT: case TEE_PARAM_TYPE_VALUE_INOUT:
            vt_ctl->params[i].a = p[i].value.a; vt_ctl->params[i].b = p[i].value.b; break;
        case TEE_PARAM_TYPE_MEMREF_OUTPUT: case TEE_PARAM_TYPE_MEMREF_INOUT:
            vt_ctl->params[i].b = p[i].memref.size; break;
        default: break;
        }
    }
}

static TEE_Result call_open(uint32_t types, TEE_Param p[4], void **ctx) {
    if (ep_open) return ep_open(types, p, ctx);
    vteeta_gp11_param q[4];
    for (int i = 0; i < 4; i++) { q[i].memref.buffer = p[i].memref.buffer; q[i].memref.size = (uint32_t)p[i].memref.size; }
    for (int i = 0; i < 4; i++) if (TEE_PARAM_TYPE_GET(types, i) < 4) { q[i].value.a = p[i].value.a; q[i].value.b = p[i].value.b; }
    TEE_Result r = ep_open11(types, q, ctx);
    for (int i = 0; i < 4; i++) {
        if (TEE_PARAM_TYPE_GET(types, i) < 4) { p[i].value.a = q[i].value.a; p[i].value.b = q[i].value.b; }
        else p[i].memref.size = q[i].memref.size;
    }
    return r;
}

static TEE_Result call_invoke(void *ctx, uint32_t cmd, uint32_t types, TEE_Param p[4]) {
    if (ep_invoke) return ep_invoke(ctx, cmd, types, p);
    vteeta_gp11_param q[4];
    for (int i = 0; i < 4; i++) { q[i].memref.buffer = p[i].memref.buffer; q[i].memref.size = (uint32_t)p[i].memref.size; }
    for (int i = 0; i < 4; i++) if (TEE_PARAM_TYPE_GET(types, i) < 4) { q[i].value.a = p[i].value.a; q[i].value.b = p[i].value.b; }
    TEE_Result r = ep_invoke11(ctx, cmd, types, q);
    for (int i = 0; i < 4; i++) {
        if (TEE_PARAM_TYPE_GET(types, i) < 4) { p[i].value.a = q[i].value.a; p[i].value.b = q[i].value.b; }
        else p[i].memref.size = q[i].memref.size;
    }
    return r;
}

/* One entry point, as the secure world posted it. */
static TEE_Result run_entry(void) {
    uint32_t op = vt_ctl->op, num = vt_ctl->session, cmd = vt_ctl->cmd, types = vt_ctl->param_types;
    vt_client.login = vt_ctl->client_login;
    const uint8_t *u = vt_ctl->client_uuid;
    vt_client.uuid.timeLow = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
    vt_client.uuid.timeMid = (uint16_t)(u[4] << 8 | u[5]);
    vt_client.uuid.timeHiAndVersion = (uint16_t)(u[6] << 8 | u[7]);
    memcpy(vt_client.uuid.clockSeqAndNode, u + 8, 8);
    TEE_Param p[4];
    vt_cur_types = 0;
    memset(vt_cur_params, 0, sizeof vt_cur_params);
    switch (op) {
    case VTEE_OP_CREATE:
        vt_cancel_mask = &vt_default_mask;
        return ep_create ? ep_create() : TEE_SUCCESS;
    case VTEE_OP_DESTROY:
        vt_cancel_mask = &vt_default_mask;
        if (ep_destroy) ep_destroy();
        return TEE_SUCCESS;
    case VTEE_OP_OPEN: {
        if (!params_in(types, p)) return TEE_ERROR_BAD_PARAMETERS;
        struct vt_session *s = session_add(num);
        if (!s) return TEE_ERROR_OUT_OF_MEMORY;
        vt_cancel_mask = &s->mask;
        vt_cur_types = types; memcpy(vt_cur_params, p, sizeof p);
        void *ctx = NULL;
        TEE_Result r = call_open(types, p, &ctx);
        params_out(types, p);
        s = session_find(num);
        if (s) { if (r == TEE_SUCCESS) s->ctx = ctx; else s->used = 0; }
        return r;
    }
    case VTEE_OP_INVOKE: {
        struct vt_session *s = session_find(num);
        if (!s) return TEE_ERROR_BAD_STATE;
        if (!params_in(types, p)) return TEE_ERROR_BAD_PARAMETERS;
        vt_cancel_mask = &s->mask;
        vt_cur_types = types; memcpy(vt_cur_params, p, sizeof p);
        TEE_Result r = call_invoke(s->ctx, cmd, types, p);
        params_out(types, p);
        return r;
    }
    case VTEE_OP_CLOSE: {
        struct vt_session *s = session_find(num);
        if (!s) return TEE_ERROR_BAD_STATE;
        vt_cancel_mask = &s->mask;
        if (ep_close) ep_close(s->ctx);
        s = session_find(num);
        if (s) s->used = 0;
        return TEE_SUCCESS;
    }
    case VTEE_OP_EXIT:
        _exit(0);
    default:
        return TEE_ERROR_NOT_SUPPORTED;
    }
}

/* The serving loop; runs on the TA's entry stack. */
static void serve(void) {
    for (;;) {
        wait_for(VTEE_CH_CALL, VTEE_CH_CALL);
        vt_in_entry = 1;
        TEE_Result r = run_entry();
        vt_in_entry = 0;
        vt_ctl->result = r;
        vt_ctl->origin = TEE_ORIGIN_TRUSTED_APP;
        post(VTEE_CH_DONE);
    }
}

/* MARK: loading and sandbox */

/* Ends the process before READY: the secure world reads `result` and reports it. */
__attribute__((noreturn)) static void load_failed(TEE_Result r, const char *why) {
    fprintf(stderr, "ta-%s: cannot load: %s\n", vt_uuid_str, why);
    if (vt_ctl) vt_ctl->result = r;
    _exit(VTEE_TA_LOAD_EXIT);
}

static int image_phdr(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_addr != (ElfW(Addr))(uintptr_t)data) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        vt_note_region(info->dlpi_addr + ph->p_vaddr, ph->p_memsz, (ph->p_flags & PF_W) != 0);
    }
    return 1;
}

/* Adds `nr` to the allowlist being built in `f` (two instructions). */
#define ALLOW_NR(nr) do { \
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(nr), 0, 1); \
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW); } while (0)

/* The seccomp allowlist: memory, futex, the already-open descriptors, time, signals to itself
 * (abort) and exit. No open, no socket, no exec, no fork: anything else kills the process. */
static int install_seccomp(void) {
    struct sock_filter f[128];
    int n = 0;
#if defined(__x86_64__)
    const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
#error "vteeta: unsupported architecture"
#endif
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* x32 syscalls (bit 30) are another table: refuse them. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
    ALLOW_NR(__NR_read); ALLOW_NR(__NR_write); ALLOW_NR(__NR_writev); ALLOW_NR(__NR_close);
    ALLOW_NR(__NR_mmap); ALLOW_NR(__NR_munmap); ALLOW_NR(__NR_mremap); ALLOW_NR(__NR_mprotect);
    ALLOW_NR(__NR_madvise); ALLOW_NR(__NR_brk); ALLOW_NR(__NR_futex); ALLOW_NR(__NR_ppoll);
    ALLOW_NR(__NR_rt_sigprocmask); ALLOW_NR(__NR_rt_sigreturn); ALLOW_NR(__NR_rt_sigaction);
    ALLOW_NR(__NR_getpid); ALLOW_NR(__NR_gettid); ALLOW_NR(__NR_exit); ALLOW_NR(__NR_exit_group);
    ALLOW_NR(__NR_clock_gettime); ALLOW_NR(__NR_clock_nanosleep); ALLOW_NR(__NR_sched_yield);
    ALLOW_NR(__NR_newfstatat); ALLOW_NR(__NR_getrandom); ALLOW_NR(__NR_lseek);
#ifdef __NR_rseq
    ALLOW_NR(__NR_rseq);
#endif
    ALLOW_NR(__NR_set_robust_list);
#ifdef __NR_poll
    ALLOW_NR(__NR_poll);
#endif
#ifdef __NR_fstat
    ALLOW_NR(__NR_fstat);
#endif
#ifdef __NR_nanosleep
    ALLOW_NR(__NR_nanosleep);
#endif
    /* tgkill only at this process (abort/raise). */
    uint32_t self = (uint32_t)getpid();
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, self, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    /* ioctl only TCGETS (stdio asks whether stdout is a terminal). */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x5401u, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* VmData of this process in bytes (before the sandbox: /proc is still reachable). */
static size_t vm_data_bytes(void) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "VmData: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

static uint32_t prop_u32(const char *name, uint32_t fallback) {
    for (size_t i = 0; i < vt_num_props; i++)
        if (vt_props[i].name && vt_props[i].type == PROP_U32 && vt_props[i].value && strcmp(vt_props[i].name, name) == 0)
            return *(const uint32_t *)vt_props[i].value;
    return fallback;
}

/* Host C library allowance on top of the TA's own stack (glibc's stdio needs more than libutee's). */
#define VTEETA_STACK_EXTRA (64u * 1024u)
/* Host C library allowance on top of TA_DATA_SIZE for RLIMIT_DATA (malloc called directly). */
#define VTEETA_DATA_EXTRA (1u << 20)

void vteeta_run(const char *uuid) {
    vt_uuid_str = uuid ? uuid : "";
    struct stat st;
    if (fstat(VTEE_TA_FD_CHANNEL, &st) != 0 || (uint64_t)st.st_size < VTEE_CH_TOTAL_BYTES) load_failed(TEE_ERROR_COMMUNICATION, "channel");
    void *m = mmap(NULL, VTEE_CH_TOTAL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, VTEE_TA_FD_CHANNEL, 0);
    if (m == MAP_FAILED) load_failed(TEE_ERROR_OUT_OF_MEMORY, "map channel");
    vt_ctl = m;
    vt_call_area = (uint8_t *)m + VTEE_CH_CALL_OFFSET;
    vt_req_area = (uint8_t *)m + VTEE_CH_REQ_OFFSET;
    close(VTEE_TA_FD_CHANNEL);

    void *ta = dlopen("/proc/self/fd/5", RTLD_NOW | RTLD_LOCAL);
    if (!ta) { fprintf(stderr, "ta-%s: %s\n", vt_uuid_str, dlerror()); load_failed(TEE_ERROR_BAD_FORMAT, "dlopen"); }
    close(VTEE_TA_FD_IMAGE);
    const struct vteeta_ta_head *head = dlsym(ta, "ta_head");
    const struct vteeta_ta_prop *props = dlsym(ta, "ta_props");
    const size_t *nprops = dlsym(ta, "ta_num_props");
    if (!head) load_failed(TEE_ERROR_BAD_FORMAT, "no ta_head");
    vt_ta_uuid = head->uuid;
    vt_props = props;
    vt_num_props = (props && nprops) ? *nprops : 0;
    vt_trace_level = dlsym(ta, "trace_level");
    *(void **)&ep_create = dlsym(ta, "TA_CreateEntryPoint");
    *(void **)&ep_destroy = dlsym(ta, "TA_DestroyEntryPoint");
    *(void **)&ep_open = dlsym(ta, "TA_OpenSessionEntryPoint");
    *(void **)&ep_close = dlsym(ta, "TA_CloseSessionEntryPoint");
    *(void **)&ep_invoke = dlsym(ta, "TA_InvokeCommandEntryPoint");
    if (!ep_open) *(void **)&ep_open11 = dlsym(ta, "__GP11_TA_OpenSessionEntryPoint");
    if (!ep_invoke) *(void **)&ep_invoke11 = dlsym(ta, "__GP11_TA_InvokeCommandEntryPoint");
    if ((!ep_open && !ep_open11) || (!ep_invoke && !ep_invoke11)) load_failed(TEE_ERROR_BAD_FORMAT, "missing GP entry points");

    Dl_info di;
    if (dladdr(head, &di) && di.dli_fbase) dl_iterate_phdr(image_phdr, di.dli_fbase);

    uint32_t data_size = prop_u32("gpd.ta.dataSize", 1u << 20);
    vt_arena_init(data_size);
    size_t page = 4096;
    size_t stack = ((size_t)head->stack_size + VTEETA_STACK_EXTRA + page - 1) / page * page;
    uint8_t *sp = mmap(NULL, stack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sp == MAP_FAILED) load_failed(TEE_ERROR_OUT_OF_MEMORY, "stack");
    mprotect(sp, page, PROT_NONE); /* guard page: overflowing the stack is a SIGSEGV */
    vt_note_region((uintptr_t)(sp + page), stack, 1);

    size_t used = vm_data_bytes();
    if (used > 0) {
        struct rlimit rl = { used + data_size + VTEETA_DATA_EXTRA, used + data_size + VTEETA_DATA_EXTRA };
        setrlimit(RLIMIT_DATA, &rl);
    }
    int fl = fcntl(VTEE_TA_FD_DOORBELL, F_GETFL);
    if (fl >= 0) fcntl(VTEE_TA_FD_DOORBELL, F_SETFL, fl | O_NONBLOCK);
    /* Warm up what the sandbox would refuse later (stdio's first use of stdout). */
    fflush(stdout);
    if (install_seccomp() != 0) load_failed(TEE_ERROR_SECURITY, "seccomp");

    vt_ctl->ta_flags = head->flags;
    vt_ctl->ta_stack_size = head->stack_size;
    vt_ctl->ta_data_size = data_size;
    post(VTEE_CH_READY);

    static ucontext_t main_ctx, ta_ctx;
    getcontext(&ta_ctx);
    ta_ctx.uc_stack.ss_sp = sp + page;
    ta_ctx.uc_stack.ss_size = stack;
    ta_ctx.uc_link = &main_ctx;
    makecontext(&ta_ctx, serve, 0);
    swapcontext(&main_ctx, &ta_ctx);
    _exit(0);
}
