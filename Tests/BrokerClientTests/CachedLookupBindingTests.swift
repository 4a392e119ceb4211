import FedMailCore
import FederationProtocol
import Testing
@testable import BrokerClient

/// A disk-cache entry is used only for the domain and mode it answers: a
/// file copied under another domain's name would have the milter seal that
/// domain's mail to another organization's key.
@Suite("token cache entries answer what they are filed under")
struct CachedLookupBindingTests {
    static func claims(aud: String, pop: String? = nil) -> FederationClaims {
        FederationClaims(iss: "broker", sub: "org-a", sdom: ["a.example"], scf: "00", aud: aud, rorg: "org-c", rkf: "11",
                         purpose: "smtp-federation", iat: 0, nbf: 0, exp: 100, jti: "j1", pop: pop)
    }

    @Test("c.example's answer filed under b.example, a pop answer filed as direct and the reverse are refused")
    func mismatches() {
        let forC = ValidatedLookup(domain: "c.example", status: .ok, token: "t", claims: Self.claims(aud: "c.example"), expires: 100)
        #expect(forC.answers(domain: "c.example", mode: .direct))
        #expect(!forC.answers(domain: "b.example", mode: .direct))
        var relabeled = forC
        relabeled.domain = "b.example"  // the file's own field edited too; the signed aud still says c.example
        #expect(!relabeled.answers(domain: "b.example", mode: .direct))
        let pop = ValidatedLookup(domain: "c.example", status: .ok, token: "t", claims: Self.claims(aud: "c.example", pop: "e"),
                                  expires: 100, popKey: "envelope")
        #expect(pop.answers(domain: "c.example", mode: .pop))
        #expect(!pop.answers(domain: "c.example", mode: .direct))
        #expect(!forC.answers(domain: "c.example", mode: .pop))
        let negative = ValidatedLookup(domain: "n.example", status: .notFederated, expires: 100)
        #expect(negative.answers(domain: "N.example", mode: .direct))
        #expect(!negative.answers(domain: "b.example", mode: .direct))
    }
}
