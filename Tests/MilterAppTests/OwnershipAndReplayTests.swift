import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Which mail is ours to open, exactly-once delivery across transactions,
/// and large bodies (t-authorship.sh scenarios 1, 3, 6, 7, 10, 11 and
/// t-postfix-milter.sh's spooled body, through Postfix).
@Suite("ownership, replay across transactions, large bodies")
struct OwnershipAndReplayTests {
    @Test("S/MIME for somebody else's key passes through B untouched (not ours to open)")
    func notOursPassesThrough() throws {
        let a = try Gateway(org: "a", allowlist: ["c.example  require  cert=c.crt"])
        var wire = Mail.relayed(try a.submit(Mail.message(to: ["carol@c.example"])))
        wire.recipients = ["<bob@b.example>"]
        let b = try Gateway(org: "b", allowlist: [])
        let run = try b.receive(wire)
        #expect(run.response == .continue)
        #expect(run.actions.isEmpty)
        #expect(run.result.bytes == wire.bytes)
    }

    @Test("plaintext with a bogus FedMail-Token for us from a non-partner: refused as a bad seal; with On-BadSeal accept delivered with fedmail=fail")
    func bogusToken() throws {
        let bogus = Mail.message(from: "x@else.example", sender: "<x@else.example>",
                                 extraHeaders: ["FedMail-Token: v=1; d=b.example; t=e30.e30.c2ln"])
        let strict = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let refused = try strict.receive(bogus)
        #expect(refused.response.status == .reject)
        #expect(refused.response.replyText?.hasPrefix("550 5.7.1 FedMail: ") == true)
        let lenient = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["On-BadSeal accept"])
        let accepted = try lenient.receive(bogus)
        #expect(accepted.response == .continue)
        #expect(accepted.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=fail") == true)
        #expect(accepted.result.body == bogus.body)
    }

    @Test("a rogue sending gateway (On-ForeignFrom accept) signing for a From that is not its own: B refuses it")
    func rogueSigner() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["On-ForeignFrom accept"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let sealed = try a.submit(Mail.message(from: "CEO <ceo@b.example>", sender: "<alice@a.example>"))
        try #require(sealed.response == .continue)
        let run = try b.receive(Mail.relayed(sealed))
        #expect(run.response.status == .reject)
        #expect(run.response.replyText?.hasPrefix("550 5.7.1 FedMail: ") == true, "\(run.response.replyText ?? "-")")
    }

    @Test("headers alone do not make a message 'already sealed': A seals it anyway and B opens it intact")
    func fakeAlreadySealed() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: [
            "FedMail-Token: v=1; d=b.example; t=e30.e30.c2ln",
            "X-Note: the next field lies",
        ])
        var tricked = original
        if let index = tricked.headers.firstIndex(where: { $0.hasName("Content-Type") }) {
            tricked.headers[index] = MilterHeaderField(name: "Content-Type", rawValue: " application/pkcs7-mime; smime-type=authEnveloped-data")
        }
        let sealed = try a.submit(tricked)
        #expect(sealed.response == .continue)
        #expect(!sealed.actions.isEmpty)
        #expect(sealed.result.body != tricked.body)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.body == tricked.body)
    }

    @Test("the same sealed copy in two transactions (the MTA split the recipient list): each recipient gets it once")
    func splitTransactions() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let sealed = Mail.relayed(try a.submit(Mail.message(to: ["bob@b.example", "bert@b.example", "babs@b.example"])))
        var first = sealed
        first.recipients = ["<bob@b.example>", "<bert@b.example>"]
        var second = sealed
        second.recipients = ["<babs@b.example>"]
        #expect(try b.receive(first).response == .continue)
        let other = try b.receive(second)
        #expect(other.response == .continue)
        #expect(other.result.recipients == ["<babs@b.example>"])
    }

    @Test("a replay with one new recipient: the recipients already served are deleted, the new one gets its copy")
    func replayWithNewRecipient() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let sealed = Mail.relayed(try a.submit(Mail.message(to: ["bob@b.example", "bert@b.example"])))
        var first = sealed
        first.recipients = ["<bob@b.example>"]
        #expect(try b.receive(first).response == .continue)
        let replay = try b.receive(sealed)
        #expect(replay.response == .continue)
        #expect(replay.actions.contains(.deleteRecipient("<bob@b.example>")))
        #expect(replay.result.recipients == ["<bert@b.example>"])
        #expect(replay.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=pass") == true)
    }

    @Test("a body far over the spool threshold: spooled at both ends, written back in chunks of at most 64 KiB, byte-exact")
    func largeBody() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], spoolThreshold: 4_096)
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], spoolThreshold: 4_096)
        var lines: [String] = []
        for index in 0..<6_000 { lines.append("line \(index): \(String(repeating: "x", count: index % 70))") }
        let body = lines.joined(separator: "\r\n") + "\r\n.\r\n..dots\r\n"
        let original = Mail.message(body: body)
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.body == original.body)
        let replacements = (sealed.actions + opened.actions).compactMap { action -> (size: Int, largest: Int)? in
            if case .replaceBody(let bytes, let largest) = action { return (bytes.count, largest) } else { return nil }
        }
        #expect(replacements.count == 2)
        // More than one chunk each way, none larger than the MTA takes, and
        // not cut small: the sealed body's blocks of whole base64 lines
        // (65,520 bytes) go as they are.
        for replacement in replacements {
            #expect(replacement.size > MilterActionRules.replacementChunkSize)
            #expect(replacement.largest <= MilterActionRules.replacementChunkSize)
            #expect(replacement.largest >= MilterActionRules.replacementChunkSize - 78)
        }
    }

    @Test("no federated recipient: the message passes untouched, no action at all")
    func untouched() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let run = try a.submit(Mail.message(to: ["nina@plain.example"]))
        // Decided from the envelope: accepted at end of headers, no body read.
        #expect(run.stage == .endOfHeaders)
        #expect(run.response == .accept)
        #expect(run.actions.isEmpty)
    }

    @Test("Mode open: outbound mail for a partner is not sealed")
    func openOnly() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["Mode open"])
        let run = try a.submit(Mail.message())
        #expect(run.stage == .endOfHeaders)
        #expect(run.response == .accept)
        #expect(run.actions.isEmpty)
    }
}
