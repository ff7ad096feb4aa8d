/* CVTEEPreload: the LD_PRELOAD interposer of libvtee-preload.so (guest user space). It defines
 * open/openat (and their 64-bit and fortified forms), ioctl, close, mmap and munmap: calls on
 * /dev/tee0, /dev/teepriv0 and the descriptors and mappings they produced go to vtee's /dev/tee
 * emulation; everything else goes on to libc via dlsym(RTLD_NEXT). No declarations are public. */
#ifndef VTEE_PRELOAD_H
#define VTEE_PRELOAD_H
/* The number of TEE device opens this library has routed to vtee (for diagnostics). */
unsigned long vtee_preload_routed_opens(void);
#endif
