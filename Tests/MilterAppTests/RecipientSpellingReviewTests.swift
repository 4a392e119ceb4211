import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Review finding: Postfix's smtpd hands milters the RCPT TO argument in its
/// original (external) form — `milter_argv()` passes `argv[2].strval`, which
/// `extract_addr()` no longer overwrites — while Postfix itself queues and
/// routes the address tok822 extracts from it (white space and comments
/// dropped, so `<bob@b.example >` is bob@b.example, accepted even with
/// `strict_rfc821_envelopes = yes`). FedMail's `DomainName(ofAddress:)`
/// finds no domain in such a spelling, so the recipient counts neither as
/// ours nor as federated: the message is "untouched" and, since issue 16,
/// accepted at end of headers (end of message decided the same before).
@Suite("review: envelope recipient spellings Postfix accepts")
struct RecipientSpellingReviewTests {
    /// Spellings that Postfix's extract_addr() turns into `bob@<domain>`.
    static func spellings(_ domain: String) -> [String] {
        ["<bob@\(domain) >", "<bob@\(domain)\t>", "<bob @ \(domain)>", "<bob@ \(domain)>"]
    }

    @Test("control: the same messages with the plain spelling <bob@b.example> are refused / sealed")
    func control() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let eml = "From: CEO <ceo@a.example>\r\nTo: bob@b.example\r\nAuthentication-Results: mx.b.test; fedmail=pass\r\n\r\nplease\r\n"
        let inbound = try b.receive(MilterMessage(eml: Array(eml.utf8), sender: "<ceo@a.example>", recipients: ["<bob@b.example>"]))
        #expect(inbound.response.status == .reject)
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let outbound = try a.submit(Mail.message(to: ["bob@b.example"]))
        #expect(outbound.actions.contains { if case .replaceBody = $0 { return true } else { return false } })
    }

    @Test("inbound: plaintext forging a require partner with a forged fedmail=pass, to <bob@b.example >, is refused or at least stripped")
    func inboundForgedPassViaRecipientSpelling() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        for rcpt in Self.spellings("b.example") {
            let eml = """
                From: CEO <ceo@a.example>\r
                To: bob@b.example\r
                Subject: wire the money\r
                Authentication-Results: mx.b.test; fedmail=pass header.from=a.example policy.signer=a\r
                Message-ID: <x1@a.example>\r
                \r
                please\r

                """
            let message = MilterMessage(eml: Array(eml.utf8), sender: "<ceo@a.example>", recipients: [rcpt])
            let run = try b.receive(message)
            // What DESIGN.md promises for bob@b.example: plaintext naming a
            // require partner is refused (On-SpoofedPartner, default reject),
            // and a verdict under our authserv-id never reaches a local recipient.
            let delivered = run.isDelivered
            let forgedKept = run.result.values(of: "Authentication-Results").contains { $0.contains("mx.b.test") }
            #expect(!(delivered && forgedKept),
                    "RCPT \(rcpt.debugDescription): stage \(run.stage) \(run.response.status), actions \(run.actions): delivered to bob@b.example with the forged fedmail=pass")
            #expect(run.response.status == .reject,
                    "RCPT \(rcpt.debugDescription): a require partner's plaintext was \(run.response.status) at \(run.stage)")
        }
    }

    @Test("outbound: mail to a require partner spelled <bob@b.example > is sealed or held, never passed on in plaintext")
    func outboundUnsealedViaRecipientSpelling() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        for rcpt in Self.spellings("b.example") {
            let run = try a.submit(Mail.message(to: [], extraHeaders: []).withRecipients([rcpt]))
            let sealed = run.actions.contains { if case .replaceBody = $0 { return true } else { return false } }
            let held = run.response.status == .tempfail || run.response.status == .reject
            #expect(sealed || held,
                    "RCPT \(rcpt.debugDescription): stage \(run.stage) \(run.response.status), actions \(run.actions): leaves for b.example (require) unsealed")
        }
    }
}

extension MilterMessage {
    func withRecipients(_ recipients: [String]) -> MilterMessage {
        var copy = self
        copy.recipients = recipients
        return copy
    }
}
