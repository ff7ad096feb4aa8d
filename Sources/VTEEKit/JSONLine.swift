// One-line JSON for the tools built on the composition root (daemon stats, guest client
// reports, the demo): host side only.
import Foundation

/// Serialises a JSON object on one line with sorted keys ("{}" when it cannot be serialised).
public func jsonString(_ obj: [String: Any]) -> String {
    guard let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), let s = String(data: d, encoding: .utf8) else { return "{}" }
    return s
}
