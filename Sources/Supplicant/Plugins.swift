/// tee-supplicant plugins (normal world, user space): shared libraries in a plugin directory,
/// each exporting optee_client's `struct plugin_method plugin_method` ({name, TEEC_UUID uuid,
/// init, invoke}), served for RPC SUPP_PLUGIN (12). As tee-supplicant's plugin.c: every regular
/// file of the directory is dlopen'ed, a library without `plugin_method`, a name or an invoke
/// function is skipped, `init` runs once at load (a failing plugin is skipped), and a request
/// finds its plugin by the descriptor's UUID. This file is C glue: it touches only the loaded
/// libraries' descriptors and calls their functions.
import Foundation
import Logging
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// The plugins loaded from one directory, by UUID.
public final class SupplicantPlugins: @unchecked Sendable {
    // @unchecked: the table is written only in init; the C functions it holds are the plugins'
    // own, called concurrently as tee-supplicant's serving threads call them.
    typealias Invoke = @convention(c) (UInt32, UInt32, UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<Int>?) -> UInt32
    typealias Initialize = @convention(c) () -> UInt32

    struct Plugin {
        let name: String
        let invoke: Invoke
    }
    private let table: [TEEUUID: Plugin]

    /// Names of the plugins loaded, by UUID (for logs and tests).
    public var loaded: [TEEUUID: String] { table.mapValues(\.name) }

    /// Offsets in `struct plugin_method` (LP64): name pointer, TEEC_UUID (16 bytes), init, invoke.
    private enum Layout { static let name = 0, uuid = 8, initialize = 24, invoke = 32, size = 40 }

    /// Loads every plugin of `directory` (none when nil or missing, as tee-supplicant).
    public init(directory: String?, logger: Logger) {
        var table: [TEEUUID: Plugin] = [:]
        let files = directory.flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0) } ?? []
        for file in files.sorted() {
            guard let dir = directory else { break }
            let path = dir + "/" + file
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            guard let (uuid, plugin) = Self.load(path, logger: logger) else { continue }
            if table[uuid] != nil { logger.warning("plugin \(path): UUID \(uuid) already loaded, skipped"); continue }
            table[uuid] = plugin
            logger.debug("plugin loaded", metadata: ["name": "\(plugin.name)", "uuid": "\(uuid)"])
        }
        self.table = table
    }

    /// dlopen + dlsym("plugin_method") + init; nil (logged) when the file is no usable plugin.
    private static func load(_ path: String, logger: Logger) -> (TEEUUID, Plugin)? {
        guard let handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL) else {
            logger.warning("plugin \(path): \(String(cString: dlerror()))")
            return nil
        }
        // Sound: the symbol is the plugin's `struct plugin_method` (40 bytes, pointer-aligned), read once.
        guard let m = dlsym(handle, "plugin_method") else {
            logger.warning("plugin \(path): no plugin_method"); dlclose(handle); return nil
        }
        let namePtr = m.load(fromByteOffset: Layout.name, as: UnsafePointer<CChar>?.self)
        let initPtr = m.load(fromByteOffset: Layout.initialize, as: UnsafeRawPointer?.self)
        let invokePtr = m.load(fromByteOffset: Layout.invoke, as: UnsafeRawPointer?.self)
        guard let namePtr, let invokePtr else {
            logger.warning("plugin \(path): plugin_method without a name or invoke"); dlclose(handle); return nil
        }
        // TEEC_UUID in host order: timeLow u32, timeMid u16, timeHiAndVersion u16, clockSeqAndNode[8].
        let timeLow = m.load(fromByteOffset: Layout.uuid, as: UInt32.self)
        let timeMid = m.load(fromByteOffset: Layout.uuid + 4, as: UInt16.self)
        let timeHi = m.load(fromByteOffset: Layout.uuid + 6, as: UInt16.self)
        var octets: [UInt8] = []
        octets += (0..<4).map { UInt8(truncatingIfNeeded: timeLow >> (24 - 8 * $0)) }
        octets += [UInt8(truncatingIfNeeded: timeMid >> 8), UInt8(truncatingIfNeeded: timeMid)]
        octets += [UInt8(truncatingIfNeeded: timeHi >> 8), UInt8(truncatingIfNeeded: timeHi)]
        octets += (0..<8).map { m.load(fromByteOffset: Layout.uuid + 8 + $0, as: UInt8.self) }
        let uuid = TEEUUID(octets: octets)
        let name = String(cString: namePtr)
        if let initPtr {
            // Sound: a C function of type TEEC_Result (*)(void), as the descriptor declares.
            let r = unsafeBitCast(initPtr, to: Initialize.self)()
            guard r == 0 else {
                logger.warning("plugin \(name): init failed with \(TEEResult(rawValue: r))"); dlclose(handle); return nil
            }
        }
        // Sound: the descriptor's invoke, of the declared type; the library stays loaded for good.
        return (uuid, Plugin(name: name, invoke: unsafeBitCast(invokePtr, to: Invoke.self)))
    }

    /// Runs plugin `uuid`'s invoke(cmd, sub_cmd, data, in_len, &out_len) on `data` in place:
    /// the result and out_len; ITEM_NOT_FOUND for an unknown plugin.
    public func invoke(_ uuid: TEEUUID, command: UInt32, subCommand: UInt32, data: inout [UInt8]?) -> (TEEResult, Int) {
        guard let p = table[uuid] else { return (.itemNotFound, 0) }
        var outLength = 0
        let r: UInt32
        if var bytes = data, !bytes.isEmpty {
            // Sound: the plugin gets exactly `bytes.count` writable bytes for the call's duration.
            r = bytes.withUnsafeMutableBytes { b in p.invoke(command, subCommand, b.baseAddress, b.count, &outLength) }
            data = bytes
        } else {
            r = p.invoke(command, subCommand, nil, 0, &outLength)
        }
        return (TEEResult(rawValue: r), max(0, outLength))
    }
}
