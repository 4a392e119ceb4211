import Testing
@testable import FedMailCore

/// A recipient's domain is read the way the MTA routes the RCPT argument
/// (Postfix's extract_addr and Sendmail's prescan drop white space and
/// comments), and what cannot be told is never guessed.
@Suite("recipient domains")
struct RecipientDomainTests {
    static let bExample = RecipientDomain.domain(DomainName("b.example")!)

    @Test("spellings the MTA routes to bob@b.example all give b.example", arguments: [
        "<bob@b.example>", "bob@b.example", "<Bob@B.EXAMPLE>", "<bob@b.example.>",
        "<bob@b.example >", "<bob@b.example\t>", "< bob@b.example>", "<bob @ b.example>", "<bob@ b.example>",
        "<bob@b.example(a comment)>", "<bob(x)@b.example>", "<bob@(x)b.example>", "<bob@b.example (nested (comment))>",
        "<bob@b . example>", "<\"bob smith\"@b.example>", "<\"bob@a.example\"@b.example>", "<@relay.example:bob@b.example>",
        "<bob@a.example@b.example>",
    ])
    func routed(address: String) {
        #expect(RecipientDomain(address: address) == Self.bExample, "\(address.debugDescription)")
        #expect(DomainName(ofAddress: address) == DomainName("b.example"))
    }

    @Test("a recipient without a domain is local (the MTA qualifies it with its own)", arguments: [
        "<postmaster>", "postmaster", "<bob>", "<bob >", "<\"bob smith\">",
    ])
    func unqualified(address: String) {
        #expect(RecipientDomain(address: address) == .unqualified, "\(address.debugDescription)")
        #expect(DomainName(ofAddress: address) == nil)
    }

    @Test("a local part the MTA may reroute (percent hack, bang path) or a domain that cannot be read is unreadable", arguments: [
        "<bob%b.example@a.example>", "<\"bob%b.example\"@a.example>", "<b.example!bob>", "<b.example!bob@a.example>",
        "<bob@>", "<bob@-b.example>", "<bob@b..example>", "<bob@b.example(unterminated>", "<bob@b.example)>",
        "<\"bob@b.example>", "<>", "", "<bob@b_example.com>",
    ])
    func unreadable(address: String) {
        #expect(RecipientDomain(address: address) == .unreadable, "\(address.debugDescription)")
        #expect(DomainName(ofAddress: address) == nil)
    }

    @Test("direction: an unqualified recipient makes the message ours; the facts keep the unreadable ones")
    func facts() throws {
        let policy = DirectionPolicy(internalHosts: [], mtaNames: [], localDomains: [try #require(DomainName("b.example"))])
        let untrusted = DirectionFacts(authType: nil, clientAddress: "203.0.113.5", daemonName: nil,
                                       recipients: ["<postmaster>", "<x@elsewhere.example>", "<bob%b.example@a.example>"])
        #expect(untrusted.unqualifiedRecipients == 1)
        #expect(untrusted.unreadableRecipients == ["<bob%b.example@a.example>"])
        #expect(untrusted.recipientDomains == [DomainName("elsewhere.example")!])
        #expect(policy.isForUs(untrusted))
        #expect(policy.direction(of: untrusted) == .inbound)
        let spaced = DirectionFacts(authType: nil, clientAddress: "203.0.113.5", daemonName: nil, recipients: ["<bob@b.example >"])
        #expect(policy.direction(of: spaced) == .inbound)
    }
}
