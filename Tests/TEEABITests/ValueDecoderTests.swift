/// The decoding behind `vtee decode` and `vtee abi --json`.
import Foundation
import Testing
import TEEABI

@Suite struct ValueDecoding {
    @Test func callWithArgDecodesToItsNameAndSMCCCFields() {
        let d = ABIValueDecoder.decode(0x3200_0004, as: .smcFunction)
        #expect(d.name == "OPTEE_SMC_CALL_WITH_ARG")
        #expect(d.field("call type") == "yielding")
        #expect(d.field("convention") == "SMC32")
        #expect(d.field("owner") == "50 Trusted OS")
        #expect(d.field("function") == "4")
        #expect(d.text.hasPrefix("0x32000004 OPTEE_SMC_CALL_WITH_ARG\n"))
        let fast = ABIValueDecoder.decode(0xB200_0009, as: .smcFunction)
        #expect(fast.name == "OPTEE_SMC_EXCHANGE_CAPABILITIES" && fast.field("call type") == "fast")
        let uid = ABIValueDecoder.decode(0xBF00_FF01, as: .smcFunction)
        #expect(uid.name == "OPTEE_SMC_CALLS_UID" && uid.field("owner") == "63 Trusted OS")
        #expect(ABIValueDecoder.decode(0xC400_0053, as: .smcFunction).field("convention") == "SMC64")
    }

    @Test func resultsReturnsAttrsCommandsAndRPCsDecodeToTheirNames() {
        #expect(ABIValueDecoder.decode(0xFFFF_000C, as: .result).name == "TEE_ERROR_OUT_OF_MEMORY")
        #expect(ABIValueDecoder.decode(0xFFFF_000C, as: .result).field("client API name") == "TEEC_ERROR_OUT_OF_MEMORY")
        #expect(ABIValueDecoder.decode(0, as: .result).name == "TEE_SUCCESS")
        let rpc = ABIValueDecoder.decode(0xFFFF_0005, as: .smcReturn)
        #expect(rpc.name == "OPTEE_SMC_RETURN_RPC_CMD" && rpc.field("rpc function") == "OPTEE_SMC_RPC_FUNC_CMD (5)")
        #expect(ABIValueDecoder.decode(1, as: .smcReturn).name == "OPTEE_SMC_RETURN_ETHREAD_LIMIT")
        #expect(ABIValueDecoder.decode(0x20A, as: .attr).name == "OPTEE_MSG_ATTR_TYPE_TMEM_OUTPUT | OPTEE_MSG_ATTR_NONCONTIG")
        #expect(ABIValueDecoder.decode(0x101, as: .attr).name == "OPTEE_MSG_ATTR_TYPE_VALUE_INPUT | OPTEE_MSG_ATTR_META")
        #expect(ABIValueDecoder.decode(0, as: .msgCommand).name == "OPTEE_MSG_CMD_OPEN_SESSION")
        #expect(ABIValueDecoder.decode(2, as: .rpcCommand).name == "OPTEE_RPC_CMD_FS")
        #expect(ABIValueDecoder.decode(4, as: .rpcFunction).name == "OPTEE_SMC_RPC_FUNC_FOREIGN_INTR")
        #expect(ABIValueDecoder.decode(4, as: .origin).name == "TEE_ORIGIN_TRUSTED_APP")
        #expect(ABIValueDecoder.decode(0x8000_0000, as: .login).name == "TEE_LOGIN_REE_KERNEL")
        #expect(ABIValueDecoder.decode(0x8010_A403, as: .ioctl).name == "TEE_IOC_INVOKE")
    }

    @Test func undefinedValuesAreUnknown() {
        let cases: [(UInt64, ABIValueKind)] = [
            (0x1234_5678, .smcFunction), (0x3200_0005, .smcFunction), (1 << 40, .smcFunction), (0xFFFF_0099, .result),
            (0xFFFF_0001, .smcReturn), (8, .smcReturn), (4, .attr), (0x209 | 1 << 20, .attr), (0x201, .attr),
            (12, .msgCommand), (13, .rpcCommand), (1, .rpcFunction), (0, .origin), (3, .login), (0x8010_A4FF, .ioctl),
        ]
        for (v, k) in cases {
            let d = ABIValueDecoder.decode(v, as: k)
            #expect(!d.isKnown, "\(hex(v)) as \(k)")
            #expect(d.text.contains("unknown"))
        }
        #expect(ABIValueDecoder.decode(0x201, as: .attr).field("error") != nil)
    }

    @Test func numbersParseAsHexBinaryOrDecimal() {
        #expect(ABIValueDecoder.parseInteger("0x32000004") == 0x3200_0004)
        #expect(ABIValueDecoder.parseInteger("0XFFFF000C") == 0xFFFF_000C)
        #expect(ABIValueDecoder.parseInteger("0xffff_000c") == 0xFFFF_000C)
        #expect(ABIValueDecoder.parseInteger("0b101") == 5)
        #expect(ABIValueDecoder.parseInteger("522") == 522)
        #expect(ABIValueDecoder.parseInteger(" 7 ") == 7)
        #expect(ABIValueDecoder.parseInteger("18446744073709551615") == UInt64.max)
        for bad in ["", "0x", "0xg", "-1", "18446744073709551616", "0x1_0000_0000_0000_0000", "abc"] {
            #expect(ABIValueDecoder.parseInteger(bad) == nil, "\(bad)")
        }
    }

    @Test func abiJSONListsEveryConstantWithExactIntegerValues() throws {
        let json = ABICatalog.json()
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(parsed?.count == ABICatalog.all.count)
        #expect(parsed?.first?["group"] as? String == "smc_encoding")
        #expect(parsed?.allSatisfy { $0.count == 3 && $0["name"] is String && $0["value"] != nil } == true)
        // 2^64 - 1 is printed digit for digit, not rounded through a double.
        #expect(json.contains("{\"group\": \"linux_tee_ioctls\", \"name\": \"TEE_MEMREF_NULL\", \"value\": 18446744073709551615}"))
        #expect(json.contains("\"name\": \"OPTEE_SMC_CALL_WITH_ARG\", \"value\": 838860804}"))
        #expect(ABICatalog.json([]) == "[\n]\n")
    }

    @Test func catalogLookupsFindNamesByGroupAndValue() {
        #expect(TEEResult.outOfMemory.name == "TEE_ERROR_OUT_OF_MEMORY")
        #expect(TEEResult(rawValue: 0x1234).name == nil)
        #expect(ABICatalog.value(of: "OPTEE_SMC_CALL_WITH_ARG") == 0x3200_0004)
        #expect(ABICatalog.value(of: "NO_SUCH_NAME") == nil)
        #expect(ABICatalog.names(group: .teeResultCodes, value: 0xFFFF_000C) == ["TEE_ERROR_OUT_OF_MEMORY", "TEEC_ERROR_OUT_OF_MEMORY"])
    }
}
