/// `vtee ta ...` (sign and inspect `.ta` images) and `vtee devkit export DIR` (write the TA dev kit).
import ArgumentParser
import Foundation
import TADevKit
import SignedTA
import TEEABI

/// `vtee ta`: the signing tool the dev kit calls, and an inspector.
struct TACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ta", abstract: "Sign and inspect TA images (<uuid>.ta).",
        subcommands: [TASignCommand.self, TAVerifyCommand.self, TAPublicKeyCommand.self])
}

/// `vtee ta sign`: OP-TEE's sign_encrypt.py sign-enc, for host ELFs.
struct TASignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Wrap a TA's ELF into a signed <uuid>.ta (OP-TEE's shdr, bootstrap type 1).")
    @Option(help: "PEM private key (default: vtee's development key, public, development only).") var key: String?
    @Option(help: "The TA's UUID.") var uuid: String
    @Option(name: .customLong("ta-version"), help: "ta_version of the bootstrap header.") var taVersion: UInt32 = 0
    @Option(help: "Signature algorithm: pss (RSASSA-PSS-SHA256, OP-TEE's default) or pkcs1 (PKCS#1 v1.5-SHA256).") var algo: String = "pss"
    @Option(name: .customLong("in"), help: "The (stripped) TA ELF.") var input: String
    @Option(name: .customLong("out"), help: "The .ta file to write.") var output: String

    func run() throws {
        let u: TEEUUID
        do { u = try TEEUUID(uuid) } catch { throw ValidationError("bad UUID \(uuid)") }
        let algorithm: TASignatureAlgorithm
        switch algo {
        case "pss": algorithm = .pssSHA256
        case "pkcs1": algorithm = .pkcs1SHA256
        default: throw ValidationError("--algo must be pss or pkcs1")
        }
        guard let elf = FileManager.default.contents(atPath: input) else { throw ValidationError("cannot read \(input)") }
        let signingKey: TASigningKey
        if let k = key {
            guard let pem = try? String(contentsOfFile: k, encoding: .utf8) else { throw ValidationError("cannot read key \(k)") }
            signingKey = try TASigningKey(pem: pem)
        } else {
            signingKey = try TASigningKey.development
        }
        let image = try SignedTAImage.sign(elf: [UInt8](elf), uuid: u, taVersion: taVersion, key: signingKey, algorithm: algorithm)
        guard FileManager.default.createFile(atPath: output, contents: Data(image)) else { throw ValidationError("cannot write \(output)") }
    }
}

/// `vtee ta verify`: what LOAD_TA checks, from the command line.
struct TAVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a .ta as the secure world does at LOAD_TA and print its header.")
    @Option(help: "PEM public (or private) key to trust (default: the development key).") var key: String?
    @Option(help: "The UUID the image must be signed for (default: the file name's).") var uuid: String?
    @Argument(help: "The .ta file.") var file: String

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let u: TEEUUID
        do { u = try TEEUUID(uuid ?? name) } catch { throw ValidationError("give --uuid (the file name is not a UUID)") }
        let trusted = try key.map { path throws -> TAVerificationKey in
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read key \(path)") }
            return try TAVerificationKey(pem: pem)
        } ?? TAVerificationKey.development
        do {
            let v = try SignedTAImage.verify([UInt8](bytes), expecting: u, key: trusted)
            let h = v.header
            print("\(file): OK")
            let legacy = h.imageType == SignedTAHeader.legacyType
            print("  uuid \(legacy ? u : h.uuid)\(legacy ? " (ELF ta_head)" : "")  ta_version \(h.taVersion)  img_type \(h.imageType)")
            print("  algo 0x\(String(h.algorithm, radix: 16))  hash \(h.digest.count) bytes  signature \(h.signature.count) bytes")
            print("  ELF \(v.elf.count) bytes at offset \(h.payloadOffset)\(trusted.isDevelopmentKey ? "  (signed with the DEVELOPMENT key)" : "")")
        } catch {
            print("\(file): REFUSED (TEE_ERROR_SECURITY): \(error)")
            throw ExitCode(1)
        }
    }
}

/// `vtee ta public-key`: the public half of a signing key, for `--ta-key`.
struct TAPublicKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "public-key", abstract: "Print the PEM public key of a signing key (default: the development key).")
    @Option(help: "PEM private key.") var key: String?

    func run() throws {
        let k: TAVerificationKey
        if let path = key {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read key \(path)") }
            k = try TAVerificationKey(pem: pem)
        } else {
            k = try TAVerificationKey.development
        }
        print(k.pemRepresentation)
    }
}

/// `vtee devkit`: the OP-TEE-compatible TA dev kit.
struct DevkitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devkit", abstract: "The TA dev kit (OP-TEE's export-ta_<arch> counterpart).",
        subcommands: [DevkitExportCommand.self])
}

/// `vtee devkit export DIR`.
struct DevkitExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the TA dev kit (include/, mk/ta_dev_kit.mk, src/, keys/, lib/libvteeta.so) to DIR.")
    @Argument(help: "Directory to write (TA_DEV_KIT_DIR).") var directory: String
    @Option(help: "The vtee binary the kit's make fragment calls to sign (default: this one).") var vtee: String?
    @Option(help: "The TA runtime library to ship (default: libvteeta.so next to this binary).") var lib: String?

    func run() throws {
        let me = ownExecutable()
        let dir = (directory as NSString).standardizingPath.hasPrefix("/") ? directory
            : FileManager.default.currentDirectoryPath + "/" + directory
        let runtime = lib ?? ((me as NSString).deletingLastPathComponent + "/libvteeta.so")
        let haveRuntime = FileManager.default.fileExists(atPath: runtime)
        let written = try TADevKit.export(to: dir, vtee: vtee ?? me, runtimeLibrary: haveRuntime ? runtime : nil)
        print("vtee devkit: wrote \(written.count) files to \(dir)")
        print("  build a TA:  make -C <ta dir> TA_DEV_KIT_DIR=\(dir)")
        print("  signing key: \(dir)/\(TADevKit.developmentKeyPath) (vtee's DEVELOPMENT key: public, development only)")
        if !haveRuntime {
            print("  warning: \(runtime) not found: TAs will not link until lib/libvteeta.so is added (swift build --product vteeta, then re-export)")
        }
    }

    private func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
