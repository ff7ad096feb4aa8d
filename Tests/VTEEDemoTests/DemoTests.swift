import Foundation
import Testing
@testable import VTEEDemo

/// The demo is the README's main job: it must pass end to end, and storage must survive a restart.
@Suite struct DemoTests {
    static func tempDir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("vtee-demo-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func everyStepOfEveryGuestSucceedsThroughTheMediator() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runDemo(guests: 3, storage: dir)
        for g in r.guests { for s in g.steps { #expect(s.ok, "guest \(g.id) \(s.name): \(s.detail)") } }
        #expect(r.guests.count == 3)
        #expect(r.leftovers == 0)
        #expect(r.totalRPCs > 0)
        #expect(r.ok)
        let names = Set(r.guests[0].steps.map { $0.name.split(separator: ".").first.map(String.init) ?? "" })
        #expect(names == ["hello_world", "random", "secure_storage", "hotp", "aes", "rpc"])
    }

    @Test func aSecondRunOnTheSameStorageFindsWhatTheFirstStored() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try runDemo(guests: 1, storage: dir)
        let second = try runDemo(guests: 1, storage: dir)
        let p1 = first.guests[0].steps.first { $0.name == "secure_storage.persist" }
        let p2 = second.guests[0].steps.first { $0.name == "secure_storage.persist" }
        #expect(p1?.detail == "first run on this storage")
        #expect(p2?.detail.hasPrefix("run 2 on this storage") == true)
    }

    @Test func jsonOutputHasTheDocumentedShape() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runDemo(guests: 1, storage: dir)
        let obj = try JSONSerialization.jsonObject(with: Data(r.json.utf8)) as? [String: Any]
        let guests = obj?["guests"] as? [[String: Any]]
        #expect(guests?.count == 1)
        #expect(guests?.first?["id"] as? Int == 0)
        #expect((guests?.first?["steps"] as? [[String: Any]])?.first?["name"] as? String == "hello_world.increment")
        #expect(guests?.first?["calls"] is Int)
        #expect(guests?.first?["rpcs"] is Int)
        let summary = obj?["summary"] as? [String: Any]
        #expect(summary?["total_calls"] is Int)
        #expect(summary?["peak_pinned_pages"] is Int)
    }
}
