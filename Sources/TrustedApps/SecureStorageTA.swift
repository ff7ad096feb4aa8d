/// secure_storage: the optee_examples secure storage TA.
import TAAPI
import TEEABI

/// optee_examples secure_storage: raw persistent objects in the TA's private storage, keyed by
/// the raw id bytes the client passes. Single instance (TA_FLAG_SINGLE_INSTANCE), not multi-session.
public enum SecureStorageTA {
    /// TA_SECURE_STORAGE_UUID: f4e750bb-1437-4fbf-8785-8d3580c34994.
    public static let uuid = TEEUUID.teec(0xF4E7_50BB, 0x1437, 0x4FBF, [0x87, 0x85, 0x8D, 0x35, 0x80, 0xC3, 0x49, 0x94])

    /// Command ids (TA_SECURE_STORAGE_CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        /// READ_RAW: params[0] id (MEMREF_INPUT), params[1] data out (MEMREF_OUTPUT).
        case readRaw = 0
        /// WRITE_RAW: params[0] id, params[1] data (both MEMREF_INPUT); creates or replaces.
        case writeRaw = 1
        /// DELETE: params[0] id (MEMREF_INPUT).
        case delete = 2
    }

    /// READ_RAW param types: MEMREF_INPUT, MEMREF_OUTPUT, NONE, NONE (0x0065).
    public static let readParamTypes = GPParamTypes(.memrefInput, .memrefOutput)
    /// WRITE_RAW param types: MEMREF_INPUT, MEMREF_INPUT, NONE, NONE (0x0055).
    public static let writeParamTypes = GPParamTypes(.memrefInput, .memrefInput)
    /// DELETE param types: MEMREF_INPUT, NONE, NONE, NONE (0x0005).
    public static let deleteParamTypes = GPParamTypes(.memrefInput)

    /// The descriptor the secure world registers (single instance, as TA_FLAG_SINGLE_INSTANCE).
    public static let descriptor = TADescriptor(uuid: uuid, name: "secure_storage",
                                                properties: TAProperties(singleInstance: true)) {
        Instance()
    }

    /// The shared instance; stateless (everything lives in storage).
    final class Instance: TrustedApplication {
        // OpenSession accepts any param types: the default implementation.

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .notSupported }
            switch cmd {
            case .readRaw: return try await read(&params, context.storage)
            case .writeRaw: return try await write(&params, context.storage)
            case .delete: return try await delete(&params, context.storage)
            }
        }

        /// The id bytes; an id longer than TEE_OBJECT_ID_MAX_LEN makes OP-TEE's storage API panic the TA.
        private func objectID(_ m: TAMemref) throws -> [UInt8] {
            let id = m.input
            guard id.count <= ExampleTALimits.objectIDMaxLength else {
                throw TAPanic(code: TEEResult.badParameters.rawValue, "object id longer than TEE_OBJECT_ID_MAX_LEN")
            }
            return id
        }

        private func read(_ params: inout TAParams, _ storage: any TAStorage) async throws -> TEEResult {
            guard params.types == SecureStorageTA.readParamTypes,
                  let idRef = params.memref(0), let out = params.memref(1) else { return .badParameters }
            // The stock TA copies the id and allocates an output buffer of the client's size on its heap.
            guard ExampleTALimits.fitsHeap(idRef.size, out.size) else { return .outOfMemory }
            let id = try objectID(idRef)
            let data: [UInt8]
            do { data = try await storage.read(id: id) } catch { return error }
            guard data.count <= out.size else {
                params.setMemrefSize(1, data.count)
                return .shortBuffer
            }
            params.setMemref(1, bytes: data, size: data.count)
            return .success
        }

        private func write(_ params: inout TAParams, _ storage: any TAStorage) async throws -> TEEResult {
            guard params.types == SecureStorageTA.writeParamTypes,
                  let idRef = params.memref(0), let dataRef = params.memref(1) else { return .badParameters }
            guard ExampleTALimits.fitsHeap(idRef.size, dataRef.size) else { return .outOfMemory }
            let id = try objectID(idRef)
            do { try await storage.write(id: id, data: dataRef.input, overwrite: true) } catch { return error }
            return .success
        }

        private func delete(_ params: inout TAParams, _ storage: any TAStorage) async throws -> TEEResult {
            guard params.types == SecureStorageTA.deleteParamTypes, let idRef = params.memref(0) else { return .badParameters }
            guard ExampleTALimits.fitsHeap(idRef.size) else { return .outOfMemory }
            let id = try objectID(idRef)
            do { try await storage.delete(id: id) } catch { return error }
            return .success
        }
    }
}
