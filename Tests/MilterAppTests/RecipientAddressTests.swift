import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// What the handler does with recipient addresses whose domain is not
/// plainly written: it reads them as the MTA routes them, counts a
/// recipient without a domain as ours, and refuses what it cannot tell.
@Suite("recipient addresses at the handler")
struct RecipientAddressTests {
    static let forged = """
        From: Someone <someone@elsewhere.example>\r
        To: postmaster\r
        Subject: hello\r
        Authentication-Results: mx.b.test; fedmail=pass header.from=a.example policy.signer=a\r
        \r
        hello\r

        """

    @Test("inbound to <postmaster> (no domain, delivered locally): a forged verdict under our name is removed")
    func unqualifiedRecipientIsOurs() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let run = try b.receive(MilterMessage(eml: Array(Self.forged.utf8), sender: "<someone@elsewhere.example>",
                                              recipients: ["<postmaster>"]))
        #expect(run.response.status == .continue)
        #expect(!run.result.values(of: "Authentication-Results").contains { $0.contains("mx.b.test") })
    }

    @Test("a verdict under our name is removed whatever the recipient's domain (one the MTA delivers locally need not be in Domains)")
    func verdictRemovedForAnyRecipient() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let run = try b.receive(MilterMessage(eml: Array(Self.forged.utf8), sender: "<someone@elsewhere.example>",
                                              recipients: ["<bob@mx.b.test>"]))
        #expect(!run.result.values(of: "Authentication-Results").contains { $0.contains("mx.b.test") })
    }

    @Test("a recipient the MTA may reroute (percent hack, bang path) is refused 550 5.1.3, inbound and outbound", arguments: [
        "<bob%b.example@a.example>", "<b.example!bob>", "<bob@b.example(unterminated>",
    ])
    func unreadableRefused(recipient: String) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let outbound = try a.submit(Mail.message(to: []).withRecipients([recipient, "<carol@a.example>"]))
        #expect(outbound.response.status == .reject)
        #expect(outbound.response.replyText?.hasPrefix("550 5.1.3 ") == true, "\(outbound.response.replyText ?? "-")")
        #expect(outbound.actions.isEmpty)
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let inbound = try b.receive(MilterMessage(eml: Array(Self.forged.utf8), sender: "<someone@elsewhere.example>",
                                                  recipients: ["<bob@b.example>", recipient]))
        #expect(inbound.response.status == .reject)
    }

    @Test("outbound to a require partner written with spaces and a comment: sealed like the plain spelling")
    func spacedRecipientSealed() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let run = try a.submit(Mail.message(to: []).withRecipients(["<bob @ b.example (Bob)>"]))
        #expect(run.response.status == .continue)
        #expect(run.result.values(of: "Content-Type").first?.contains("application/pkcs7-mime") == true)
    }
}
