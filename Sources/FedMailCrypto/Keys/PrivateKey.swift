import FedMailCore
import SystemIO
internal import COpenSSL
import Foundation

/// The kinds of organization key FedMail accepts.
public enum KeyType: String, Sendable, CaseIterable {
    /// RSA with a 3072-bit modulus (RSA keys of ≥ 3072 bits are accepted on load).
    case rsa3072
    /// ECDSA/ECDH on NIST P-256.
    case p256
}

/// A private key (RSA ≥ 3072 or EC P-256), owning its OpenSSL `EVP_PKEY`.
public final class PrivateKey: @unchecked Sendable {
    // Immutable after init; OpenSSL EVP_PKEY is safe for concurrent read use.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// Generates a new key.
    public static func generate(_ type: KeyType) throws(CryptoError) -> PrivateKey {
        let name = type == .rsa3072 ? "RSA" : "EC"
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, name, nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw CryptoError.openSSL("EVP_PKEY_keygen_init") }
        switch type {
        case .rsa3072:
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(OrganizationKeyPolicy.minimumRSAModulusBits)) == 1 else { throw CryptoError.openSSL("setting RSA key size") }
        case .p256:
            guard EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1 else { throw CryptoError.openSSL("setting EC curve") }
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(ctx, &key) == 1, let key else { throw CryptoError.openSSL("generating \(type.rawValue) key") }
        return PrivateKey(taking: key)
    }

    /// Loads a PEM private key file, refusing it (as OpenSSH does) when it is
    /// readable or writable by group or others.
    public static func load(path: String) throws(CryptoError) -> PrivateKey {
        let pem: [UInt8]
        do { pem = try SecretFile.read(path) } catch {
            throw CryptoError(code: error.code == .insecurePermissions ? .insecureKeyFile : .io, message: error.message)
        }
        return try PrivateKey(pem: pem, source: path)
    }

    /// Parses a PEM private key (PKCS#8, traditional RSA or EC; not encrypted).
    public convenience init(pem: [UInt8], source: String = "PEM data") throws(CryptoError) {
        let bio = try OpenSSLBIO.memory(pem)
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw CryptoError.openSSL("\(source) does not hold a PEM private key", code: .badEncoding)
        }
        self.init(taking: key)
        try validate(source: source)
    }

    /// Checks the key is one the ``OrganizationKeyPolicy`` accepts.
    func validate(source: String) throws(CryptoError) {
        try Self.validate(pointer, source: source)
    }

    static func validate(_ pkey: OpaquePointer, source: String) throws(CryptoError) {
        if let refusal = OrganizationKeyPolicy.refusal(of: OrganizationKeyPolicy.Key(pkey)) {
            throw CryptoError(code: .unsupportedKey, message: "\(source): \(refusal)")
        }
    }

    /// The key type, described for people (`RSA 3072`, `EC P-256`).
    public var algorithmDescription: String {
        EVP_PKEY_is_a(pointer, "RSA") == 1 ? "RSA \(EVP_PKEY_get_bits(pointer))" : "EC P-256"
    }

    /// Whether this is an RSA key.
    public var isRSA: Bool { EVP_PKEY_is_a(pointer, "RSA") == 1 }

    /// The key as unencrypted PKCS#8 PEM.
    public func pemEncoded() throws(CryptoError) -> [UInt8] {
        let bio = try OpenSSLBIO.memory()
        guard PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw CryptoError.openSSL("encoding private key")
        }
        return bio.memoryContents
    }

    /// Writes the key as PEM to `path` with mode 0600, created or replaced
    /// atomically by a new file of the caller's (``FileIO/install(_:at:mode:owner:)``):
    /// a file or link already there is replaced, never written through.
    public func write(toPath path: String) throws(CryptoError) {
        let pem = try pemEncoded()
        try FileDescriptorIO.mapped { () throws(SystemIOError) in try FileIO.install(pem, at: path, mode: 0o600) }
    }
}
