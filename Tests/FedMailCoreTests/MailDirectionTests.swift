import Testing
@testable import FedMailCore

@Suite("IP networks")
struct IPNetworkTests {
    @Test("IPv4 and IPv6 networks contain what they should", arguments: [
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.0/8", "127.1.2.3", true),
        ("192.0.2.0/24", "192.0.3.1", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("2001:db8::/32", "2001:db8:1::25", true),
        ("2001:db8::/32", "2001:db9::1", false),
        ("::1", "::1", true),
        ("::1", "127.0.0.1", false),
        ("[2001:db8::]/48", "2001:db8:0:ffff::1", true),
        ("0.0.0.0/0", "203.0.113.9", true),
    ])
    func contains(network: String, address: String, expected: Bool) throws {
        let net = try #require(IPNetwork(network))
        #expect(net.contains(address) == expected)
    }

    @Test("malformed networks are rejected", arguments: [
        "256.0.0.1", "1.2.3", "1.2.3.4/33", "2001:db8::/129", "2001:::1", "1:2:3:4:5:6:7:8:9", "mail.example", "", "1.2.3.4/",
    ])
    func malformed(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test("canonical description")
    func description() {
        #expect(IPNetwork("192.0.2.77/24")?.description == "192.0.2.0/24")
        #expect(IPNetwork("::1")?.description == "0:0:0:0:0:0:0:1/128")
    }
}

@Suite("Mail direction")
struct MailDirectionTests {
    let policy = DirectionPolicy(
        internalHosts: [IPNetwork("127.0.0.0/8"), IPNetwork("192.0.2.0/24")].compactMap { $0 },
        mtaNames: ["submission"],
        localDomains: Set([DomainName("a.example"), DomainName("sub.a.example")].compactMap { $0 }))

    func domains(_ names: String...) -> [DomainName] { names.compactMap { DomainName($0) } }

    @Test("authenticated, internal or MTA-listed clients send outbound")
    func outbound() {
        #expect(policy.direction(of: .init(authType: "PLAIN", clientAddress: "198.51.100.1", recipientDomains: domains("b.example"))) == .outbound)
        #expect(policy.direction(of: .init(clientAddress: "192.0.2.9", recipientDomains: domains("b.example"))) == .outbound)
        #expect(policy.direction(of: .init(clientAddress: "198.51.100.1", daemonName: "submission", recipientDomains: domains("b.example"))) == .outbound)
    }

    @Test("outbound mail only to our own domains is left alone")
    func internalOnly() {
        #expect(policy.direction(of: .init(authType: "PLAIN", recipientDomains: domains("a.example", "sub.a.example"))) == .other)
        #expect(policy.direction(of: .init(authType: "PLAIN", recipientDomains: domains("a.example", "b.example"))) == .outbound)
    }

    @Test("external clients sending to our domains are inbound; relaying is neither")
    func inbound() {
        #expect(policy.direction(of: .init(clientAddress: "198.51.100.1", daemonName: "smtpd", recipientDomains: domains("A.example"))) == .inbound)
        #expect(policy.direction(of: .init(clientAddress: "198.51.100.1", recipientDomains: domains("c.example"))) == .other)
        #expect(policy.direction(of: .init(authType: "", clientAddress: "198.51.100.1", recipientDomains: domains("a.example"))) == .inbound)
    }
}

@Suite("Authentication-Results")
struct AuthenticationResultsTests {
    @Test("field value lists each statement with quoted properties")
    func format() {
        let field = AuthenticationResults(authservID: "mx.b.example", results: [
            .init(method: "fedmail", result: "pass", properties: [("header.from", "a.example"), ("policy.org", "Org A Ltd")]),
        ])
        #expect(field.fieldValue == "mx.b.example;\n\tfedmail=pass header.from=a.example policy.org=\"Org A Ltd\"")
        #expect(AuthenticationResults(authservID: "mx", results: []).fieldValue == "mx; none")
    }

    @Test("the claimed authserv-id is read past comments and folding", arguments: [
        ("mx.b.example; fedmail=pass", "mx.b.example"),
        ("  (forged?) MX.B.Example\r\n\t; dkim=pass", "MX.B.Example"),
        ("mx.b.example 1; spf=pass", "mx.b.example"),
        ("(a comment (nested) \\) here) other.example; none", "other.example"),
    ])
    func authservID(value: String, expected: String) {
        #expect(AuthenticationResults.authservID(ofFieldValue: value) == expected)
    }

    @Test("fields claiming our id are recognized, others are not")
    func claims() {
        #expect(AuthenticationResults.fieldValue(" MX.b.example; fedmail=pass", claims: "mx.b.example"))
        #expect(!AuthenticationResults.fieldValue("mx.b.example.evil; fedmail=pass", claims: "mx.b.example"))
        #expect(!AuthenticationResults.fieldValue("(only a comment)", claims: "mx.b.example"))
    }
}
