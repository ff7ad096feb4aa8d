/* libvteeta: the runtime of a C trusted application in its own process (the TA world).
 * It implements the GP TEE Internal Core API (outside cryptography) that a TA built with the
 * vtee dev kit imports, runs the TA's entry points for the secure world over the TA channel,
 * and sandboxes the process. The TA headers are the dev kit's; this header only declares how
 * the host executable (vtee-ta-host) starts the runtime. */
#ifndef VTEETA_H
#define VTEETA_H

/* Runs the TA process: loads the TA image from fd 5, maps the channel (fd 3), installs the
 * sandbox, then serves entry points until told to exit. `uuid` is the TA's canonical UUID
 * string. Never returns. */
__attribute__((noreturn, visibility("default"))) void vteeta_run(const char *uuid);
#endif
