/// The C entry points of the /dev/tee emulation (`vtee_dev_*`), shared by libteec.so and
/// libvtee-preload.so. C glue only: each converts arguments and calls `TEEDevice.shared`.
import CTEEDev
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// open() of a TEE device path: "/dev/tee0" or "/dev/teepriv0". Returns a descriptor, or -1
/// with errno (ENOENT for other paths or when the daemon cannot be reached).
@_cdecl("vtee_dev_open")
public func vtee_dev_open(_ path: UnsafePointer<CChar>?, _ flags: Int32) -> Int32 {
    guard let path else { vtee_set_errno(EFAULT); return -1 }
    let privileged: Bool
    switch String(cString: path) {
    case "/dev/tee0": privileged = false
    case "/dev/teepriv0": privileged = true
    default: vtee_set_errno(ENOENT); return -1
    }
    do {
        let key = try TEEDevice.shared.openContext(privileged: privileged)
        let fd = vtee_dev_placeholder(privileged ? "vtee-teepriv0" : "vtee-tee0", flags & O_CLOEXEC != 0 ? 1 : 0, key)
        guard fd >= 0 else { TEEDevice.shared.releaseContext(key); vtee_set_errno(-fd); return -1 }
        return fd
    } catch {
        vtee_set_errno(error.errno); return -1
    }
}

/// ioctl() on a descriptor whose object is `key`: the result, or -1 with errno.
@_cdecl("vtee_dev_ioctl")
public func vtee_dev_ioctl(_ key: Int64, _ request: UInt64, _ argument: UInt64) -> Int32 {
    switch TEEDevice.shared.ioctl(key, request: request, argument: argument) {
    case let .success(v): return v
    case let .failure(e): vtee_set_errno(e.errno); return -1
    }
}

/// The last descriptor of object `key` was closed.
@_cdecl("vtee_dev_released")
public func vtee_dev_released(_ key: Int64) {
    vtee_dev_forget_key(key)
    TEEDevice.shared.releaseContext(key)
    TEEDevice.shared.releaseSharedMemoryDescriptor(key)
}

/// mmap of a shm descriptor whose object is `key`: maps the guest RAM behind it. Returns the
/// address, or MAP_FAILED with errno.
@_cdecl("vtee_dev_mmap")
public func vtee_dev_mmap(_ key: Int64, _ addr: UnsafeMutableRawPointer?, _ length: Int, _ prot: Int32, _ flags: Int32,
                          _ offset: Int64) -> UnsafeMutableRawPointer? {
    let failed = UnsafeMutableRawPointer(bitPattern: -1)
    let target: (fd: Int32, offset: Int64)
    do { target = try TEEDevice.shared.mapTarget(key, length: length, offset: offset) }
    catch { vtee_set_errno(error.errno); return failed }
    let p = vtee_sys_mmap(addr, length, prot, flags, target.fd, off_t(target.offset))
    let raw = Int(bitPattern: p)
    if raw < 0 && raw > -4096 { vtee_set_errno(Int32(-raw)); return failed }
    guard vtee_dev_mapping_add(UInt(bitPattern: raw), length, key) == 0 else {
        _ = vtee_sys_munmap(p, length); vtee_set_errno(ENOMEM); return failed
    }
    TEEDevice.shared.mapped(key)
    return p
}

/// A mapping of object `key` was unmapped.
@_cdecl("vtee_dev_unmapped")
public func vtee_dev_unmapped(_ key: Int64) {
    TEEDevice.shared.unmapped(key)
}
