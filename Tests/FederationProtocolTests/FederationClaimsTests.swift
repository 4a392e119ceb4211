import FederationProtocol
import Foundation
import Testing

struct FederationClaimsTests {
    @Test func claimsUseTheDesignNames() throws {
        let claims = FederationClaims(iss: "b", sub: "s", sdom: ["s.example"], scf: "c", aud: "r.example", rorg: "r", rkf: "k",
                                      iat: 1, nbf: 1, exp: 2, jti: "j")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(claims)) as? [String: Any] ?? [:]
        #expect(Set(object.keys) == ["iss", "sub", "sdom", "scf", "aud", "rorg", "rkf", "purpose", "iat", "nbf", "exp", "jti"])
        #expect(object["purpose"] as? String == "smtp-federation")
    }
}
