// ThreadSanitizer builds only (any world, host process glue): makes Synchronization.Mutex visible
// to TSan. Empty in every other build.
//
// On Linux (Swift 6.3.1) Mutex's fast paths are inlined into our instrumented code (an acquiring
// CAS to lock, a releasing CAS to unlock, both on the Mutex's 32-bit futex word), but its slow
// paths live in the uninstrumented libswiftSynchronization.so: _lockSlow spins with plain CASes
// and then takes the lock in the kernel (FUTEX_LOCK_PI), _unlockSlow hands it over with
// FUTEX_UNLOCK_PI, _tryLockSlow uses FUTEX_TRYLOCK_PI. TSan sees none of these, so two critical
// sections whose lock changed hands through a slow path have no happens-before edge and every
// contended Mutex looks like a data race (scripts/tsan-mutex-repro.swift).
//
// The three slow paths are interposed here: the test executable's own definitions of those
// symbols win over the shared library's at link time, call the real ones (dlsym RTLD_NEXT), and
// tell TSan what they did: a release on the futex word before the lock is handed over, an acquire
// on it after it is taken. That is exactly the edge the inlined fast paths already give TSan (same
// address), so TSan now sees every Mutex as a lock and still reports real races around it.
// The symbols are Swift methods (swiftcall, the handle's address in the self register, swift_context).
// If a toolchain renames them, these definitions are simply unused and the false positives come
// back loudly (scripts/sanitizers.sh thread runs scripts/tsan-mutex-repro.swift first).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VTEE_TSAN_MUTEX 1
#endif
#endif

#ifdef VTEE_TSAN_MUTEX
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFTSELF __attribute__((swift_context))
#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRYLOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

typedef SWIFTCALL void (*lock_slow_fn)(uint32_t, void *SWIFTSELF);
typedef SWIFTCALL void (*unlock_slow_fn)(void *SWIFTSELF);
typedef SWIFTCALL bool (*trylock_slow_fn)(void *SWIFTSELF);

// The real function behind our own definition; a missing one is a broken toolchain, not a race.
static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) { fprintf(stderr, "tsan_mutex: no %s in the loaded libraries\n", name); abort(); }
    return f;
}

// Resolved once at load, before any thread can take a Mutex (no lazy, racy initialisation).
static lock_slow_fn real_lock_slow;
static unlock_slow_fn real_unlock_slow;
static trylock_slow_fn real_trylock_slow;
__attribute__((constructor)) static void vtee_tsan_mutex_init(void) {
    real_lock_slow = (lock_slow_fn)real(LOCK_SLOW);
    real_unlock_slow = (unlock_slow_fn)real(UNLOCK_SLOW);
    real_trylock_slow = (trylock_slow_fn)real(TRYLOCK_SLOW);
}

// Sound: same signature and calling convention as the Swift method; the word is only named to TSan.
SWIFTCALL void vtee_tsan_lock_slow(uint32_t self_id, void *SWIFTSELF handle) __asm__(LOCK_SLOW);
SWIFTCALL void vtee_tsan_lock_slow(uint32_t self_id, void *SWIFTSELF handle) {
    real_lock_slow(self_id, handle);
    __tsan_acquire(handle);
}

SWIFTCALL void vtee_tsan_unlock_slow(void *SWIFTSELF handle) __asm__(UNLOCK_SLOW);
SWIFTCALL void vtee_tsan_unlock_slow(void *SWIFTSELF handle) {
    __tsan_release(handle);
    real_unlock_slow(handle);
}

SWIFTCALL bool vtee_tsan_trylock_slow(void *SWIFTSELF handle) __asm__(TRYLOCK_SLOW);
SWIFTCALL bool vtee_tsan_trylock_slow(void *SWIFTSELF handle) {
    bool locked = real_trylock_slow(handle);
    if (locked) __tsan_acquire(handle);
    return locked;
}
#endif
