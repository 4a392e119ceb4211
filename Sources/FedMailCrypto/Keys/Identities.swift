internal import COpenSSL
import FedMailCore

/// An organization's own key with its certificate: signs outbound, decrypts inbound.
public struct OrganizationIdentity: Sendable {
    /// The private key.
    public var key: PrivateKey
    /// The certificate for `key` issued by the broker.
    public var certificate: OpenSSLCertificate

    public init(key: PrivateKey, certificate: OpenSSLCertificate) {
        self.key = key
        self.certificate = certificate
    }

    /// Loads a key file (refused when group/other accessible) and a certificate file.
    public static func load(keyPath: String, certificatePath: String) throws(CryptoError) -> OrganizationIdentity {
        let key = try PrivateKey.load(path: keyPath)
        let cert = try OpenSSLCertificate.loadOne(path: certificatePath)
        guard X509_check_private_key(cert.pointer, key.pointer) == 1 else {
            OpenSSLErrorQueue.clear()
            throw CryptoError(code: .badInput, message: "\(keyPath) is not the key of the certificate \(certificatePath)")
        }
        return OrganizationIdentity(key: key, certificate: cert)
    }
}

/// A 256-bit key shared through the broker for pop mode, with its key id (the token `jti`).
public struct ProofOfPossessionKey: Sendable, Hashable {
    /// The AES-256 key-encryption key.
    public var key: [UInt8]
    /// The key identifier put in KEKRecipientInfo.
    public var id: [UInt8]

    /// - Throws: when the key is not 32 bytes or the id is empty.
    public init(key: [UInt8], id: [UInt8]) throws(CryptoError) {
        guard key.count == 32 else { throw CryptoError(code: .badInput, message: "a PoP key must be 256 bits (got \(key.count * 8))") }
        guard !id.isEmpty else { throw CryptoError(code: .badInput, message: "a PoP key needs a key id") }
        self.key = key
        self.id = id
    }

    /// Parses a key given as 64 hex digits.
    public init(hexKey: String, id: String) throws(CryptoError) {
        guard let bytes = Hex.decode(hexKey) else { throw CryptoError(code: .badInput, message: "PoP key is not hexadecimal") }
        try self.init(key: bytes, id: Array(id.utf8))
    }
}

/// One recipient organization of a sealed message.
public enum RecipientOrganization: Sendable {
    /// Wrap the content key to the key in this certificate (a key container):
    /// RSA → KeyTrans RSAES-OAEP SHA-256, EC → KeyAgree ECDH P-256 SHA-256 KDF.
    case certificate(OpenSSLCertificate)
    /// Wrap the content key with AES-256 key wrap under a PoP key (KEKRecipientInfo).
    case proofOfPossession(ProofOfPossessionKey)

    /// Lower-case hex of the key identifier its recipientInfo carries (the
    /// certificate's subjectKeyIdentifier, or the KEK id): the `keyId` of
    /// the control part's recipient entry.
    public var keyIdentifierHex: String {
        switch self {
        case .certificate(let certificate): return Hex.encode(certificate.subjectKeyIdentifier ?? certificate.publicKeyIdentifier)
        case .proofOfPossession(let key): return Hex.encode(key.id)
        }
    }

    /// The domains a certificate is for (its dNSNames, else the domain of
    /// an rfc822Name key container); none for a PoP key.
    var certifiedDomains: [String] {
        guard case .certificate(let certificate) = self else { return [] }
        return certificate.dnsNames + certificate.emailAddresses.compactMap { address in
            address.lastIndex(of: "@").map { String(address[address.index(after: $0)...]) }
        }
    }
}
