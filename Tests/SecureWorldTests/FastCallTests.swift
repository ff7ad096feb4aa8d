import Testing
import TEEABI
import Machine
@testable import SecureWorld

@Suite struct FastCallTests {
    @Test func callsUIDAndRevisionAnswerOPTEEIdentity() throws {
        let nw = try RawNormalWorld()
        let uid = nw.world.smc(RegisterFrame(.callsUID))
        #expect(uid.a0 == 0x384F_B3E0 && uid.a1 == 0xE7F8_11E3 && uid.a2 == 0xAF63_0002 && uid.a3 == 0xA5D5_C51B)
        let rev = nw.world.smc(RegisterFrame(.callsRevision))
        #expect(rev.a0 == 2 && rev.a1 == 0)
        let os = nw.world.smc(RegisterFrame(.getOSUUID))
        #expect(os.a0 == 0x4861_78E0 && os.a3 == 0xA5D5_C51B)
        let osr = nw.world.smc(RegisterFrame(.getOSRevision))
        #expect(osr.a0 == 4 && osr.a1 == 10)
        #expect(nw.world.smc(RegisterFrame(.callsCount)).a0 == 14)
    }

    @Test func exchangeCapabilitiesAdvertisesDynamicSHMMemrefNullRPCArgAndVirtualizationButNoAsyncNotif() throws {
        let nw = try RawNormalWorld()
        let r = nw.world.smc(RegisterFrame(.exchangeCapabilities))
        #expect(r.ret == .ok)
        let caps = SecureCapabilities(rawValue: UInt32(r.a1))
        // Nothing raises an asynchronous notification, so it is not advertised (OP-TEE without
        // CFG_CORE_ASYNC_NOTIF) and a2 carries no async value range.
        #expect(caps == [.dynamicSHM, .memrefNull, .rpcArg, .virtualization])
        #expect(r.a3 == 4)
        #expect(r.a2 == 0)
        // Unknown non-secure capability bits: ENOTAVAIL.
        #expect(nw.world.smc(RegisterFrame(.exchangeCapabilities, a1: 0x10)).ret == .enotavail)
        let plain = SecureWorld(memory: nw.memory, config: .init(virtualization: false), tas: [])
        let caps2 = SecureCapabilities(rawValue: UInt32(plain.smc(RegisterFrame(.exchangeCapabilities, a1: 1)).a1))
        #expect(!caps2.contains(.virtualization) && caps2.contains(.dynamicSHM))
        #expect(plain.smc(RegisterFrame(.callsCount)).a0 == 12)
    }

    @Test func threadCountAnswersAndAsyncNotifCallsAreUnknownWithoutAnAsyncSource() throws {
        let nw = try RawNormalWorld(config: .init(threadsPerVM: 3))
        let r = nw.world.smc(RegisterFrame(.getThreadCount))
        #expect(r.ret == .ok && r.a1 == 3)
        #expect(nw.createVM(1) == .ok)
        #expect(nw.world.smc(RegisterFrame(.enableAsyncNotif, a7: 1)).ret == .unknownFunction)
        #expect(nw.world.smc(RegisterFrame(.getAsyncNotifValue, a7: 1)).ret == .unknownFunction)
        // The yielding DO_BOTTOM_HALF is refused too.
        let bh = nw.call(MsgArg(cmd: .doBottomHalf))
        #expect(bh.frame.ret == .ebadcmd)
    }

    @Test func shmCacheEnableDisableHandsBackCachedRPCArgCookies() throws {
        let nw = try RawNormalWorld()
        #expect(nw.createVM(1) == .ok)
        #expect(nw.world.smc(RegisterFrame(.disableSHMCache, a7: 1)).ret == .enotavail)
        #expect(nw.world.smc(RegisterFrame(.enableSHMCache, a7: 1)).ret == .ok)
        let (r, _, s) = nw.open(TestTAs.main)
        #expect(r == .success)
        // An RPC allocates the RPC argument; the cache keeps it after the call.
        let a = nw.invoke(s, Cmd.reeTime, params: [.value(.valueOutput)])
        #expect(a?.ret == .success)
        #expect(nw.lock.withLock { $0.freedCookies.isEmpty })
        let d = nw.world.smc(RegisterFrame(.disableSHMCache, a7: 1))
        #expect(d.ret == .ok)
        #expect(RegisterFrame.join(d.a1, d.a2) != 0)
        #expect(nw.world.smc(RegisterFrame(.disableSHMCache, a7: 1)).ret == .enotavail)
    }

    @Test func unknownFastCallIsUnknownFunction() throws {
        let nw = try RawNormalWorld()
        #expect(nw.world.smc(RegisterFrame(a0: 0xB200_00FE)).ret == .unknownFunction)
        #expect(nw.world.counters.smcErrors[.unknownFunction] == 1)
    }

    @Test func vmCreatedAndDestroyedOnlyFromTheHypervisor() throws {
        let nw = try RawNormalWorld()
        #expect(nw.world.smc(RegisterFrame(.vmCreated, a1: 5, a7: 3)).ret == .enotavail)
        #expect(nw.createVM(5) == .ok)
        #expect(nw.createVM(5) == .enotavail)
        #expect(nw.createVM(0) == .enotavail)
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 5, a7: 5)).ret == .enotavail)
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 5, a7: 0)).ret == .ok)
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 5, a7: 0)).ret == .enotavail)
        // Fast calls from a VM that does not exist: ENOTAVAIL.
        #expect(nw.world.smc(RegisterFrame(.getThreadCount, a7: 9)).ret == .enotavail)
        // Without virtualization these ids are unknown functions.
        let plain = SecureWorld(memory: nw.memory, config: .init(virtualization: false), tas: [])
        #expect(plain.smc(RegisterFrame(.vmCreated, a1: 5)).ret == .unknownFunction)
    }
}
