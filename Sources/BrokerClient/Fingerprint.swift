import Crypto
import X509
import SwiftASN1

/// Fingerprints as used in tokens and in the store.
public enum Fingerprint {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// Lower-case hexadecimal of `bytes`.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var result = ""
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0f)])
        }
        return result
    }

    /// `scf`: SHA-256 of the certificate's DER encoding.
    public static func certificate(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return sha256Hex(serializer.serializedBytes)
    }

    /// The DER `SubjectPublicKeyInfo` of a public key.
    public static func subjectPublicKeyInfoDER(_ key: Certificate.PublicKey) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(key)
        return serializer.serializedBytes
    }

    /// `rkf`: SHA-256 of the DER `SubjectPublicKeyInfo`.
    public static func publicKey(_ key: Certificate.PublicKey) throws -> String {
        sha256Hex(try subjectPublicKeyInfoDER(key))
    }
}

extension Fingerprint {
    /// The DER encoding of a certificate.
    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
