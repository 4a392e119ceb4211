import Testing
@testable import FedMailCore

// Red-team finding (second round, on 939e20a): from-names-partner looks
// only for `require` partners of the allowlist, and our own domains are
// never in it. Any user of any enrolled organization A seals
//   From: "ceo@b.example" <mallory@a.example>
// to B and B's users get their own CEO's address on screen with
// fedmail=pass above it. FAILS on the code as reviewed.

@Suite("red team: a sealed From naming our own domain")
struct RedTeamOwnDomainTests {
    @Test("a display name or comment naming one of our own domains does not pass")
    func ownDomainInDisplayName() {
        var policy = OpeningPolicy(ourDomains: [DomainName("b.example")!], maxMessageAge: 5 * 86_400)
        policy.allowlist = (try? FederationAllowlist(parsing: "a.example require\n", path: "allow")) ?? .empty
        func verdict(_ from: String) -> String {
            let seal = VerifiedSeal(
                signer: .init(organization: "Org A", domains: ["a.example"], certificateSHA256: "ab12", pinned: false, signingTime: 999_500),
                recipientKeyID: "cafe", control: ControlFlags(tokens: ["t1"], recipients: [.init(keyId: "cafe", domains: ["b.example"])]),
                fromFields: [from], senderFields: [], sealID: [1])
            let token = VerifiedTokenClaims(aud: "b.example", purpose: "smtp-federation", sub: "Org A", sdom: ["a.example"],
                                            scf: "ab12", iat: 999_000, nbf: 999_000, exp: 1_003_600, jti: "t1")
            switch policy.evaluate(OpeningFacts(seal: seal, tokens: [.verified(token)], envelopeSender: nil, now: 1_000_000)) {
            case .pass: return "pass"
            case .fail(let failure): return failure.check.name
            }
        }
        #expect(verdict("Mallory <mallory@a.example>") == "pass")
        #expect(verdict("\"ceo@b.example\" <mallory@a.example>") != "pass")
        #expect(verdict("mallory@a.example (ceo@b.example)") != "pass")
    }
}
