// The kit's GP headers against the project's reference tables (taken from OP-TEE's libutee at
// d5001fe0): every libutee constant has OP-TEE's value and every libutee type OP-TEE's layout,
// checked by the C compiler itself; and the headers compile cleanly in both API modes.
import Foundation
import TADevKit
import Testing

@Suite struct HeaderConformanceTests {
    static var fixtures: String {
        (#filePath as NSString).deletingLastPathComponent + "/../TEEABITests/Fixtures"
    }

    /// Writes a C file under a fresh kit and compiles it with the host compiler.
    static func compile(_ source: String, flags: [String] = []) throws -> String {
        let kit = SDK.temporaryDirectory("hdr")
        try TADevKit.export(to: kit, vtee: "/bin/false", runtimeLibrary: nil)
        try source.write(toFile: kit + "/t.c", atomically: true, encoding: .utf8)
        return try SDK.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                            "-I", kit + "/include"] + flags + [kit + "/t.c"])
    }

    @Test func everyLibuteeConstantHasOPTEEsValue() throws {
        let rows = try String(contentsOfFile: Self.fixtures + "/constants.tsv", encoding: .utf8).split(separator: "\n")
        var asserts: [String] = []
        for row in rows {
            let f = row.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count > 4, f[4].contains("lib/libutee/include/"), f[1].hasPrefix("TEE_") else { continue }
            asserts.append("_Static_assert((uint32_t)(\(f[1])) == (uint32_t)\(f[3])u, \"\(f[1])\");")
        }
        #expect(asserts.count >= 60)
        try Self.compile("""
            #include <tee_internal_api.h>
            #include <tee_internal_api_extensions.h>
            \(asserts.joined(separator: "\n"))
            """)
    }

    @Test func libuteeTypesHaveOPTEEsLayout() throws {
        let rows = try String(contentsOfFile: Self.fixtures + "/layouts.tsv", encoding: .utf8).split(separator: "\n")
        var asserts: [String] = []
        for row in rows {
            let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count > 6, f[6].contains("lib/libutee/include/") else { continue }
            switch f[1] {
            case "(sizeof)": asserts.append("_Static_assert(sizeof(\(f[0])) == \(f[3]), \"sizeof \(f[0])\");")
            case "(alignof)": asserts.append("_Static_assert(_Alignof(\(f[0])) == \(f[3]), \"alignof \(f[0])\");")
            default:
                asserts.append("_Static_assert(offsetof(\(f[0]), \(f[1])) == \(f[2]), \"offset \(f[0]).\(f[1])\");")
                asserts.append("_Static_assert(sizeof(((\(f[0]) *)0)->\(f[1])) == \(f[3]), \"size \(f[0]).\(f[1])\");")
            }
        }
        #expect(asserts.count >= 18)
        try Self.compile("""
            #include <stddef.h>
            #include <tee_internal_api.h>
            \(asserts.joined(separator: "\n"))
            _Static_assert(sizeof(struct ta_head_check { TEE_UUID u; uint32_t s; uint32_t f; uint64_t e; }) == 32, "ta_head");
            """)
    }

    @Test func theHeadersCompileCleanlyInBothAPIModesAndTheCompatNamesMapToGP11() throws {
        let probe = """
            #include <tee_internal_api.h>
            #include <tee_internal_api_extensions.h>
            #include <user_ta_header.h>
            #include <trace.h>
            _Static_assert(sizeof(struct ta_head) == 32, "ta_head is 32 bytes");
            _Static_assert(sizeof(struct user_ta_property) == 24, "property entry is 24 bytes");
            _Static_assert(TA_FLAGS_MASK == 0x3FFF, "TA_FLAGS_MASK");
            _Static_assert(TEE_PARAM_TYPES(1, 5, 6, 7) == 0x7651, "TEE_PARAM_TYPES");
            _Static_assert(TEE_BigIntSizeInU32(2048) == 66, "TEE_BigIntSizeInU32");
            #if __OPTEE_CORE_API_COMPAT_1_1
            _Static_assert(sizeof(((TEE_Param *)0)->memref.size) == 4, "GP 1.1 memref size is 32-bit");
            #else
            _Static_assert(sizeof(((TEE_Param *)0)->memref.size) == 8, "GP 1.3 memref size is size_t");
            #endif
            """
        try Self.compile(probe)
        try Self.compile(probe, flags: ["-D__OPTEE_CORE_API_COMPAT_1_1=1"])
        try Self.compile("#define TEE_CORE_API_REQUIRED_MAJOR_VERSION 1\n#define TEE_CORE_API_REQUIRED_MINOR_VERSION 1\n" + probe)
        // TEE_Malloc names __GP11_TEE_Malloc in compat mode.
        let pre = try Self.compile("#include <tee_internal_api.h>\nvoid *f(void);\nvoid *f(void) { return TEE_Malloc(1, 0); }\n",
                                   flags: ["-D__OPTEE_CORE_API_COMPAT_1_1=1", "-E"])
        #expect(pre.contains("__GP11_TEE_Malloc(1, 0)"))
    }

    @Test func traceMacrosVanishAboveTheConfiguredLevel() throws {
        let src = "#include <trace.h>\nvoid f(void);\nvoid f(void) { EMSG(\"e\"); IMSG(\"i\"); DMSG(\"d\"); FMSG(\"f\"); }\n"
        let at1 = try Self.compile(src, flags: ["-DCFG_TEE_TA_LOG_LEVEL=1", "-E"])
        let at4 = try Self.compile(src, flags: ["-DCFG_TEE_TA_LOG_LEVEL=4", "-E"])
        func calls(_ s: String) -> Int { s.components(separatedBy: "trace_printf(__func__").count - 1 }
        #expect(calls(at1) == 1)
        #expect(calls(at4) == 4)
    }
}
