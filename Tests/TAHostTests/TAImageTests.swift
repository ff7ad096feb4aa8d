/// The secure world reads a TA's ta_head before starting any process: images that are not a
/// TA for this host are refused (BAD_FORMAT) and none of their code runs.
import TAHost
import TEEABI
import Testing

@Suite struct TAImageTests {
    @Test func randomBytesAreNotATA() {
        #expect(throws: TAImageError.notELF) { try TAImage.header(of: Array("not an elf at all, just text bytes....................................".utf8)) }
        #expect(throws: TAImageError.notELF) { try TAImage.header(of: []) }
    }

    @Test func truncatedELFHeaderIsRefusedWithoutCrashing() {
        var elf = [UInt8](repeating: 0, count: 64)
        elf[0] = 0x7F; elf[1] = 0x45; elf[2] = 0x4C; elf[3] = 0x46; elf[4] = 2; elf[5] = 1
        elf[16] = 3
        #if arch(x86_64)
        elf[18] = 62
        #else
        elf[18] = 183
        #endif
        elf[0x28] = 0xFF; elf[0x29] = 0xFF; elf[0x3A] = 64; elf[0x3C] = 4   // sections past the end
        elf[0x36] = 56
        #expect(throws: (any Error).self) { try TAImage.header(of: elf) }
    }

    @Test func runnerRefusesAnImageThatIsNotAnELF() {
        let runner = TAProcessRunner(config: TAProcessConfig(hostExecutable: "/nonexistent"))
        #expect(throws: TEEResult.badFormat) { try runner.load(uuid: .zero, elf: [1, 2, 3]) }
    }
}
