import Crypto
import CryptoExtras
import FedMailCore
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
        throw FederationProtocolError(.unsupportedKey, "PoP keys can be encrypted to RSA and P-256 keys only")
    }

    /// An organization private key parsed once (at load), to open PoP key
    /// envelopes without parsing PEM again for every message.
    public struct OpeningKey: @unchecked Sendable {
        // @unchecked: `_RSA.Encryption.PrivateKey` is not declared Sendable,
        // but it is an immutable value over BoringSSL's (Sendable) key
        // backing, and BoringSSL's private-key operations are safe to call
        // concurrently; the P-256 key is Sendable.
        enum Storage {
            case p256(P256.KeyAgreement.PrivateKey)
            case rsa(_RSA.Encryption.PrivateKey)
        }
        let storage: Storage

        /// Parses an organization private key (PEM, PKCS#8 or traditional):
        /// one the ``OrganizationKeyPolicy`` accepts.
        public init(pemRepresentation pem: String) throws {
            if let key = try? P256.KeyAgreement.PrivateKey(pemRepresentation: pem) {
                storage = .p256(key)
            } else if let key = try? _RSA.Encryption.PrivateKey(pemRepresentation: pem) {
                if let refusal = OrganizationKeyPolicy.refusal(of: .rsa(modulusBits: key.keySizeInBits)) {
                    throw FederationProtocolError(.unsupportedKey, "PoP keys are opened with the organization key: \(refusal)")
                }
                storage = .rsa(key)
            } else {
                throw FederationProtocolError(.unsupportedKey,
                                              "PoP keys are opened with the organization key, \(OrganizationKeyPolicy.wording), in PEM")
            }
        }
    }

    /// Decrypts an envelope with the organization's private key (PEM, PKCS#8 or traditional).
    /// Parses the PEM on every call: a caller that opens more than one
    /// envelope keeps an ``OpeningKey`` and calls ``open(_:privateKey:)``.
    public static func open(_ envelope: String, privateKeyPEM: String) throws -> SymmetricKey {
        try open(envelope, privateKey: OpeningKey(pemRepresentation: privateKeyPEM))
    }

    /// Decrypts an envelope with the organization's private key, parsed beforehand.
    public static func open(_ envelope: String, privateKey: OpeningKey) throws -> SymmetricKey {
        let raw: Data
        if envelope.hasPrefix(hpkePrefix) {
            guard case .p256(let key) = privateKey.storage else {
                throw FederationProtocolError(.invalid, "HPKE PoP key, but the organization key is not P-256")
            }
            guard let bytes = Data(base64Encoded: String(envelope.dropFirst(hpkePrefix.count))), bytes.count == 65 + 48 else {
                throw FederationProtocolError(.invalid, "malformed HPKE PoP key")
            }
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: .P256_SHA256_AES_GCM_256, info: hpkeInfo,
                                               encapsulatedKey: bytes.prefix(65))
            raw = try recipient.open(bytes.dropFirst(65))
        } else if envelope.hasPrefix(rsaPrefix) {
            guard case .rsa(let key) = privateKey.storage else {
                throw FederationProtocolError(.invalid, "RSA PoP key, but the organization key is not RSA")
            }
            // One RSA block of the key's size, nothing longer is even decoded.
            let encoded = envelope.utf8.count - rsaPrefix.utf8.count
            guard encoded <= (key.keySizeInBits / 8 + 2) / 3 * 4,
                  let bytes = Data(base64Encoded: String(envelope.dropFirst(rsaPrefix.count))) else {
                throw FederationProtocolError(.invalid, "malformed RSA PoP key")
            }
            raw = try key.decrypt(bytes, padding: .PKCS1_OAEP_SHA256)
        } else {
            throw FederationProtocolError(.invalid, "unknown PoP key algorithm")
        }
        guard raw.count == 32 else { throw FederationProtocolError(.invalid, "PoP key is not 256 bits") }
        return SymmetricKey(data: raw)
    }
}
