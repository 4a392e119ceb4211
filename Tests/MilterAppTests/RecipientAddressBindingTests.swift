import FedMailCore
import FederationProtocol
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// A sealed copy is opened only for the envelope recipients it was sealed
/// for (their digests are in the signed control part). Before, anyone who
/// took a sealed copy off the wire could send it again to any other mailbox
/// of the recipient organization (their own, a list) and have it opened
/// there under `fedmail=pass`: the replay cache only refuses a recipient
/// served before. (Second review, 2026-12-07, R1.)
@Suite("recipient address binding")
struct RecipientAddressBindingTests {
    static func gateways() throws -> (Gateway, Gateway) {
        (try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"]),
         try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"]))
    }

    @Test("a copy sealed for bob, sent again to other mailboxes at B: refused recipient-address, never a pass",
          arguments: [["<ceo@b.example>"], ["<ceo@b.example>", "<all-staff@b.example>"], ["<bob@b.example>", "<eve@b.example>"],
                      ["<postmaster>"]])
    func redirectedCopy(recipients: [String]) throws {
        let (a, b) = try Self.gateways()
        let sealed = try a.submit(Mail.message(to: ["bob@b.example"]))
        try #require(sealed.response == .continue)
        var wire = Mail.relayed(sealed)
        wire.recipients = recipients
        let run = try b.receive(wire)
        #expect(run.response.status == .reject)
        #expect(run.response.replyText == "550 5.7.1 FedMail: recipient-address", "\(run.response.replyText ?? "-")")
        #expect(!run.result.values(of: "Authentication-Results").contains { $0.contains("fedmail=pass") })
    }

    @Test("the recipients it was sealed for, in any spelling the MTA routes alike, and any subset of them: opened",
          arguments: [["<bob@b.example>"], ["<Bob@B.Example>"], ["<bob@b.example >"], ["<carol@b.example>"],
                      ["<carol@b.example>", "<bob@b.example>"]])
    func listedRecipients(recipients: [String]) throws {
        let (a, b) = try Self.gateways()
        let original = Mail.message(to: ["bob@b.example", "carol@b.example"])
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        var wire = Mail.relayed(sealed)
        wire.recipients = recipients
        let run = try b.receive(wire)
        #expect(run.response == .continue)
        #expect(run.result.values(of: "Authentication-Results").first?.contains("fedmail=pass") == true)
        #expect(run.result.body == original.body)
    }

    @Test("the control part lists digests, not the addresses")
    func digestsNotAddresses() throws {
        let salt = RecipientAddressBinding.newSalt()
        let digest = try #require(RecipientAddressBinding.digest(of: "<bob@b.example>", salt: salt))
        #expect(digest.count == 32 && !digest.contains("bob"))
        #expect(RecipientAddressBinding.digest(of: "<BOB@b.EXAMPLE>", salt: salt) == digest)
        #expect(RecipientAddressBinding.digest(of: "<bob @ b.example>", salt: salt) == digest)
        #expect(RecipientAddressBinding.digest(of: "<bob@b.example>", salt: RecipientAddressBinding.newSalt()) != digest)
        #expect(RecipientAddressBinding.digest(of: "<bob2@b.example>", salt: salt) != digest)
        #expect(RecipientAddressBinding.digest(of: "<postmaster>", salt: salt) == nil)
    }
}

extension RecipientAddressBindingTests {
    /// A hop that converts an internationalized domain to its ASCII form
    /// (or a client that writes it decomposed) must not make B refuse the
    /// mail: the digest is over the domain's canonical form, as the replay
    /// cache and the in-doubt store spell it. (Second review, 2026-12-07.)
    @Test("an internationalized domain in any of its spellings has one digest")
    func internationalizedDomain() throws {
        let salt = RecipientAddressBinding.newSalt()
        let unicode = try #require(RecipientAddressBinding.digest(of: "<bob@bücher.example>", salt: salt))
        #expect(RecipientAddressBinding.digest(of: "<bob@xn--bcher-kva.example>", salt: salt) == unicode)
        #expect(RecipientAddressBinding.digest(of: "<bob@bu\u{0308}cher.example>", salt: salt) == unicode)
        #expect(RecipientAddressBinding.digest(of: "<bob@BÜCHER.example>", salt: salt) == unicode)
        #expect(RecipientAddressBinding.digest(of: "<bob@bucher.example>", salt: salt) != unicode)
    }
}
