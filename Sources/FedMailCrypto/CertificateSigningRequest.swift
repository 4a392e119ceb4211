internal import COpenSSL

/// A PKCS#10 certificate signing request for an organization key: subject
/// O and CN = organization name, subjectAltName one dNSName per mail domain.
public final class CertificateSigningRequest: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_REQ_free(pointer) }

    /// Creates and signs (SHA-256) a request.
    ///
    /// - Parameters:
    ///   - key: the organization key.
    ///   - organization: the organization name.
    ///   - domains: the mail domains served (at least one), plain DNS names.
    public static func create(key: PrivateKey, organization: String, domains: [String]) throws(CryptoError) -> CertificateSigningRequest {
        guard !organization.isEmpty else { throw CryptoError(code: .badInput, message: "organization name is empty") }
        guard !domains.isEmpty else { throw CryptoError(code: .badInput, message: "at least one domain is needed") }
        for domain in domains where !isDNSName(domain) {
            throw CryptoError(code: .badInput, message: "'\(domain)' is not a DNS domain name")
        }
        guard let req = X509_REQ_new() else { throw CryptoError.openSSL("X509_REQ_new") }
        let csr = CertificateSigningRequest(taking: req)
        guard X509_REQ_set_version(req, 0) == 1, let name = X509_NAME_new() else { throw CryptoError.openSSL("X509_REQ_set_version") }
        defer { X509_NAME_free(name) }
        for field in ["O", "CN"] {
            let bytes = Array(organization.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                throw CryptoError.openSSL("setting subject \(field)")
            }
        }
        guard X509_REQ_set_subject_name(req, name) == 1, X509_REQ_set_pubkey(req, key.pointer) == 1 else {
            throw CryptoError.openSSL("setting subject and key")
        }
        let san = domains.map { "DNS:\($0.lowercased())" }.joined(separator: ",")
        guard let ext = X509V3_EXT_conf_nid(nil, nil, NID_subject_alt_name, san) else { throw CryptoError.openSSL("subjectAltName") }
        guard let exts = fedmail_sk_X509_EXTENSION_new_null() else { X509_EXTENSION_free(ext); throw CryptoError.openSSL("stack") }
        defer { fedmail_sk_X509_EXTENSION_pop_free(exts) }
        guard fedmail_sk_X509_EXTENSION_push(exts, ext) > 0 else { X509_EXTENSION_free(ext); throw CryptoError.openSSL("stack") }
        guard X509_REQ_add_extensions(req, exts) == 1 else { throw CryptoError.openSSL("adding extensions") }
        guard X509_REQ_sign(req, key.pointer, EVP_sha256()) > 0 else { throw CryptoError.openSSL("signing request") }
        return csr
    }

    /// The request as PEM.
    public func pemEncoded() throws(CryptoError) -> [UInt8] {
        let bio = try OpenSSLBIO.memory()
        guard PEM_write_bio_X509_REQ(bio.pointer, pointer) == 1 else { throw CryptoError.openSSL("encoding request") }
        return bio.memoryContents
    }

    static func isDNSName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-") &&
                label.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        }
    }
}
