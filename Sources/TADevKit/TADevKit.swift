/// TADevKit: the OP-TEE-compatible TA dev kit that `vtee devkit export DIR` writes.
///
/// Host tooling, no world: the kit's files (GP headers, mk/ta_dev_kit.mk, src/user_ta_header.c)
/// are compiled into vtee from `Sources/TADevKit/kit`, and `export` writes them with the
/// development key, a conf.mk naming the vtee binary that signs, and libvteeta.so (the GP
/// Internal Core API runtime every TA links against). Touches only the export directory.
import Foundation
import SignedTA

/// Why an export failed.
public enum TADevKitError: Error, Equatable, CustomStringConvertible {
    /// A file or directory of the kit could not be written.
    case cannotWrite(String)
    /// The runtime library to copy does not exist.
    case missingRuntime(String)

    /// A one-line reason for the command line.
    public var description: String {
        switch self {
        case let .cannotWrite(p): "cannot write \(p)"
        case let .missingRuntime(p): "the TA runtime library \(p) does not exist (build the vteeta product first: swift build --product vteeta)"
        }
    }
}

/// The dev kit's contents and its export.
public enum TADevKit {
    /// The kit's fixed files: path inside the kit, and bytes.
    public static var files: [(path: String, bytes: [UInt8])] {
        [
            ("include/compiler.h", PackageResources.compiler_h),
            ("include/tee_api_compat.h", PackageResources.tee_api_compat_h),
            ("include/tee_api_defines.h", PackageResources.tee_api_defines_h),
            ("include/tee_api_defines_extensions.h", PackageResources.tee_api_defines_extensions_h),
            ("include/tee_api_types.h", PackageResources.tee_api_types_h),
            ("include/tee_internal_api.h", PackageResources.tee_internal_api_h),
            ("include/tee_internal_api_extensions.h", PackageResources.tee_internal_api_extensions_h),
            ("include/trace.h", PackageResources.trace_h),
            ("include/trace_levels.h", PackageResources.trace_levels_h),
            ("include/user_ta_header.h", PackageResources.user_ta_header_h),
            ("include/util.h", PackageResources.util_h),
            ("mk/ta_dev_kit.mk", PackageResources.ta_dev_kit_mk),
            ("src/user_ta_header.c", PackageResources.user_ta_header_c),
        ]
    }

    /// Path of the development key inside an exported kit (TA_SIGN_KEY's default).
    public static let developmentKeyPath = "keys/default_ta.pem"

    /// The conf.mk of an export: which vtee signs, and the default TA log level (OP-TEE's 1).
    public static func confMK(vtee: String) -> String {
        """
        # Written by `vtee devkit export`: the vtee binary that signs TAs (override with VTEE=...)
        # and the kit's defaults. The TA's Makefile may set any of these before including
        # ta_dev_kit.mk.
        VTEE ?= \(vtee)
        CFG_TEE_TA_LOG_LEVEL ?= 1
        VTEE_DEVKIT := 1

        """
    }

    /// Writes the kit into `directory`: include/, mk/ (with conf.mk), src/, keys/ and, when
    /// `runtimeLibrary` is given, lib/libvteeta.so. Returns the paths written.
    @discardableResult
    public static func export(to directory: String, vtee: String, runtimeLibrary: String?) throws(TADevKitError) -> [String] {
        let fm = FileManager.default
        var written: [String] = []
        func write(_ rel: String, _ bytes: [UInt8], mode: Int = 0o644) throws(TADevKitError) {
            let path = directory + "/" + rel
            let dir = (path as NSString).deletingLastPathComponent
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch { throw .cannotWrite(dir) }
            guard fm.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: mode]) else {
                throw .cannotWrite(path)
            }
            written.append(path)
        }
        for f in files { try write(f.path, f.bytes) }
        try write("mk/conf.mk", Array(confMK(vtee: vtee).utf8))
        try write(developmentKeyPath, Array(TASigningKey.developmentPEM.utf8), mode: 0o644)
        if let lib = runtimeLibrary {
            guard let bytes = fm.contents(atPath: lib) else { throw .missingRuntime(lib) }
            try write("lib/libvteeta.so", [UInt8](bytes), mode: 0o755)
        }
        return written
    }
}
