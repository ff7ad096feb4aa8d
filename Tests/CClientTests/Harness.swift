/// Builds and runs the C programs of Tests/CClientTests/Programs with the system C compiler
/// against the libraries of this build (libteec.so, libvtee-preload.so), next to a daemon the
/// test starts in process. Every wait is bounded; a program past its bound is killed.
import Foundation
import Testing
@testable import VTEEDaemon
#if canImport(Glibc)
import Glibc
#endif

enum CHarness {
    /// The package root (three levels above this file).
    static let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The build directory holding this test binary and the dynamic library products; under a
    /// sanitizer build, VTEE_CLIENT_LIBS names a plain build's (a C program cannot load libraries
    /// that call a sanitizer runtime it does not have; the daemon in this process stays sanitized).
    static var buildDir: String {
        if let d = ProcessInfo.processInfo.environment["VTEE_CLIENT_LIBS"], !d.isEmpty { return d }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let me = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("libteec.so").path) { return dir.path }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot + "/.build/debug"
    }

    /// A fresh directory under /tmp (Unix socket paths must stay short).
    static func tempDir() -> String {
        let d = "/tmp/vtee-c-" + String(UUID().uuidString.prefix(8))
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    struct Run { var status: Int32?; var output: String; var lines: [String] { output.split(separator: "\n").map(String.init) } }

    /// Runs `path` with `arguments` and extra environment, at most `seconds`; stdout and stderr
    /// are captured (to a file, so a chatty program never blocks on a pipe).
    static func run(_ path: String, _ arguments: [String] = [], environment: [String: String] = [:], seconds: Double) throws -> Run {
        let out = tempDir() + "/out"
        FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = handle
        p.standardError = handle
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        var status: Int32? = nil
        if done.wait(timeout: .now() + seconds) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            done.wait()
        } else {
            status = p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
        }
        try? handle.close()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return Run(status: status, output: text)
    }

    /// A program running in the background (a supplicant process): its output goes to a file,
    /// its stdin is a pipe the test closes to end it.
    final class Background: @unchecked Sendable {
        // @unchecked: the Process and handles are used from the test's thread only; `done` is a semaphore.
        let process = Process()
        let outPath: String
        let input = Pipe()
        let done = DispatchSemaphore(value: 0)
        init(outPath: String) { self.outPath = outPath }
        /// What it printed so far.
        var output: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
        var lines: [String] { output.split(separator: "\n").map(String.init) }
        /// Ends its stdin (a `serve` supplicant then prints its counts and exits).
        func closeInput() { try? input.fileHandleForWriting.close() }
        /// Waits at most `seconds` for it to exit (killed past that): its exit status, nil if killed.
        func finish(seconds: Double) -> Int32? {
            if done.wait(timeout: .now() + seconds) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                done.wait()
                return nil
            }
            return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        }
        /// Sends `signal` now.
        func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }
    }

    /// Starts `path` in the background with extra environment (see `Background`).
    static func start(_ path: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> Background {
        let b = Background(outPath: tempDir() + "/out")
        FileManager.default.createFile(atPath: b.outPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: b.outPath))
        b.process.executableURL = URL(fileURLWithPath: path)
        b.process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        b.process.environment = env
        b.process.standardOutput = handle
        b.process.standardError = handle
        b.process.standardInput = b.input
        b.process.terminationHandler = { [done = b.done] _ in done.signal() }
        try b.process.run()
        try? handle.close()
        return b
    }

    /// Installs the libraries and header with scripts/install-libteec.sh into `prefix`.
    static func install(prefix: String) throws -> Run {
        try run("/bin/bash", [packageRoot + "/scripts/install-libteec.sh", prefix, buildDir], seconds: 60)
    }

    /// Compiles Programs/`name` (C11, -Wall -Wextra -Werror) into `output` with extra flags.
    static func compile(_ name: String, output: String, flags: [String]) throws -> Run {
        try run("/usr/bin/env", ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1",
                                 packageRoot + "/Tests/CClientTests/Programs/" + name, "-o", output] + flags, seconds: 120)
    }

    /// The `summary passed=N failed=M` line of a run: (passed, failed).
    static func summary(_ r: Run) -> (passed: Int, failed: Int)? {
        guard let line = r.lines.last(where: { $0.hasPrefix("summary ") }) else { return nil }
        var p: Int?, f: Int?
        for part in line.split(separator: " ") {
            if part.hasPrefix("passed=") { p = Int(part.dropFirst(7)) }
            if part.hasPrefix("failed=") { f = Int(part.dropFirst(7)) }
        }
        guard let p, let f else { return nil }
        return (p, f)
    }

    /// Names of the checks that passed ("ok NAME").
    static func passedChecks(_ r: Run) -> Set<String> {
        Set(r.lines.compactMap { $0.hasPrefix("ok ") ? String($0.dropFirst(3).split(separator: " ").first ?? "") : nil })
    }

    /// Polls `cond` until true or `seconds` pass (a bounded wait on the daemon's own progress).
    static func eventually(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        let tick = DispatchSemaphore(value: 0)
        while DispatchTime.now() < deadline {
            if cond() { return true }
            _ = tick.wait(timeout: .now() + .milliseconds(20))
        }
        return cond()
    }

    static func totals(_ d: Daemon) -> [String: Int] { d.statsObject()["totals"] as? [String: Int] ?? [:] }
}
