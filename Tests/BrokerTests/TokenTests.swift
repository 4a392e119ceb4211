import Broker
import FederationProtocol
import FedMailCore
import Crypto
import Foundation
import JWTKit
import Testing
import X509

/// Issuance by the real broker service and validation by the real client-side validators.
struct TokenTests {
    struct Federation {
        let broker: TestBroker
        let alphaCertificate: Certificate
        let alphaKey: P256.Signing.PrivateKey
        let alphaPEM: String
        let betaCertificate: Certificate
        let betaPEM: String

        static func make() async throws -> Federation {
            let broker = try await TestBroker.make()
            let (alphaKey, alphaPEM, alphaRaw) = TestKeys.p256()
            let alpha = try await broker.enroll("alpha", key: alphaKey, keyPEM: alphaPEM, domains: ["alpha.example"])
            let (betaKey, betaPEM) = try TestKeys.rsa()
            let beta = try await broker.enroll("beta", key: betaKey, keyPEM: betaPEM, domains: ["beta.example"])
            return Federation(broker: broker, alphaCertificate: alpha, alphaKey: alphaRaw, alphaPEM: alphaPEM,
                              betaCertificate: beta, betaPEM: betaPEM)
        }

        var verifier: TokenVerifier { TokenVerifier(brokerCA: broker.service.authority.caCertificate) }

        func token(to domain: String = "beta.example", mode: FederationMode = .direct) async throws -> DomainTokenResult {
            let caller = try await broker.caller(alphaCertificate)
            let response = try await broker.service.issueTokens(for: caller, request: TokenRequest(domains: [domain], mode: mode))
            return try #require(response.results.first)
        }
    }

    @Test func issuedTokenAndContainerValidate() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let answer = try await federation.token()
        #expect(answer.status == .ok)
        let claims = try await federation.verifier.verify(try #require(answer.token), audience: "beta.example")
        #expect(claims.sub == "alpha" && claims.rorg == "beta" && claims.sdom == ["alpha.example"])
        #expect(claims.purpose == "smtp-federation" && claims.iss == "Test Broker")
        #expect(claims.scf == (try Fingerprint.certificate(federation.alphaCertificate)))
        #expect(claims.rkf == (try Fingerprint.publicKey(federation.betaCertificate.publicKey)))
        #expect(claims.exp - claims.iat == 3_600)
        let container = try await KeyContainerValidator(brokerCA: federation.broker.service.authority.caCertificate)
            .validate(try #require(answer.keyContainer), domain: "beta.example", keyFingerprint: claims.rkf)
        #expect(try container.extensions.subjectKeyIdentifier == federation.betaCertificate.extensions.subjectKeyIdentifier)
        await #expect(throws: FederationProtocolError.self) {
            _ = try await KeyContainerValidator(brokerCA: federation.broker.service.authority.caCertificate)
                .validate(try #require(answer.keyContainer), domain: "alpha.example")
        }
    }

    @Test func tamperedExpiredNotYetValidAndMisaddressedTokensAreRefused() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let token = try #require(try await federation.token().token)
        let parts = token.split(separator: ".").map(String.init)
        // payload with another audience, original signature
        var payload = try JSONSerialization.jsonObject(with: try #require(Base64URL.decode(parts[1]))) as? [String: Any] ?? [:]
        payload["aud"] = "alpha.example"
        let forgedPayload = Base64URL.encode(try JSONSerialization.data(withJSONObject: payload))
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify([parts[0], forgedPayload, parts[2]].joined(separator: "."), audience: "alpha.example")
        }
        // flipped signature byte
        var signature = try #require(Base64URL.decode(parts[2]))
        signature[5] ^= 0x01
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify([parts[0], parts[1], Base64URL.encode(signature)].joined(separator: "."), audience: "beta.example")
        }
        // expired, not yet valid, wrong audience
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify(token, audience: "beta.example", now: Date().addingTimeInterval(2 * 3_600))
        }
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify(token, audience: "beta.example", now: Date().addingTimeInterval(-3_600))
        }
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify(token, audience: "gamma.example")
        }
        // the genuine token still verifies
        _ = try await federation.verifier.verify(token, audience: "beta.example")
    }

    @Test func tokensFromAnotherBrokerOrSignedByAnOrganizationAreRefused() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let token = try #require(try await federation.token().token)
        let other = try await TestBroker.make()
        defer { Task { await other.close() } }
        await #expect(throws: FederationProtocolError.self) {
            _ = try await TokenVerifier(brokerCA: other.service.authority.caCertificate).verify(token, audience: "beta.example")
        }
        // alpha holds a certificate from the same CA; a token it signs itself must not pass.
        let now = Int64(Date().timeIntervalSince1970)
        let claims = FederationClaims(iss: "Test Broker", sub: "alpha", sdom: ["alpha.example"], scf: "x", aud: "beta.example",
                                      rorg: "beta", rkf: "y", iat: now, nbf: now, exp: now + 600, jti: "forged")
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(backing: federation.alphaKey))
        var header = JWTHeader()
        header.x5c = [try federation.alphaCertificate.serializeAsPEM().pemString]
        let forged = try await keys.sign(claims, header: header)
        await #expect(throws: FederationProtocolError.self) {
            _ = try await federation.verifier.verify(forged, audience: "beta.example")
        }
    }

    @Test func policyRevocationAndUnknownDomains() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let service = federation.broker.service
        #expect(try await federation.token(to: "nowhere.example").status == .notFederated)
        try await service.setRestricted(true, organization: "beta")
        #expect(try await federation.token().status == .denied)
        try await service.allow(sender: "alpha", to: "beta")
        #expect(try await federation.token().status == .ok)
        try await service.revoke(organization: "beta")
        #expect(try await federation.token().status == .notFederated)
        try await service.revoke(organization: "alpha")
        await #expect(throws: BrokerError.self) { _ = try await federation.broker.caller(federation.alphaCertificate) }
        let actions = try await service.store.audit(limit: 100).map(\.action)
        for action in ["enrollment.submitted", "enrollment.approved", "token.issued", "policy.restricted", "policy.allowed", "organization.revoked"] {
            #expect(actions.contains(action), "audit lacks \(action)")
        }
    }

    @Test func popKeysReachBothOrganizations() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let answer = try await federation.token(mode: .pop)
        let claims = try await federation.verifier.verify(try #require(answer.token), audience: "beta.example")
        let forSender = try PoPKeyEnvelope.open(try #require(answer.popKey), privateKeyPEM: federation.alphaPEM)
        let forRecipient = try PoPKeyEnvelope.open(try #require(claims.pop), privateKeyPEM: federation.betaPEM)
        #expect(forSender == forRecipient)
        #expect(throws: (any Error).self) { _ = try PoPKeyEnvelope.open(try #require(claims.pop), privateKeyPEM: federation.alphaPEM) }
    }

    @Test func addressContainersNameTheAddress() async throws {
        let federation = try await Federation.make()
        defer { Task { await federation.broker.close() } }
        let response = try await federation.broker.service.keyContainer(forAddress: "Jane.Doe@BETA.example")
        #expect(response.address == "Jane.Doe@beta.example")
        _ = try await KeyContainerValidator(brokerCA: federation.broker.service.authority.caCertificate)
            .validate(response.keyContainer, address: "jane.doe@beta.example")
        await #expect(throws: BrokerError.self) { _ = try await federation.broker.service.keyContainer(forAddress: "x@nowhere.example") }
        await #expect(throws: BrokerError.self) { _ = try await federation.broker.service.keyContainer(forAddress: "not-an-address") }
    }
}
