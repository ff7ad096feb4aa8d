// Secure storage under kill -9: a writer process (`vtee storage-torture`, a whole machine with its
// supplicant in one process) is killed at random points of its writes, 100 times; every restart
// must find each object at its last committed generation or at the one being written, intact.
import Dispatch
import Foundation
import Testing
import VTEEDemo
#if canImport(Glibc)
import Glibc
#endif

/// Lines of a child's stdout, read as they come.
final class LineReader {
    let handle: FileHandle
    var buffer: [UInt8] = []
    init(_ h: FileHandle) { handle = h }

    /// The next line, or nil at end of file.
    func next() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffer += more
        }
    }
}

@Suite(.serialized) struct StorageCrashTests {
    static let objects = 4

    /// Starts the writer; a watchdog kills it if it outlives `bound` seconds (a hung child must
    /// not hang the test).
    static func start(_ dir: String, firstWrite: UInt64, writes: Int = 0) throws -> (Process, LineReader) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonTests.vteeBinary)
        p.arguments = ["storage-torture", "--storage", dir + "/store", "--secure-state", dir + "/secure",
                       "--objects", String(objects), "--first-write", String(firstWrite), "--writes", String(writes)]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { if p.isRunning { kill(pid, SIGKILL) } }
        return (p, LineReader(out.fileHandleForReading))
    }

    @Test func killingTheWriterAtRandomPointsLeavesEveryObjectOldOrNewNeverMixedNeverLost() throws {
        #expect(FileManager.default.isExecutableFile(atPath: DaemonTests.vteeBinary), "build the vtee executable first (swift build)")
        let dir = DaemonTests.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SystemRandomNumberGenerator()
        var committed = [UInt64?](repeating: nil, count: Self.objects)   // last reported write per object
        var next: UInt64 = 1              // the next writer's first write number
        var inFlight: UInt64? = nil       // the write the last kill interrupted (object = number % objects)
        var kills = 0
        for round in 0...100 {
            let (p, lines) = try Self.start(dir, firstWrite: next, writes: round == 100 ? 1 : 0)
            // What the previous run left: each object committed, or at the write that was in flight.
            var checked = 0
            while let l = lines.next(), l != "ready" {
                let f = l.split(separator: " ").map(String.init)
                guard f.count >= 2, let i = Int(f[1]), i >= 0, i < Self.objects else { Issue.record("round \(round): \(l)"); continue }
                let pending = inFlight.flatMap { Int($0 % UInt64(Self.objects)) == i ? $0 : nil }
                switch f[0] {
                case "have":
                    let g = UInt64(f.count > 2 ? f[2] : "") ?? 0
                    #expect(g == committed[i] || g == pending, "round \(round): object \(i) at generation \(g), committed \(String(describing: committed[i])), in flight \(String(describing: pending))")
                    committed[i] = g
                case "none":
                    #expect(committed[i] == nil, "round \(round): object \(i) lost (committed \(String(describing: committed[i])))")
                default:
                    Issue.record("round \(round): \(l)")
                }
                checked += 1
            }
            #expect(checked == Self.objects, "round \(round): the writer did not check every object")
            if round == 100 { p.waitUntilExit(); break }
            // Let it commit a random number of writes (0...3), then kill it in the middle of the next.
            let target = Int.random(in: 0...3, using: &rng)
            var last: UInt64? = nil
            func note(_ l: String) {
                let f = l.split(separator: " ")
                if f.count == 3, f[0] == "wrote", let i = Int(f[1]), let g = UInt64(f[2]), i >= 0, i < Self.objects {
                    committed[i] = g; last = g
                }
            }
            var seen = 0
            while seen < target, let l = lines.next() { note(l); seen += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            while let l = lines.next() { note(l) }          // commits reported just before the kill
            inFlight = (last ?? (next - 1)) + 1
            next = (inFlight ?? next) + 1
            kills += 1
        }
        #expect(kills == 100)
    }
}
