/// A null-handler endpoint pair for measuring the transport alone (transport_floor_ns).
import Machine
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// A delegate that accepts every guest and answers each trap with the frame it was given.
public struct EchoDelegate: TransportServerDelegate {
    /// The IPA handed to guests as their RAM base.
    public let ramBase: IPA
    /// An echo delegate placing guest RAM at `ramBase`.
    public init(ramBase: IPA = IPA(0x4000_0000)) { self.ramBase = ramBase }
    /// Accepts with an echo handler.
    public func guestAttached(_ guest: GuestHandle) -> AttachDecision { .accept(ramBase: ramBase) { f, _ in f } }
    /// Nothing to release.
    public func guestDetached(_ id: GuestID, reason: DetachReason) {}
}

/// Round-trip figures of the bare transport (both sides in this process, separate threads).
public struct TransportFloor: Sendable {
    /// Calls measured.
    public let calls: Int
    /// Median round trip in nanoseconds.
    public let medianNanoseconds: Int64
    /// 99th percentile in nanoseconds.
    public let p99Nanoseconds: Int64
}

/// Measures the transport with an echo handler.
public enum TransportBenchmark {
    /// Starts a server on a socket in `directory`, attaches one guest, makes `warmup` then
    /// `calls` null traps on vCPU 0, tears everything down and reports the latencies.
    public static func nullRoundTrips(calls: Int, warmup: Int = 1_000, directory: String) throws(TransportError) -> TransportFloor {
        guard calls > 0 else { throw .invalidArgument("calls \(calls)") }
        let path = directory + "/vtee-bench-\(getpid()).sock"
        let server = try TransportServer(socketPath: path, limits: TransportLimits(maxGuests: 1),
                                         memory: PhysicalMemory(), delegate: EchoDelegate())
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { client.close() }
        let frame = RegisterFrame(a0: 0x3200_0004, a1: 1, a2: 2, a3: 3)
        for _ in 0..<warmup { _ = client.conduit.trap(frame, vcpu: 0) }
        var samples = [Int64](repeating: 0, count: calls)
        for i in 0..<calls {
            let t0 = monotonicNanos()
            let r = client.conduit.trap(frame, vcpu: 0)
            samples[i] = monotonicNanos() - t0
            guard r == frame else { throw .protocolViolation("echo returned \(r)") }
        }
        samples.sort()
        return TransportFloor(calls: calls, medianNanoseconds: samples[calls / 2],
                              p99Nanoseconds: samples[min(calls - 1, calls * 99 / 100)])
    }
}
