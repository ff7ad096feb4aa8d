// Helpers of the TA SDK tests: export the dev kit, run make on the project's C TAs, read ELF sections.
import Foundation
import TADevKit
import SignedTA
import TEEABI

enum SDKTestError: Error, CustomStringConvertible {
    case command(String, Int32, String)
    case missing(String)
    var description: String {
        switch self {
        case let .command(c, s, out): "\(c) exited \(s):\n\(out)"
        case let .missing(m): m
        }
    }
}

enum SDK {
    /// The build products directory (where vtee, libvteeta.so and this test binary live).
    static var productsDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        // swift test may run the test bundle from inside <products>/<name>.xctest/...
        while dir.contains(".xctest") { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }

    /// The vtee binary the kit's make fragment calls to sign.
    static var vtee: String { productsDirectory + "/vtee" }

    /// The project's C TAs in OP-TEE's layout.
    static var ctaSources: String { (#filePath as NSString).deletingLastPathComponent + "/CTAs" }

    static func temporaryDirectory(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "vtee-sdk-\(tag)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Runs a command; returns its combined output, throws on a non-zero exit.
    @discardableResult
    static func run(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: out, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw SDKTestError.command(args.joined(separator: " "), p.terminationStatus, text) }
        return text
    }

    /// The runtime library to ship in the kit: tahost's libvteeta.so when built, else a stub
    /// compiled here that defines every function the kit's headers declare (enough to link).
    static func runtimeLibrary(kitSources: String, scratch: String) throws -> String {
        let real = productsDirectory + "/libvteeta.so"
        if FileManager.default.fileExists(atPath: real) { return real }
        var names: Set<String> = []
        for h in ["tee_internal_api.h", "tee_internal_api_extensions.h", "trace.h"] {
            let text = try String(contentsOfFile: kitSources + "/include/" + h, encoding: .utf8)
            let re = try NSRegularExpression(pattern: #"\b((?:__GP11_)?TEE_[A-Za-z0-9_]+|tee_[a-z_]+|trace_[a-z_]+|dhex_dump|__ta_[a-z_]+)\s*\("#)
            for m in re.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let r = Range(m.range(at: 1), in: text) { names.insert(String(text[r])) }
            }
        }
        names.subtract(["TEE_PARAM_TYPES", "TEE_PARAM_TYPE_GET", "TEE_PARAM_TYPE_SET", "TEE_BigIntSizeInU32"])
        let c = names.sorted().map { "void \($0)(void);\nvoid \($0)(void) {}\n" }.joined()
        try c.write(toFile: scratch + "/stub.c", atomically: true, encoding: .utf8)
        try run(["gcc", "-shared", "-fPIC", "-o", scratch + "/libvteeta.so", scratch + "/stub.c"])
        return scratch + "/libvteeta.so"
    }

    /// Exports the dev kit into a fresh directory.
    static func exportKit() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: vtee) else {
            throw SDKTestError.missing("\(vtee) not built (swift build --build-tests builds it)")
        }
        let kit = temporaryDirectory("kit")
        let scratch = temporaryDirectory("stub")
        let lib = try runtimeLibrary(kitSources: (#filePath as NSString).deletingLastPathComponent
                                        + "/../../Sources/TADevKit/kit", scratch: scratch)
        try TADevKit.export(to: kit, vtee: vtee, runtimeLibrary: lib)
        return kit
    }

    /// Copies one C TA directory of Tests/TASDKTests/CTAs into a scratch directory (the source
    /// tree stays clean) and returns its path.
    static func copyTA(_ name: String) throws -> String {
        let dest = temporaryDirectory("ta") + "/" + name
        try FileManager.default.copyItem(atPath: ctaSources + "/" + name, toPath: dest)
        return dest
    }

    /// `make -C dir TA_DEV_KIT_DIR=kit [extra]`, as an OP-TEE user runs it.
    @discardableResult
    static func make(_ dir: String, kit: String, _ extra: [String] = []) throws -> String {
        try run(["make", "-C", dir, "TA_DEV_KIT_DIR=\(kit)"] + extra)
    }

    /// Bytes of the named section of a 64-bit little-endian ELF, nil if absent.
    static func section(_ name: String, of elf: [UInt8]) -> [UInt8]? {
        func u16(_ o: Int) -> Int { Int(elf[o]) | Int(elf[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        guard elf.count > 64, elf[0...3] == [0x7F, 0x45, 0x4C, 0x46], elf[4] == 2 else { return nil }
        let shoff = u64(0x28), shentsize = u16(0x3A), shnum = u16(0x3C), shstrndx = u16(0x3E)
        guard shoff > 0, shoff + shnum * shentsize <= elf.count, shstrndx < shnum else { return nil }
        let strtab = u64(shoff + shstrndx * shentsize + 24)
        for i in 0..<shnum {
            let h = shoff + i * shentsize
            var n = strtab + u32(h)
            var s: [UInt8] = []
            while n < elf.count, elf[n] != 0 { s.append(elf[n]); n += 1 }
            if String(decoding: s, as: UTF8.self) == name {
                let off = u64(h + 24), size = u64(h + 32)
                guard off + size <= elf.count else { return nil }
                return Array(elf[off..<off + size])
            }
        }
        return nil
    }

    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw SDKTestError.missing(path) }
        return [UInt8](d)
    }
}
