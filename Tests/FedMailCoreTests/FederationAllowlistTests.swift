import Testing
@testable import FedMailCore

@Suite("Federation allowlist")
struct FederationAllowlistTests {
    static let sample = """
    # domain              policy          options
    partner.example       require         trust=virus-scan,spam-scan
    *.subsidiary.example  opportunistic
    legacy.example        never
    other.example         require         mode=pop broker=eu
    *.example             opportunistic   # catch-all for the tests
    exact.subsidiary.example never
    Bücher.Example        require         cert=/etc/fedmail/buecher.pem
    """

    func domain(_ text: String) throws -> DomainName { try #require(DomainName(text)) }

    @Test("the DESIGN.md example parses with its options")
    func parsesOptions() throws {
        let list = try FederationAllowlist(parsing: Self.sample, path: "allow")
        #expect(list.entries.count == 7)
        let partner = try #require(list.entry(for: domain("partner.example")))
        #expect(partner.policy == .require)
        #expect(partner.trust == [.virusScan, .spamScan])
        #expect(partner.mode == .direct)
        let other = try #require(list.entry(for: domain("OTHER.example.")))
        #expect(other.mode == .pop)
        #expect(other.broker == "eu")
        #expect(other.line == 5)
    }

    @Test("exact entries beat wildcards, longer wildcards beat shorter ones")
    func precedence() throws {
        let list = try FederationAllowlist(parsing: Self.sample, path: "allow")
        #expect(list.entry(for: try domain("exact.subsidiary.example"))?.policy == .never)
        #expect(list.entry(for: try domain("a.subsidiary.example"))?.line == 3)
        #expect(list.entry(for: try domain("b.a.subsidiary.example"))?.line == 3)
        // The wildcard does not cover the parent itself; the catch-all does.
        #expect(list.entry(for: try domain("subsidiary.example"))?.line == 6)
        #expect(list.entry(for: try domain("legacy.example"))?.policy == .never)
        #expect(list.entry(for: try domain("unlisted.org")) == nil)
    }

    @Test("IDNs compare in A-label form, whichever form was written")
    func idn() throws {
        let list = try FederationAllowlist(parsing: Self.sample, path: "allow")
        let aLabel = try domain("xn--bcher-kva.example")
        #expect(list.entry(for: aLabel)?.certificatePath == "/etc/fedmail/buecher.pem")
        #expect(try domain("BÜCHER.example") == aLabel)
        #expect(DomainName("münchen.de")?.value == "xn--mnchen-3ya.de")
        #expect(DomainName("例え.jp")?.value == "xn--r8jz45g.jp")
    }

    @Test("malformed lines are errors naming their line", arguments: [
        ("partner.example", 1, "needs a policy"),
        ("ok.example require\nbad_domain! require", 2, "not a valid domain"),
        ("a.example maybe", 1, "unknown policy 'maybe'"),
        ("a.example require trust=everything", 1, "unknown trust flag"),
        ("a.example require mode=weird", 1, "unknown mode"),
        ("a.example require color=blue", 1, "unknown option 'color'"),
        ("a.example require trust", 1, "must be name=value"),
        ("a.example require\n\nA.EXAMPLE never", 3, "already listed on line 1"),
        ("*.*.example require", 1, "not a valid wildcard"),
        ("a.*.example require", 1, "not a valid domain"),
        ("a.example never mode=pop", 1, "takes no mode="),
        ("a.example require mode=pop mode=direct", 1, "given twice"),
        ("a.example require cert=a.pem mode=pop", 1, "cert= (a static partner certificate, no broker) takes no mode="),
        ("a.example require cert=a.pem broker=eu", 1, "takes no mode= or broker="),
    ])
    func errors(text: String, line: Int, fragment: String) {
        do {
            _ = try FederationAllowlist(parsing: text, path: "/etc/fedmail/allowlist")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("/etc/fedmail/allowlist:\(line): "))
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test("cert= paths are taken as written when absolute, else next to the allowlist")
    func certificatePaths() throws {
        let text = "a.example require cert=partners/a.pem\nb.example opportunistic cert=/srv/b.pem\n"
        let list = try FederationAllowlist(parsing: text, path: "/etc/fedmail/federation-allowlist")
        #expect(list.entry(for: try domain("a.example"))?.certificatePath == "/etc/fedmail/partners/a.pem")
        #expect(list.entry(for: try domain("b.example"))?.certificatePath == "/srv/b.pem")
        let local = try FederationAllowlist(parsing: text, path: "allowlist")
        #expect(local.entry(for: try domain("a.example"))?.certificatePath == "./partners/a.pem")
    }

    @Test("domain names: canonical form and invalid names")
    func domainNames() throws {
        #expect(DomainName("Example.ORG.")?.value == "example.org")
        #expect(DomainName(ofAddress: "<Alice@Mail.Example.org>")?.value == "mail.example.org")
        #expect(DomainName(ofAddress: "no-at-sign") == nil)
        #expect(DomainName("") == nil)
        #expect(DomainName("a..b") == nil)
        #expect(DomainName("-a.example") == nil)
        #expect(DomainName(String(repeating: "a", count: 64) + ".example") == nil)
        #expect(try domain("mail.example.org").isSubdomain(of: try domain("example.org")))
        #expect(!(try domain("badexample.org").isSubdomain(of: try domain("example.org"))))
    }
}
