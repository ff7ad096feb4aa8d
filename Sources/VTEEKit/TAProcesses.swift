/// The composition root's TA process runner: C TAs loaded through LOAD_TA run as sandboxed
/// processes of `vtee-ta-host` (found beside the running executable, or at $VTEE_TA_HOST).
/// Host side; wires TAHost into the secure world's runner seam.
import Logging
import TAHost
import TEEABI
import TAAPI

/// The runner every stack and daemon of this process uses by default; nil when no
/// `vtee-ta-host` is installed (loaded TAs then answer BAD_FORMAT).
public let defaultTARunner: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = {
    guard let host = TAProcessConfig.locateHost() else { return nil }
    var config = TAProcessConfig(hostExecutable: host)
    config.logger = Logger(label: "vtee.ta")
    let runner = TAProcessRunner(config: config)
    return { uuid, elf throws(TEEResult) in try runner.load(uuid: uuid, elf: elf) }
}()
