import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// The `On-*` failure actions and the replies the MTA gets (DESIGN.md
/// "Failure actions"), through a FederationHandler driven by the harness.
@Suite("On-* failure actions and their replies")
struct FailureActionTableTests {
    // MARK: On-BadSeal

    /// A message A sealed for B, tampered with in transit.
    static func tamperedSeal() throws -> MilterMessage {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        var wire = Mail.relayed(try a.submit(Mail.message()))
        wire.body = Tamper.flipBase64(wire.body)
        return wire
    }

    @Test("On-BadSeal reject and tempfail: 550 5.7.1 / 451 4.7.1 'FedMail: <check>', nothing changed", arguments: [
        ("reject", MilterResponse.Status.reject, "550 5.7.1 FedMail: "),
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.1 FedMail: "),
    ])
    func badSealRefused(setting: String, status: MilterResponse.Status, reply: String) throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-BadSeal \(setting)"])
        let run = try b.receive(try Self.tamperedSeal())
        #expect(run.response.status == status)
        #expect(run.response.replyText?.hasPrefix(reply) == true, "\(run.response.replyText ?? "-")")
        #expect(run.actions.isEmpty)
    }

    @Test("On-BadSeal quarantine: held unopened, with fedmail=fail at the top")
    func badSealQuarantined() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-BadSeal quarantine"])
        let wire = try Self.tamperedSeal()
        let run = try b.receive(wire)
        #expect(run.response == .continue)
        #expect(run.result.quarantineReason?.hasPrefix("FedMail: ") == true)
        let verdict = try #require(run.result.headers.first)
        #expect(verdict.name == "Authentication-Results")
        #expect(verdict.value.hasPrefix("mx.b.test; fedmail=fail"), "\(verdict.value)")
        #expect(run.result.body == wire.body)
    }

    @Test("On-BadSeal accept: delivered unopened counts as plaintext from a require partner, so On-SpoofedPartner (reject) applies")
    func badSealAcceptedIsSpoofedPartner() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-BadSeal accept"])
        let run = try b.receive(try Self.tamperedSeal())
        #expect(run.response.status == .reject)
        #expect(run.response.replyText == "550 5.7.1 FedMail: a.example requires sealed mail")
    }

    @Test("On-BadSeal accept for a partner that is not require: delivered unopened with fedmail=fail")
    func badSealAccepted() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  opportunistic  cert=a.crt"], settings: ["On-BadSeal accept"])
        let wire = try Self.tamperedSeal()
        let run = try b.receive(wire)
        #expect(run.response == .continue)
        #expect(run.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=fail") == true)
        #expect(run.result.quarantineReason == nil)
        #expect(run.result.body == wire.body)
    }

    // MARK: On-NotForUs

    @Test("On-NotForUs: a seal with a FedMail-Token for us but no recipientInfo for our key", arguments: [
        ("reject", MilterResponse.Status.reject, "550 5.7.1 FedMail: not-for-us"),
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.1 FedMail: not-for-us"),
    ])
    func notForUs(setting: String, status: MilterResponse.Status, reply: String) throws {
        // A seals for C only; a FedMail-Token naming b.example is added on the way.
        let a = try Gateway(org: "a", allowlist: ["c.example  require  cert=c.crt"])
        var wire = Mail.relayed(try a.submit(Mail.message(to: ["carol@c.example"])))
        wire.headers.append(MilterHeaderField(name: "FedMail-Token", rawValue: " v=1; d=b.example; t=e30.e30.sig"))
        wire.recipients = ["<bob@b.example>"]
        let b = try Gateway(org: "b", allowlist: ["a.example  opportunistic  cert=a.crt"], settings: ["On-NotForUs \(setting)"])
        let run = try b.receive(wire)
        #expect(run.response.status == status)
        #expect(run.response.replyText?.hasPrefix(reply) == true, "\(run.response.replyText ?? "-")")
    }

    // MARK: On-SpoofedPartner

    static let spoofed = Mail.message(from: "Alice <alice@a.example>", to: ["bob@b.example"], sender: "<alice@a.example>")

    @Test("On-SpoofedPartner: plaintext From a require partner", arguments: [
        ("reject", MilterResponse.Status.reject, "550 5.7.1 FedMail: a.example requires sealed mail" as String?),
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.1 FedMail: a.example requires sealed mail"),
    ])
    func spoofedPartnerRefused(setting: String, status: MilterResponse.Status, reply: String?) throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-SpoofedPartner \(setting)"])
        let run = try b.receive(Self.spoofed)
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
    }

    @Test("On-SpoofedPartner is the default for plaintext naming a require partner only in the display name")
    func spoofedDisplayName() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let run = try b.receive(Mail.message(from: "\"alice@a.example\" <mallory@evil.example>", sender: "<mallory@evil.example>"))
        #expect(run.response.status == .reject)
        #expect(run.response.replyText == "550 5.7.1 FedMail: a.example requires sealed mail")
    }

    @Test("On-SpoofedPartner quarantine: held with fedmail=fail (spoofed-partner)")
    func spoofedPartnerQuarantined() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-SpoofedPartner quarantine"])
        let run = try b.receive(Self.spoofed)
        #expect(run.response == .continue)
        #expect(run.result.quarantineReason == "FedMail: plaintext from require partner a.example")
        #expect(run.result.headers.first?.value == "mx.b.test; fedmail=fail (spoofed-partner)")
    }

    @Test("On-SpoofedPartner accept: delivered untouched")
    func spoofedPartnerAccepted() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-SpoofedPartner accept"])
        let run = try b.receive(Self.spoofed)
        #expect(run.response == .continue)
        #expect(run.actions.isEmpty)
    }

    // MARK: On-ForeignFrom

    @Test("On-ForeignFrom: outbound mail for a partner whose From is not ours", arguments: [
        ("reject", MilterResponse.Status.reject, "550 5.7.1 FedMail: foreign-from: "),
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.0 FedMail: foreign-from: "),
    ])
    func foreignFrom(setting: String, status: MilterResponse.Status, reply: String) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["On-ForeignFrom \(setting)"])
        let run = try a.submit(Mail.message(from: "Boss <boss@elsewhere.example>", sender: "<alice@a.example>"))
        #expect(run.response.status == status)
        #expect(run.response.replyText?.hasPrefix(reply) == true, "\(run.response.replyText ?? "-")")
        #expect(run.actions.isEmpty)
    }

    @Test("On-ForeignFrom accept: sealed anyway")
    func foreignFromAccepted() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["On-ForeignFrom accept"])
        let run = try a.submit(Mail.message(from: "Boss <boss@elsewhere.example>", sender: "<alice@a.example>"))
        #expect(run.response == .continue)
        #expect(run.result.values(of: "Content-Type").first?.contains("pkcs7-mime") == true)
    }

    // MARK: On-BrokerUnavailable

    @Test("a require partner while the broker cannot answer: 451 4.7.0 by default, 550 5.7.0 with On-BrokerUnavailable reject", arguments: [
        (nil as String?, MilterResponse.Status.tempfail, "451 4.7.0 FedMail: federation required for p.example but no token could be had (broker down (scripted))"),
        ("reject", MilterResponse.Status.reject, "550 5.7.0 FedMail: federation required for p.example but no token could be had (broker down (scripted))"),
    ])
    func brokerUnavailableRequire(setting: String?, status: MilterResponse.Status, reply: String) throws {
        let a = try Gateway(org: "a", allowlist: ["p.example  require"], settings: setting.map { ["On-BrokerUnavailable \($0)"] } ?? [],
                            brokers: ScriptedBrokers())
        let run = try a.submit(Mail.message(to: ["pat@p.example"]))
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
    }

    @Test("an opportunistic partner while the broker cannot answer: plaintext with X-FedMail-Plaintext by default")
    func brokerUnavailableOpportunistic() throws {
        let a = try Gateway(org: "a", allowlist: ["p.example  opportunistic"], brokers: ScriptedBrokers())
        let original = Mail.message(to: ["pat@p.example"])
        let run = try a.submit(original)
        #expect(run.response == .continue)
        #expect(run.actions == [.addHeader(name: "X-FedMail-Plaintext", value: Array("p.example: no token could be had (broker down (scripted))".utf8))])
        #expect(run.result.body == original.body)
    }

    @Test("an opportunistic partner while the broker cannot answer, On-BrokerUnavailable tempfail/quarantine", arguments: [
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.0 FedMail: p.example: no token could be had (broker down (scripted))" as String?),
        ("reject", MilterResponse.Status.reject, "550 5.7.0 FedMail: p.example: no token could be had (broker down (scripted))"),
        ("quarantine", MilterResponse.Status.continue, nil),
    ])
    func brokerUnavailableOpportunisticAction(setting: String, status: MilterResponse.Status, reply: String?) throws {
        let a = try Gateway(org: "a", allowlist: ["p.example  opportunistic"], settings: ["On-BrokerUnavailable \(setting)"],
                            brokers: ScriptedBrokers())
        let run = try a.submit(Mail.message(to: ["pat@p.example"]))
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
        if setting == "quarantine" {
            #expect(run.result.quarantineReason == "FedMail: p.example: no token could be had (broker down (scripted))")
        }
    }

    @Test("a require partner the broker says is not federated or denies: 451 4.7.0 (never plaintext)", arguments: [
        (DomainFederation.notFederated, "the domain is not federated"),
        (DomainFederation.denied, "the partner's policy denies us"),
    ])
    func requireWithoutToken(answer: DomainFederation, why: String) throws {
        let a = try Gateway(org: "a", allowlist: ["p.example  require"], settings: ["On-BrokerUnavailable reject"],
                            brokers: ScriptedBrokers(answer: answer))
        let run = try a.submit(Mail.message(to: ["pat@p.example"]))
        #expect(run.response.status == .tempfail)
        #expect(run.response.replyText == "451 4.7.0 FedMail: federation required for p.example but \(why)")
    }

    // MARK: On-ScanError, On-Infected

    @Test("On-ScanError when clamd cannot be reached before sealing", arguments: [
        (nil as String?, MilterResponse.Status.tempfail, "451 4.3.0 FedMail: virus scanner unavailable, try again later" as String?),
        ("reject", MilterResponse.Status.reject, "550 5.7.0 FedMail: the virus scan failed"),
        ("quarantine", MilterResponse.Status.continue, nil),
    ])
    func scanError(setting: String?, status: MilterResponse.Status, reply: String?) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["ClamdSocket unix:/nonexistent/fedmail-test/clamd.sock"] + (setting.map { ["On-ScanError \($0)"] } ?? []))
        let original = Mail.message()
        let run = try a.submit(original)
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
        if setting == "quarantine" {
            // Held as it came: nothing sealed that nobody scanned.
            #expect(run.result.quarantineReason?.hasPrefix("FedMail: scan failed") == true)
            #expect(run.result.body == original.body)
        }
    }

    @Test("On-ScanError accept: sealed anyway, the control part saying not-scanned")
    func scanErrorAccepted() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["ClamdSocket unix:/nonexistent/fedmail-test/clamd.sock", "On-ScanError accept"])
        let run = try a.submit(Mail.message())
        #expect(run.response == .continue)
        #expect(run.result.values(of: "Content-Type").first?.contains("pkcs7-mime") == true)
    }

    @Test("On-Infected for an infected verdict of the local chain", arguments: [
        ("tempfail", MilterResponse.Status.tempfail, "451 4.7.1 FedMail: message infected: Eicar-Test" as String?),
        ("quarantine", MilterResponse.Status.continue, nil),
    ])
    func infected(setting: String, status: MilterResponse.Status, reply: String?) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["UpstreamVirusHeader X-Virus-Status", "UpstreamScanHosts 127.0.0.1", "On-Infected \(setting)"])
        let run = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Infected (Eicar-Test)"]))
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
        if setting == "quarantine" { #expect(run.result.quarantineReason == "FedMail: infected: Eicar-Test") }
    }

    // MARK: On-InternalError

    @Test("On-InternalError at end of message (the spool cannot be written)", arguments: [
        ("tempfail", MilterResponse.Status.tempfail, "451 4.3.0 FedMail: internal error" as String?),
        ("reject", MilterResponse.Status.reject, "550 5.3.0 FedMail: internal error"),
        ("accept", MilterResponse.Status.continue, nil),
    ])
    func internalError(setting: String, status: MilterResponse.Status, reply: String?) throws {
        // Mixed recipients: the sealed copy for the split is written to the
        // spool before anything is changed (a message sealed for all its
        // recipients goes to the MTA through no file).
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["On-InternalError \(setting)", "Reinject inet:1@127.0.0.1"],
                            spoolDirectory: "/nonexistent/fedmail-spool")
        let run = try a.submit(Mail.message(to: ["bob@b.example", "nina@plain.example"]))
        #expect(run.response.status == status)
        #expect(run.response.replyText == reply)
        #expect(run.actions.isEmpty)
    }

    /// A failure after FedMail began to change the message (the new body
    /// broke half-way) must never pass the half-changed message on: the
    /// MTA keeps the changes it received when the answer is accept, and
    /// holds them when it is quarantine. Tempfail (or the configured
    /// reject) makes the MTA drop them; the sender's retry starts afresh.
    @Test("On-InternalError once the message is partly changed: never accept or quarantine a half-changed message", arguments: [
        ("accept", MilterResponse.Status.tempfail, "451 4.3.0 FedMail: internal error" as String?),
        ("quarantine", MilterResponse.Status.tempfail, "451 4.3.0 FedMail: internal error"),
        ("tempfail", MilterResponse.Status.tempfail, "451 4.3.0 FedMail: internal error"),
        ("reject", MilterResponse.Status.reject, "550 5.3.0 FedMail: internal error"),
    ])
    func internalErrorAfterAPartialChange(setting: String, status: MilterResponse.Status, reply: String?) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["On-InternalError \(setting)"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-InternalError \(setting)"])
        let original = Mail.message(body: String(repeating: "a line of the original body\r\n", count: 4_000))
        // Outbound: the sealed body breaks after 1000 bytes.
        var sealing = a.harness
        sealing.failsBodyReplacementAfter = 1_000
        let sealRun = try sealing.run(a.handler(), message: original, envelope: Gateway.internalClient)
        #expect(sealRun.response.status == status)
        #expect(sealRun.response.replyText == reply)
        #expect(sealRun.result.quarantineReason == nil)
        // Inbound: the opened original breaks after 1000 bytes.
        let sealed = try a.submit(original)
        var opening = b.harness
        opening.failsBodyReplacementAfter = 1_000
        let openRun = try opening.run(b.handler(), message: Mail.relayed(sealed), envelope: Gateway.internetClient)
        #expect(openRun.response.status == status)
        #expect(openRun.response.replyText == reply)
        #expect(openRun.result.quarantineReason == nil)
    }

    @Test("a broker that cannot be reached: the reply and X-FedMail-Plaintext name only the kind of failure, never the broker's address")
    func brokerFailureDetailStaysInTheLog() throws {
        let partners = try StaticPartners.get()
        let closed = "https://127.0.0.1:1"
        for (allowlist, action) in [("p.example require", "tempfail"), ("p.example opportunistic", "accept")] {
            let a = try Gateway(org: "a", allowlist: [allowlist],
                                settings: ["BrokerURL \(closed)", "BrokerCA \(partners.directory)/a.crt", "BrokerTimeout 2s",
                                           "On-BrokerUnavailable \(action)"],
                                connectBrokers: true)
            defer { a.runtime.brokers?.shutdown() }
            let run = try a.submit(Mail.message(to: ["pat@p.example"]))
            let said = (run.response.replyText ?? "") + run.result.values(of: "X-FedMail-Plaintext").joined()
            #expect(said.contains("no token could be had (broker unavailable)"), "\(said)")
            #expect(!said.contains("127.0.0.1"), "\(said)")
        }
    }
}
