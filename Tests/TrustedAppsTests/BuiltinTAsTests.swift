/// The registry: UUIDs, names and flags match optee_examples.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct BuiltinTAsTests {
    @Test func uuidsMatchTheOpteeExamplesHeaders() throws {
        #expect(HelloWorldTA.uuid == (try TEEUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b")))
        #expect(RandomTA.uuid == (try TEEUUID("b6c53aba-9669-4668-a7f2-205629d00f86")))
        #expect(SecureStorageTA.uuid == (try TEEUUID("f4e750bb-1437-4fbf-8785-8d3580c34994")))
        #expect(HOTPTA.uuid == (try TEEUUID("484d4143-2d53-4841-3120-4a6f636b6542")))
        #expect(AESTA.uuid == (try TEEUUID("5dbac793-f574-4871-8ad3-04331ec17f24")))
        #expect(TestTA.uuid == (try TEEUUID("7e57c0de-0000-4000-8000-000000000001")))
    }

    @Test func registryListsEveryTAOnceWithItsFlags() {
        let all = BuiltinTAs.all
        #expect(all.count == 6)
        #expect(Set(all.map(\.uuid)).count == all.count)
        #expect(Set(all.map(\.name)) == ["hello_world", "random", "secure_storage", "hotp", "aes", "vtee.test"])
        for d in all {
            let expected = d.uuid == SecureStorageTA.uuid ? TAProperties(singleInstance: true) : TAProperties()
            #expect(d.properties == expected, "\(d.name)")
            #expect(BuiltinTAs.descriptor(for: d.uuid)?.name == d.name)
        }
        #expect(BuiltinTAs.descriptor(for: .zero) == nil)
    }

    @Test func commandIdsMatchTheHeaders() {
        #expect(HelloWorldTA.Command.increment.rawValue == 0 && HelloWorldTA.Command.decrement.rawValue == 1)
        #expect(RandomTA.Command.generate.rawValue == 0)
        #expect(SecureStorageTA.Command.allCases.map(\.rawValue) == [0, 1, 2])
        #expect(HOTPTA.Command.allCases.map(\.rawValue) == [0, 1])
        #expect(AESTA.Command.allCases.map(\.rawValue) == [0, 1, 2, 3, 4])
        #expect(AESTA.Algorithm.allCases.map(\.rawValue) == [0, 1, 2, 3, 4])
        #expect(AESTA.Mode.encode.rawValue == 1 && AESTA.Mode.decode.rawValue == 0)
        #expect(TestTA.Command.allCases.map(\.rawValue) == Array(0...14))
    }

    @Test func packedParamTypesMatchTheTsv() {
        #expect(HelloWorldTA.paramTypes.rawValue == 0x0003)
        #expect(RandomTA.paramTypes.rawValue == 0x0006)
        #expect(SecureStorageTA.readParamTypes.rawValue == 0x0065)
        #expect(SecureStorageTA.writeParamTypes.rawValue == 0x0055)
        #expect(SecureStorageTA.deleteParamTypes.rawValue == 0x0005)
        #expect(HOTPTA.registerParamTypes.rawValue == 0x0005)
        #expect(HOTPTA.getParamTypes.rawValue == 0x0002)
        #expect(AESTA.prepareParamTypes.rawValue == 0x0111)
        #expect(AESTA.bufferParamTypes.rawValue == 0x0005)
        #expect(AESTA.cipherParamTypes.rawValue == 0x0065)
        #expect(AESTA.authencParamTypes.rawValue == 0x7165)
        #expect(TestTA.nopParamTypes.rawValue == 0x3333)
    }

    @Test func heapFitRefusesNegativeAndOverflowingSizes() {
        #expect(ExampleTALimits.fitsHeap(8, 7000))
        #expect(!ExampleTALimits.fitsHeap(-1))
        #expect(!ExampleTALimits.fitsHeap(Int.max, Int.max))
        #expect(!ExampleTALimits.fitsHeap(20_000, 20_000))
    }
}
