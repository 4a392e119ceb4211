internal import COpenSSL
import Foundation

/// An X.509 certificate, owning its OpenSSL `X509`.
public final class OpenSSLCertificate: @unchecked Sendable {
    // Immutable after init; read-only use of X509 is thread-safe in OpenSSL 3.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    /// A new reference to an `X509` owned elsewhere.
    init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Every certificate in a PEM file, in order.
    public static func load(path: String) throws(CryptoError) -> [OpenSSLCertificate] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoError(code: .io, message: "cannot read certificate file \(path)")
        }
        return try parse(pem: [UInt8](data), source: path)
    }

    /// The first certificate of a PEM file.
    public static func loadOne(path: String) throws(CryptoError) -> OpenSSLCertificate {
        try load(path: path)[0]
    }

    /// Every certificate in PEM data (at least one).
    public static func parse(pem: [UInt8], source: String = "PEM data") throws(CryptoError) -> [OpenSSLCertificate] {
        let bio = try OpenSSLBIO.memory(pem)
        var result: [OpenSSLCertificate] = []
        while let x509 = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            result.append(OpenSSLCertificate(taking: x509))
        }
        OpenSSLErrorQueue.clear() // the read past the last certificate
        guard !result.isEmpty else { throw CryptoError(code: .badEncoding, message: "\(source) holds no PEM certificate") }
        return result
    }

    /// The PEM encoding.
    public func pemEncoded() throws(CryptoError) -> [UInt8] {
        let bio = try OpenSSLBIO.memory()
        guard PEM_write_bio_X509(bio.pointer, pointer) == 1 else { throw CryptoError.openSSL("encoding certificate") }
        return bio.memoryContents
    }

    /// The DER encoding (empty if it cannot be encoded).
    var derEncoded: [UInt8] {
        let length = i2d_X509(pointer, nil)
        guard length > 0 else { return [] }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(pointer, &cursor)
        }
        return written == length ? der : []
    }

    /// The subjectKeyIdentifier extension value, if present.
    public var subjectKeyIdentifier: [UInt8]? {
        guard let ski = X509_get0_subject_key_id(pointer) else { return nil }
        return ASN1Bytes.of(ski)
    }

    /// SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1):
    /// the key identifier FedMail uses, whatever certificate carries the key.
    public var publicKeyIdentifier: [UInt8] {
        var digest = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        guard X509_pubkey_digest(pointer, EVP_sha1(), &digest, &length) == 1 else { return [] }
        return Array(digest.prefix(Int(length)))
    }

    /// The dNSName entries of subjectAltName: the organization's mail domains, lower-cased.
    public var dnsNames: [String] {
        names(ofType: GEN_DNS)
    }

    /// The rfc822Name entries of subjectAltName (key containers for one address).
    public var emailAddresses: [String] {
        names(ofType: GEN_EMAIL)
    }

    private func names(ofType type: Int32) -> [String] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { fedmail_GENERAL_NAMES_free(names) }
        var result: [String] = []
        for i in 0..<fedmail_sk_GENERAL_NAME_num(names) {
            guard let name = fedmail_sk_GENERAL_NAME_value(names, i), name.pointee.type == type else { continue }
            guard let ia5 = name.pointee.d.ia5 else { continue }
            let bytes = ASN1Bytes.of(ia5)
            result.append(String(decoding: bytes, as: UTF8.self).lowercased())
        }
        return result
    }

    /// The subject organizationName (O), else commonName (CN).
    public var organization: String? {
        subjectEntry(NID_organizationName) ?? subjectEntry(NID_commonName)
    }

    /// The subject as a one-line string (RFC 2253 style).
    public var subject: String {
        guard let name = X509_get_subject_name(pointer), let bio = try? OpenSSLBIO.memory() else { return "" }
        X509_NAME_print_ex(bio.pointer, name, 0, fedmail_XN_FLAG_RFC2253_UTF8())
        return String(decoding: bio.memoryContents, as: UTF8.self)
    }

    /// The first subject entry with `nid`, decoded from its ASN.1 string type.
    func subjectEntry(_ nid: Int32) -> String? {
        guard let name = X509_get_subject_name(pointer) else { return nil }
        let index = X509_NAME_get_index_by_NID(name, nid, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { fedmail_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    /// The SHA-256 fingerprint of the DER certificate (as the token's `scf`/`rkf` claims use).
    public var sha256Fingerprint: [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard X509_digest(pointer, EVP_sha256(), &digest, &length) == 1 else { return [] }
        return Array(digest.prefix(Int(length)))
    }

    /// Whether the certified key is RSA.
    var publicKeyIsRSA: Bool {
        guard let key = X509_get0_pubkey(pointer) else { return false }
        return EVP_PKEY_is_a(key, "RSA") == 1
    }

    /// The certificate's notBefore, in seconds since 1970 (nil if unreadable).
    public var notBefore: Int64? {
        guard let time = X509_get0_notBefore(pointer) else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(time, &tm) == 1 else { return nil }
        return Int64(timegm(&tm))
    }

    /// Whether `date` lies within the certificate's notBefore…notAfter.
    public func isValid(at date: Date) -> Bool {
        var time = time_t(date.timeIntervalSince1970)
        guard let notBefore = X509_get0_notBefore(pointer), let notAfter = X509_get0_notAfter(pointer) else { return false }
        // X509_cmp_time: -1 when the field is before `time`, 1 after, 0 on error.
        return X509_cmp_time(notBefore, &time) == -1 && X509_cmp_time(notAfter, &time) == 1
    }

    /// Checks the certificate can be a FedMail recipient or signer: an RSA ≥
    /// 3072 or EC P-256 key and a subjectKeyIdentifier (how recipients are
    /// named). Used for static partner certificates (the allowlist's `cert=`).
    public func checkUsableForFedMail(source: String) throws(CryptoError) {
        try validateForFedMail(source: source)
    }

    /// Checks the certified key is RSA ≥ 3072 or EC P-256 and the certificate
    /// has a subjectKeyIdentifier equal to the key's SHA-1 (so recipients can
    /// be named by key).
    func validateForFedMail(source: String) throws(CryptoError) {
        guard let key = X509_get0_pubkey(pointer) else {
            throw CryptoError(code: .unsupportedCertificate, message: "\(source): certificate has no usable public key")
        }
        try PrivateKey.validate(key, source: source)
        guard subjectKeyIdentifier != nil else {
            throw CryptoError(code: .unsupportedCertificate, message: "\(source): certificate has no subjectKeyIdentifier extension")
        }
    }
}
