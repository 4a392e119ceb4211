import Crypto
import FedMailCore
import FederationProtocol
import X509
import Foundation
import Milter
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#endif

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "fedmail-federation-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("federation state loading")
struct FederationLoadingTests {
    @Test("a malformed allowlist line is a load error naming the allowlist and its line")
    func malformedAllowlist() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "partner.example require\nbad.example sometimes\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        try "Socket local:\(dir)/s\nFederationAllowlist \(dir)/allow\nMixedRecipients reject\n"
            .write(toFile: "\(dir)/m.conf", atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.check(path: "\(dir)/m.conf") }
        do {
            _ = try ConfigurationLoader.check(path: "\(dir)/m.conf")
        } catch {
            #expect(error.description == "\(dir)/allow:2: unknown policy 'sometimes': use require, opportunistic or never")
        }
    }

    @Test("federated partners without OrgKey/BrokerCA are refused at load")
    func missingKeys() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "partner.example require\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nFederationAllowlist \(dir)/allow\n", path: "m")
        #expect(throws: FederationLoadError.self) {
            _ = try FederationRuntime(configuration: configuration, hostname: "h", connect: false)
        }
        // Open-only gateways need no sealing keys to load the allowlist (anti-spoofing).
        let openOnly = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        let runtime = try FederationRuntime(configuration: openOnly, hostname: "mx.example", connect: false)
        #expect(runtime.allowlist.entries.count == 1)
        #expect(runtime.authservID == "mx.example")
    }

    @Test("a cert= file that is missing, not PEM or a weak key is a load error naming the allowlist line", arguments: [
        ("missing.pem", nil as String?, "cannot read"),
        ("garbage.pem", "not a certificate\n", "PEM"),
        ("weak.pem", "rsa:2048", "3072"),
    ])
    func badStaticCertificate(name: String, content: String?, fragment: String) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if content == "rsa:2048" {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/weak.key", "-out", "\(dir)/\(name)",
                                 "-subj", "/CN=weak.example", "-days", "1"]
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            #expect(openssl.terminationStatus == 0)
        } else if let content {
            try content.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
        }
        try "# partners\nstatic.example require cert=\(name)\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        do {
            _ = try FederationRuntime(configuration: configuration, hostname: "h", connect: false)
            Issue.record("loaded with cert=\(name)")
        } catch {
            let problem = try #require(error.configurationError)
            #expect(problem.file == "\(dir)/allow")
            #expect(problem.line == 2)
            #expect(error.message.contains("cert=\(dir)/\(name)"), "\(error.message)")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test("a reload replaces the allowlist; connections keep the state they started with")
    func reloadAllowlist() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "legacy.example never\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        let store = FederationRuntimeStore(try FederationRuntime(configuration: configuration, hostname: "h", connect: false))
        let inFlight = store.current
        try "legacy.example never\npartner.example require\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        store.replace(with: try FederationRuntime(configuration: configuration, hostname: "h", connect: false))
        #expect(store.current.allowlist.entry(for: DomainName("partner.example")!)?.policy == .require)
        #expect(inFlight.allowlist.entry(for: DomainName("partner.example")!) == nil)
    }
}

@Suite("message files")
struct MessageFilesTests {
    @Test("the original is rebuilt from milter header values and the body with CRLF")
    func original() throws {
        #expect(MessageFiles.rawField(MilterHeaderField(name: "Subject", rawValue: " Hello\n\tworld"), rawValues: true)
                == Array("Subject: Hello\r\n\tworld\r\n".utf8))
        #expect(MessageFiles.rawField(MilterHeaderField(name: "X", rawValue: "v"), rawValues: false) == Array("X: v\r\n".utf8))
        let field = MessageHeaderField(name: "Subject", raw: Array("Subject: Hello\r\n\tworld\r\n".utf8))
        #expect(MessageFiles.milterValue(of: field) == Array(" Hello\n\tworld".utf8))
    }
}

@Suite("pop mode after a rekey")
struct PoPPreviousKeyTests {
    /// A token issued before a rekey carries its PoP key encrypted to the
    /// replaced key: within PreviousOrgKeyGrace it must still open, as the
    /// KeyAgree/KeyTrans recipientInfos of direct mode do.
    @Test("a PoP key sealed to PreviousOrgKey opens when the previous key may be used, and only then")
    func previousKey() throws {
        let partners = try StaticPartners.get()
        let d = partners.directory
        let configuration = try MilterConfiguration(parsing: """
            Socket local:/tmp/fedmail-pop-test.sock
            BrokerCA \(d)/a.crt
            OrgKey \(d)/b.key
            OrgCertificate \(d)/b.crt
            PreviousOrgKey \(d)/c.key
            PreviousOrgCertificate \(d)/c.crt
            """, path: "/tmp/fedmail-pop-test.conf")
        let brokers = try FederationBrokers(settings: configuration.federation, connect: true)
        defer { brokers.shutdown() }
        let key = SymmetricKey(size: .bits256)
        let expected = key.withUnsafeBytes { Array($0) }
        let replaced = try Certificate(pemEncoded: String(contentsOfFile: "\(d)/c.crt", encoding: .utf8))
        let toPrevious = try PoPKeyEnvelope.seal(key, to: replaced.publicKey)
        #expect(try brokers.openPoPKey(toPrevious, includingPrevious: true) == expected)
        #expect(throws: (any Error).self) { _ = try brokers.openPoPKey(toPrevious, includingPrevious: false) }
        let current = try Certificate(pemEncoded: String(contentsOfFile: "\(d)/b.crt", encoding: .utf8))
        #expect(try brokers.openPoPKey(try PoPKeyEnvelope.seal(key, to: current.publicKey), includingPrevious: false) == expected)
    }
}
