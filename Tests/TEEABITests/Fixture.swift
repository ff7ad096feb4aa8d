/// Reads the committed copies of the reference values (Fixtures/constants.tsv and
/// Fixtures/layouts.tsv, derived from ../shared/abi/) that the conformance tests check against.
import Foundation
import TEEABI

/// One row of constants.tsv.
struct FixtureConstant: Sendable {
    let group: String
    let name: String
    let value: UInt64?      // nil when wider than 64 bits
    let wideHex: String     // value_int as written
    let note: String
}

/// One row of layouts.tsv.
struct FixtureLayout: Sendable {
    let structName: String
    let field: String
    let offset: Int?
    let size: Int?
}

enum Fixture {
    static func text(_ file: String) -> String {
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
              let s = try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8) else { return "" }
        return s
    }

    static func rows(_ file: String) -> [[String: String]] {
        let lines = text(file).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let header = lines.first?.components(separatedBy: "\t") else { return [] }
        return lines.dropFirst().map { line in
            let cols = line.components(separatedBy: "\t")
            var d: [String: String] = [:]
            for (i, h) in header.enumerated() { d[h] = i < cols.count ? cols[i] : "" }
            return d
        }
    }

    static let constants: [FixtureConstant] = rows("constants.tsv").map { r in
        let hexText = r["value_int"] ?? ""
        let digits = hexText.hasPrefix("0x") ? String(hexText.dropFirst(2)) : hexText
        return FixtureConstant(group: r["group"] ?? "", name: r["name"] ?? "", value: UInt64(digits, radix: 16),
                               wideHex: hexText, note: r["note"] ?? "")
    }

    static let layouts: [FixtureLayout] = rows("layouts.tsv").map { r in
        FixtureLayout(structName: r["struct"] ?? "", field: r["field"] ?? "", offset: Int(r["offset"] ?? ""), size: Int(r["size"] ?? ""))
    }

    /// Rows of the groups the catalog implements.
    static var implementedConstants: [FixtureConstant] {
        constants.filter { ABIGroup(rawValue: $0.group) != nil }
    }

    /// The layout row for `structName.field`.
    static func layout(_ structName: String, _ field: String) -> FixtureLayout? {
        layouts.first { $0.structName == structName && $0.field == field }
    }
}
