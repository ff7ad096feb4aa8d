/// The Linux TEE uapi values: parameter attributes as the kernel checks them, ioctl numbers,
/// and the buf_len arithmetic of the param-carrying ioctls.
import Testing
import TEEABI

@Suite struct LinuxUapi {
    @Test func paramAttrsOutsideTheKernelMaskOrWithUndefinedTypesAreInvalid() {
        for t in LinuxTEE.ParamType.allCases {
            #expect(LinuxTEE.ParamAttr(t).isValid && LinuxTEE.ParamAttr(t, meta: true).isValid)
            #expect(LinuxTEE.ParamAttr(t, meta: true).isMeta)
            // The ioctl param types are the GP param types, value for value.
            #expect(GPParamType(rawValue: t.rawValue) != nil)
        }
        for raw: UInt64 in [4, 8, 0xFF, 0x200, 0x103 | 0x400, 1 << 63] {
            #expect(!LinuxTEE.ParamAttr(rawValue: raw).isValid, "\(hex(raw))")
        }
        #expect(LinuxTEE.ParamAttr(.valueInout, meta: true).rawValue == 0x103)
        #expect(LinuxTEE.ParamAttr(rawValue: 0x103).description == "TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT | TEE_IOCTL_PARAM_ATTR_META")
        #expect(LinuxTEE.ParamAttr(rawValue: 0x103).rawValue == Fixture.constants.first { $0.name == "SUPPL meta attr" }?.value)
    }

    @Test func ioctlNumbersDecodeToTheirNamesAndUnknownNumbersDoNot() {
        let names = Set(LinuxTEE.Ioctl.allCases.compactMap(\.name))
        #expect(names.count == LinuxTEE.Ioctl.allCases.count)
        #expect(LinuxTEE.Ioctl(rawValue: 0x8010_A40A).name == nil)   // OBJECT_INVOKE: newer than 6.1
        #expect(LinuxTEE.Ioctl(rawValue: 0).description == "0x00000000")
        #expect(LinuxTEE.Ioctl.openSession.description == "TEE_IOC_OPEN_SESSION")
    }

    @Test func capabilitiesAndLoginRangesMatchWhatLibteecChecks() {
        let caps: LinuxTEE.GenericCapabilities = [.gp, .registerMemory, .memrefNull]
        #expect(caps.rawValue == 0b1101 && caps.contains(.gp) && !caps.contains(.privileged))
        #expect(LinuxTEE.Login.reeKernelRange.contains(LoginMethod.reeKernel.rawValue))
        #expect(!LinuxTEE.Login.reeKernelRange.contains(LoginMethod.trustedApp.rawValue))
        #expect(!LinuxTEE.Login.reeKernelRange.contains(LoginMethod.applicationGroup.rawValue))
        #expect(UInt64(LinuxTEE.Layout.bufLength(header: LinuxTEE.Layout.openSessionArgSize, numParams: 30) ?? 0) <= UInt64(LinuxTEE.maxArgSize))
        #expect(UInt64(LinuxTEE.Layout.bufLength(header: LinuxTEE.Layout.openSessionArgSize, numParams: 31) ?? 0) > UInt64(LinuxTEE.maxArgSize))
    }

    @Test func everyOmittedReferenceRowSaysWhy() {
        #expect(!ABICatalog.omitted.isEmpty)
        for o in ABICatalog.omitted { #expect(!o.reason.isEmpty, "\(o.name)") }
    }
}
