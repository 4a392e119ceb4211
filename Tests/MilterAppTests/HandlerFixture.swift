import FedMailCore
import FedMailCrypto
import Foundation
import Logging
import Milter
import MilterTesting
@testable import MilterApp

/// Two organizations with static partner certificates (`cert=`, no broker):
/// A (a.example, gateway mx.a.test) and B (b.example, mx.b.test), each with
/// a P-256 key and a self-signed certificate made as the README shows, and
/// each pinning the other. C (c.example) has a certificate only (a third
/// party A can seal to). Made once per test run, in a private directory.
struct StaticPartners: Sendable {
    let directory: String

    static let shared: Result<StaticPartners, FixtureError> = Result { () throws(FixtureError) in try make() }
    static func get() throws -> StaticPartners { try shared.get() }

    static func make() throws(FixtureError) -> StaticPartners {
        let dir = NSTemporaryDirectory() + "fedmail-seam-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FixtureError("mkdir \(dir): \(error)")
        }
        for (name, domain) in [("a", "a.example"), ("b", "b.example"), ("c", "c.example")] {
            let keyPath = "\(dir)/\(name).key"
            do { try PrivateKey.generate(.p256).write(toPath: keyPath) } catch { throw FixtureError("key \(name): \(error)") }
            try run("/usr/bin/openssl", "req", "-new", "-x509", "-key", keyPath, "-days", "30",
                    "-subj", "/O=\(name)/CN=\(domain)", "-addext", "subjectAltName=DNS:\(domain)",
                    "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature,keyAgreement",
                    "-addext", "extendedKeyUsage=emailProtection", "-out", "\(dir)/\(name).crt")
        }
        return StaticPartners(directory: dir)
    }

    static func run(_ arguments: String...) throws(FixtureError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { throw FixtureError("\(arguments[0]): \(error)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FixtureError("\(arguments.joined(separator: " ")) failed") }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One gateway: its configuration, allowlist, runtime and a handler per
/// message, driven through the ``MilterHarness``. Everything lives in a
/// private directory removed by ``remove()``.
final class Gateway: @unchecked Sendable {  // used by one test, one message at a time
    let directory: String
    let runtime: FederationRuntime
    let replayCache: ReplayCache
    /// The split ledger, shared by every message of this gateway as the daemon shares it.
    let splitLedger = ReplayCache(maxAge: FederationHandler.splitLedgerRetention, recipientDelimiters: "")
    /// Sealed copies kept in doubt, in this gateway's directory.
    let splitInDoubt: InDoubtSealedCopies
    let harness: MilterHarness
    let spoolDirectory: String
    /// The broker's CRL as this gateway has it (nil: not checked).
    var revocations: RevocationListCache?
    /// Where this gateway's handlers count (nil: not counted).
    var metrics: MilterMetrics?

    /// - Parameters:
    ///   - org: `a` or `b` (its key, certificate, domain `org.example`, authserv-id `mx.org.test`).
    ///   - allowlist: allowlist lines; `cert=NAME.crt` names a partner certificate of the fixture.
    ///   - settings: extra configuration lines (`On-BadSeal quarantine`, ...).
    ///   - brokers: a lookup to use instead of HTTPS broker clients.
    ///   - authservID: the `AuthservID` (default `mx.org.test`).
    init(org: String, allowlist: [String], settings: [String] = [], brokers: (any FederationBrokerLookup)? = nil,
         spoolDirectory: String? = nil, keys: (key: String, certificate: String)? = nil, spoolThreshold: Int = 1 << 20,
         connectBrokers: Bool = false, authservID: String? = nil) throws {
        let partners = try StaticPartners.get()
        directory = NSTemporaryDirectory() + "fedmail-gw-\(org)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["a", "b", "c"] {
            try FileManager.default.copyItem(atPath: "\(partners.directory)/\(name).crt", toPath: "\(directory)/\(name).crt")
        }
        try (allowlist.joined(separator: "\n") + "\n").write(toFile: "\(directory)/allowlist", atomically: true, encoding: .utf8)
        let text = ([
            "Socket local:\(directory)/milter.sock",
            "Domains \(org).example",
            "AuthservID \(authservID ?? "mx.\(org).test")",
            "OrgKey \(keys?.key ?? "\(partners.directory)/\(org).key")",
            "OrgCertificate \(keys?.certificate ?? "\(partners.directory)/\(org).crt")",
            "FederationAllowlist \(directory)/allowlist",
        ] + settings).joined(separator: "\n") + "\n"
        let configuration = try MilterConfiguration(parsing: text, path: "\(directory)/milter.conf")
        if let brokers {
            runtime = try FederationRuntime(configuration: configuration, hostname: "mx.\(org).test", brokers: brokers)
        } else {
            runtime = try FederationRuntime(configuration: configuration, hostname: "mx.\(org).test", connect: connectBrokers)
        }
        replayCache = ReplayCache(maxAge: 3_600)
        splitInDoubt = try InDoubtSealedCopies(directory: "\(directory)/\(InDoubtSealedCopies.directoryName)",
                                               retention: FederationHandler.splitLedgerRetention)
        self.spoolDirectory = spoolDirectory ?? directory
        harness = MilterHarness(requirements: FederationHandler.requirements, spoolDirectory: directory, spoolThreshold: spoolThreshold)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func handler() -> FederationHandler {
        FederationHandler(runtime: runtime, spoolDirectory: spoolDirectory, replayCache: replayCache,
                          logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, revocations: revocations,
                          splitLedger: splitLedger, splitInDoubt: splitInDoubt, metrics: metrics)
    }

    /// Mail submitted by one of our users (an internal host: outbound),
    /// optionally with ESMTP arguments of MAIL FROM and of each RCPT TO.
    func submit(_ message: MilterMessage, senderArguments: [String] = [],
                recipientArguments: [String: [String]] = [:]) throws -> MilterRun {
        var envelope = Self.internalClient
        envelope.senderArguments = senderArguments
        envelope.recipientArguments = recipientArguments
        return try harness.run(handler(), message: message, envelope: envelope)
    }

    /// Mail arriving from the Internet (inbound).
    func receive(_ message: MilterMessage) throws -> MilterRun {
        try harness.run(handler(), message: message, envelope: Self.internetClient)
    }

    static let internalClient = MilterEnvelope(
        client: MilterClient(hostname: "localhost", address: "127.0.0.1", port: 40_000),
        connectMacros: ["j": "mx.test", "{client_addr}": "127.0.0.1"])
    static let internetClient = MilterEnvelope(
        client: MilterClient(hostname: "mail.sender.net", address: "192.0.2.25", port: 40_001),
        connectMacros: ["j": "mx.test", "{client_addr}": "192.0.2.25"])
}

/// Messages for the tests, CRLF on the wire.
enum Mail {
    static func message(from: String = "Alice <alice@a.example>", to: [String] = ["bob@b.example"],
                        sender: String = "<alice@a.example>", subject: String = "Quarterly figures",
                        extraHeaders: [String] = [], body: String = "Hello Bob,\r\nthe figures are attached.\r\n.leading dot\r\n") -> MilterMessage {
        let head = [
            "Received: from client.a.example by mx.a.test; Mon, 1 Dec 2025 10:00:00 +0000",
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(subject)",
            "Date: Mon, 1 Dec 2025 10:00:00 +0000",
            "Message-ID: <\(UUID().uuidString)@a.example>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
        ] + extraHeaders
        let eml = head.joined(separator: "\r\n") + "\r\n\r\n" + body
        return MilterMessage(eml: Array(eml.utf8), sender: sender, recipients: to.map { "<\($0)>" })
    }

    /// The message as delivered by `run` to the next hop: its bytes with the envelope it keeps.
    static func relayed(_ run: MilterRun) -> MilterMessage {
        MilterMessage(eml: run.result.bytes, sender: run.result.sender, recipients: run.result.recipients)
    }
}

extension MilterResponse {
    /// `code enhanced text` of the reply, for assertions.
    var replyText: String? {
        reply.map { "\($0.code) \($0.enhancedCode ?? "-") \($0.lines.joined(separator: " / "))" }
    }
}

/// TEST DOUBLE of the broker lookup: every domain answers as told
/// (unavailable by default), tokens are never valid. For the decisions that
/// depend only on what the broker said, not on real tokens.
struct ScriptedBrokers: FederationBrokerLookup {
    var answer: DomainFederation = .unavailable(reason: "broker down (scripted)")

    func lookup(domains: [DomainName], broker: String?, mode: FederationMode, timeout: Int) -> [DomainName: DomainLookup] {
        Dictionary(uniqueKeysWithValues: domains.map { ($0, DomainLookup(domain: $0, federation: answer)) })
    }

    func verify(token: String, audience: String, at time: Date, timeout: Int) throws -> VerifiedTokenClaims {
        throw FixtureError("scripted broker: no token is valid")
    }

    func openPoPKey(_ envelope: String, includingPrevious: Bool) throws -> [UInt8] {
        throw FixtureError("scripted broker: no PoP key")
    }

    func shutdown() {}
}
