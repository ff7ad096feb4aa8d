/* vtee-ta-host: the executable a TA process runs (argv[0] "ta-<uuid>"). Started by the secure
 * world with the TA channel on fd 3, its doorbell on fd 4 and the verified TA image (a sealed
 * memfd) on fd 5, nothing else inherited. It loads libvteeta.so from its own directory and
 * hands over to it; libvteeta loads the TA and installs the sandbox.
 *
 * Debugging: with VTEE_TA_WAIT_DEBUGGER=1 (or =<the TA's uuid>) in the daemon's environment,
 * the process prints its pid and waits, before loading anything, until a debugger attaches
 * (`gdb -p PID`). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Read by AddressSanitizer's runtime when this executable is built sanitized (.ci/run's ASan
 * step); unused otherwise. A TA's own fault (SIGSEGV, SIGBUS, a stack overflow) must end the
 * process by that signal, as in a plain build, so the secure world reports TARGET_DEAD: ASan's
 * report handler would instead try to allocate under the sandbox's RLIMIT_DATA and print a
 * spurious "out of memory" report. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "handle_segv=0:handle_sigbus=0"; }

static int traced(void) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return 0;
    char line[256];
    int pid = 0;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "TracerPid: %d", &pid) == 1) break;
    fclose(f);
    return pid != 0;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *name = argv[0] ? argv[0] : "ta-?";
    const char *uuid = strncmp(name, "ta-", 3) == 0 ? name + 3 : name;
    prctl(PR_SET_NAME, name, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);

    const char *wait = getenv("VTEE_TA_WAIT_DEBUGGER");
    if (wait && (strcmp(wait, "1") == 0 || strcmp(wait, uuid) == 0)) {
        fprintf(stderr, "%s: pid %d waiting for a debugger (gdb -p %d)\n", name, (int)getpid(), (int)getpid());
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        while (!traced()) nanosleep(&ts, NULL);
    }

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (n <= 0) return 0x7d;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0x7d;
    strcpy(slash + 1, "libvteeta.so");
    const char *lib = getenv("VTEE_TA_RUNTIME");
    void *h = dlopen(lib && *lib ? lib : exe, RTLD_NOW | RTLD_GLOBAL);
    if (!h) { fprintf(stderr, "%s: %s\n", name, dlerror()); return 0x7d; }
    void (*run)(const char *);
    *(void **)&run = dlsym(h, "vteeta_run");
    if (!run) { fprintf(stderr, "%s: libvteeta has no vteeta_run\n", name); return 0x7d; }
    run(uuid);
    return 0x7d;
}
