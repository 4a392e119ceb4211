@testable import Broker
import BrokerClient
import FedMailCore
import Foundation
import Logging
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// The CRL at the receiving gateway, through the real handler: a real
/// broker in process issues the CRL, the gateway verifies it against its
/// pinned BrokerCA and the opening policy refuses a revoked signer
/// (550 5.7.1 FedMail: signer-revoked) or, without a current CRL,
/// tempfails (451 4.7.0 FedMail: revocation-unknown).
@Suite("milter: the broker's CRL")
struct RevocationHandlerTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func currentList(_ broker: EnrolledBroker) async throws -> (RevocationList, [UInt8]) {
        let crl = try await broker.service.certificateRevocationList()
        return (try BrokerClient.verifyCRL(crl.der, brokerCAPath: broker.caPath), crl.der)
    }

    @Test("current CRL without A: pass; A revoked: signer-revoked; no CRL: revocation-unknown (451), never a pass")
    func handler() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["b.example  require"])
        let b = try broker.gateway("b", allowlist: ["a.example  require"], settings: ["CRLMaxAge 1h"])
        let cache = RevocationListCache(stateDirectory: nil)
        b.revocations = cache

        let none = try await onOwnThread { try b.receive(Mail.relayed(try a.submit(Mail.message()))) }
        #expect(none.response.status == .tempfail)
        #expect(none.response.replyText == "451 4.7.0 FedMail: revocation-unknown", "\(none.response.replyText ?? "-")")

        #expect(cache.install(try await Self.currentList(broker).0))
        let passed = try await onOwnThread { try b.receive(Mail.relayed(try a.submit(Mail.message()))) }
        #expect(passed.response == .continue)

        let sealed = try await onOwnThread { try a.submit(Mail.message()) }
        try await broker.service.revoke(organization: "org-a", reason: .keyCompromise)
        #expect(cache.install(try await Self.currentList(broker).0))
        let refused = try await onOwnThread { try b.receive(Mail.relayed(sealed)) }
        #expect(refused.response.status == .reject)
        #expect(refused.response.replyText == "550 5.7.1 FedMail: signer-revoked", "\(refused.response.replyText ?? "-")")
        await broker.close()
    }

    @Test("the cache never goes back to an older CRL, and survives a restart on disk (verified again when read)")
    func cacheAndDisk() async throws {
        let broker = try await EnrolledBroker.make()
        let directory = NSTemporaryDirectory() + "fedmail-crl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = RevocationListCache(stateDirectory: directory)
        let (older, _) = try await Self.currentList(broker)
        try await broker.service.revoke(organization: "org-a")
        let newer = try await broker.service.crlIssuer.currentCRL(service: broker.service, now: older.thisUpdate + 60)
        let newerList = try BrokerClient.verifyCRL(newer.der, brokerCAPath: broker.caPath)
        #expect(cache.install(newerList))
        #expect(!cache.install(older))
        #expect(cache.current == newerList)
        cache.saveToDisk(newer.der, logger: Self.quiet)

        let restarted = RevocationListCache(stateDirectory: directory)
        restarted.loadFromDisk(brokerCAPath: broker.caPath, logger: Self.quiet)
        #expect(restarted.current == newerList)
        guard case .list(let list, 86_400) = restarted.revocationState(maxAge: 86_400) else {
            Issue.record("no list after loading from disk")
            return
        }
        #expect(list.entries.count == 1)

        // A tampered copy is ignored: no list, so mail is tempfailed rather than trusted.
        var tampered = newer.der
        tampered[tampered.count - 5] ^= 0xff
        try Data(tampered).write(to: URL(fileURLWithPath: "\(directory)/\(RevocationListCache.fileName)"))
        let again = RevocationListCache(stateDirectory: directory)
        again.loadFromDisk(brokerCAPath: broker.caPath, logger: Self.quiet)
        #expect(again.current == nil)
        await broker.close()
    }
}
