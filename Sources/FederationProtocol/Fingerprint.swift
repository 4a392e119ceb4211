import Crypto
import FedMailCore
import SwiftASN1
import X509

/// Fingerprints as used in tokens and in the store.
public enum Fingerprint {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        Hex.encode(SHA256.hash(data: Array(bytes)))
    }

    /// `scf`: SHA-256 of the certificate's DER encoding.
    public static func certificate(_ certificate: Certificate) throws -> String {
        sha256Hex(try der(certificate))
    }

    /// `rkf`: SHA-256 of the DER `SubjectPublicKeyInfo`.
    public static func publicKey(_ key: Certificate.PublicKey) throws -> String {
        sha256Hex(try subjectPublicKeyInfoDER(key))
    }

    /// The DER encoding of a certificate.
    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// The DER `SubjectPublicKeyInfo` of a public key.
    public static func subjectPublicKeyInfoDER(_ key: Certificate.PublicKey) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(key)
        return serializer.serializedBytes
    }
}
