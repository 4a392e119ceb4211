import Crypto
import CryptoExtras
import FederationProtocol
import Testing
import X509

struct PoPKeyEnvelopeTests {
    @Test func popEnvelopeRoundTripsForP256() throws {
        let key = P256.Signing.PrivateKey()
        let pop = SymmetricKey(size: .bits256)
        let envelope = try PoPKeyEnvelope.seal(pop, to: Certificate.PublicKey(key.publicKey))
        #expect(envelope.hasPrefix("hpke-p256:"))
        #expect(try PoPKeyEnvelope.open(envelope, privateKeyPEM: key.pemRepresentation) == pop)
        #expect(throws: (any Error).self) {
            _ = try PoPKeyEnvelope.open(envelope, privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation)
        }
    }

    @Test func popKeysOpenOnlyWithOrganizationKeys() throws {
        let weak = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(throws: FederationProtocolError.self) { _ = try PoPKeyEnvelope.OpeningKey(pemRepresentation: weak.pemRepresentation) }
        #expect(throws: FederationProtocolError.self) {
            _ = try PoPKeyEnvelope.OpeningKey(pemRepresentation: P384.Signing.PrivateKey().pemRepresentation)
        }
    }
}
