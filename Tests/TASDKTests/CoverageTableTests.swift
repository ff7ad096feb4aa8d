/// docs/TA-SDK.md's coverage table is true: every function it marks "implemented" is defined by
/// this build's libvteeta.so, and none it marks otherwise is (a TA calling one fails to link).
import Foundation
import Testing

@Suite struct CoverageTableTests {
    /// (function, status) rows of the table, entry points excluded.
    static func rows() throws -> [(String, String)] {
        let doc = (#filePath as NSString).deletingLastPathComponent + "/../../docs/TA-SDK.md"
        let text = try String(contentsOfFile: doc, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> (String, String)? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5, cells[2].hasPrefix("`"), cells[2].hasSuffix("`"), !cells[1].hasPrefix("TA interface") else { return nil }
            return (String(cells[2].dropFirst().dropLast()), cells[3])
        }
    }

    @Test func everyRowOfTheCoverageTableMatchesTheSymbolsOfLibvteeta() throws {
        let lib = SDK.productsDirectory + "/libvteeta.so"
        try #require(FileManager.default.fileExists(atPath: lib), "no \(lib)")
        let nm = try SDK.run(["nm", "-D", "--defined-only", lib])
        let defined = Set(nm.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        let rows = try Self.rows()
        #expect(rows.count >= 140, "table rows found: \(rows.count)")
        let claimedButMissing = rows.filter { $0.1 == "implemented" && !defined.contains($0.0) }.map(\.0)
        let definedButNotClaimed = rows.filter { $0.1 != "implemented" && defined.contains($0.0) }.map(\.0)
        #expect(claimedButMissing.isEmpty, "marked implemented, not in libvteeta.so: \(claimedButMissing)")
        #expect(definedButNotClaimed.isEmpty, "in libvteeta.so, not marked implemented in docs/TA-SDK.md: \(definedButNotClaimed)")
    }
}
