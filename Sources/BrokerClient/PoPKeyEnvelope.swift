import Crypto
import CryptoExtras
import Foundation
import X509

/// A proof-of-possession key encrypted to an organization key (pop mode).
///
/// Text form: `ALGORITHM:BASE64`, where BASE64 is standard base64 with padding.
/// - RSA keys (≥ 3072 bits): `rsa-oaep-sha256:` + RSAES-OAEP(SHA-256, MGF1-SHA-256, empty label)
///   of the 32-byte key.
/// - P-256 keys: `hpke-p256:` + enc ‖ ct, RFC 9180 base mode with DHKEM(P-256, HKDF-SHA256),
///   HKDF-SHA256, AES-256-GCM, info = `fedmail-pop-v1`, empty AAD; `enc` is the 65-byte
///   uncompressed ephemeral public key, `ct` is 32 + 16 bytes.
public enum PoPKeyEnvelope {
    static let hpkeInfo = Data("fedmail-pop-v1".utf8)
    static let rsaPrefix = "rsa-oaep-sha256:"
    static let hpkePrefix = "hpke-p256:"

    /// Encrypts `key` (32 bytes) to `publicKey`.
    public static func seal(_ key: SymmetricKey, to publicKey: Certificate.PublicKey) throws -> String {
        let raw = key.withUnsafeBytes { Data($0) }
        if let p256 = P256.Signing.PublicKey(publicKey) {
            let recipient = try P256.KeyAgreement.PublicKey(rawRepresentation: p256.rawRepresentation)
            var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: .P256_SHA256_AES_GCM_256, info: hpkeInfo)
            let ciphertext = try sender.seal(raw)
            return hpkePrefix + (sender.encapsulatedKey + ciphertext).base64EncodedString()
        }
        if _RSA.Signing.PublicKey(publicKey) != nil {
            let rsa = try _RSA.Encryption.PublicKey(derRepresentation: try Fingerprint.subjectPublicKeyInfoDER(publicKey))
            return rsaPrefix + (try rsa.encrypt(raw, padding: .PKCS1_OAEP_SHA256)).base64EncodedString()
        }
        throw BrokerClientError(.unsupportedKey, "PoP keys can be encrypted to RSA and P-256 keys only")
    }

    /// Decrypts an envelope with the organization's private key (PEM, PKCS#8 or traditional).
    public static func open(_ envelope: String, privateKeyPEM: String) throws -> SymmetricKey {
        let raw: Data
        if envelope.hasPrefix(hpkePrefix) {
            guard let bytes = Data(base64Encoded: String(envelope.dropFirst(hpkePrefix.count))), bytes.count == 65 + 48 else {
                throw BrokerClientError(.badAnswer, "malformed HPKE PoP key")
            }
            let key = try P256.KeyAgreement.PrivateKey(pemRepresentation: privateKeyPEM)
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: .P256_SHA256_AES_GCM_256, info: hpkeInfo,
                                               encapsulatedKey: bytes.prefix(65))
            raw = try recipient.open(bytes.dropFirst(65))
        } else if envelope.hasPrefix(rsaPrefix) {
            guard let bytes = Data(base64Encoded: String(envelope.dropFirst(rsaPrefix.count))) else {
                throw BrokerClientError(.badAnswer, "malformed RSA PoP key")
            }
            let key = try _RSA.Encryption.PrivateKey(pemRepresentation: privateKeyPEM)
            raw = try key.decrypt(bytes, padding: .PKCS1_OAEP_SHA256)
        } else {
            throw BrokerClientError(.badAnswer, "unknown PoP key algorithm")
        }
        guard raw.count == 32 else { throw BrokerClientError(.badAnswer, "PoP key is not 256 bits") }
        return SymmetricKey(data: raw)
    }
}
