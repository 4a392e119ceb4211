import FedMailCore
import Testing

@Suite("Organization key policy")
struct OrganizationKeyPolicyTests {
    @Test(arguments: [
        (OrganizationKeyPolicy.Key.rsa(modulusBits: 3072), true),
        (.rsa(modulusBits: 4096), true),
        (.rsa(modulusBits: 3071), false),
        (.rsa(modulusBits: 2048), false),
        (.ec(curve: .p256), true),
        (.ec(curve: .other(name: "P-384")), false),
        (.other(algorithm: "Ed25519"), false),
    ])
    func rule(key: OrganizationKeyPolicy.Key, accepted: Bool) {
        #expect(OrganizationKeyPolicy.accepts(key) == accepted)
        if let refusal = OrganizationKeyPolicy.refusal(of: key) {
            #expect(refusal.contains(OrganizationKeyPolicy.wording))
        }
    }

    @Test func wording() {
        #expect(OrganizationKeyPolicy.wording == "RSA with at least 3072 bits or EC P-256")
        #expect(OrganizationKeyPolicy.refusal(of: .rsa(modulusBits: 2048))?.hasPrefix("RSA key of 2048 bits") == true)
    }
}
