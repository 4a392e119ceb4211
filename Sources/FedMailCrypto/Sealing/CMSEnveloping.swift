internal import COpenSSL

/// Producing CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM and one
/// recipientInfo per recipient organization, each naming the recipient key
/// by subjectKeyIdentifier. Streams from file to file (DER).
public enum CMSEnveloping {
    /// Encrypts the file at `inputPath` to `recipients`, writing DER to `outputPath`.
    public static func encrypt(inputPath: String, outputPath: String, recipients: [RecipientOrganization]) throws(CryptoError) {
        guard !recipients.isEmpty else { throw CryptoError(code: .badInput, message: "no recipient organization") }
        OpenSSLErrorQueue.clear()
        guard let cms = CMS_AuthEnvelopedData_create(EVP_aes_256_gcm()) else {
            throw CryptoError.openSSL("creating AuthEnvelopedData")
        }
        defer { CMS_ContentInfo_free(cms) }
        for recipient in recipients {
            switch recipient {
            case .certificate(let cert):
                try cert.validateForFedMail(source: "recipient certificate \(cert.subject)")
                let flags = UInt32(CMS_USE_KEYID | CMS_KEY_PARAM | CMS_BINARY)
                guard let ri = CMS_add1_recipient(cms, cert.pointer, nil, nil, flags) else {
                    throw CryptoError.openSSL("adding recipient \(cert.subject)")
                }
                guard let pctx = CMS_RecipientInfo_get0_pkey_ctx(ri) else {
                    throw CryptoError.openSSL("recipient key context")
                }
                switch CMS_RecipientInfo_type(ri) {
                case CMS_RECIPINFO_TRANS:
                    guard EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) == 1,
                          EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) == 1,
                          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 else {
                        throw CryptoError.openSSL("setting RSAES-OAEP SHA-256")
                    }
                case CMS_RECIPINFO_AGREE:
                    guard EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) == 1 else {
                        throw CryptoError.openSSL("setting ECDH SHA-256 KDF")
                    }
                default:
                    throw CryptoError(code: .unsupportedCertificate, message: "recipient \(cert.subject): unsupported key type")
                }
            case .proofOfPossession(let pop):
                // CMS takes ownership of both buffers (OPENSSL_malloc'd).
                guard let key = fedmail_OPENSSL_malloc(pop.key.count), let id = fedmail_OPENSSL_malloc(pop.id.count) else {
                    throw CryptoError.openSSL("allocating KEK")
                }
                pop.key.withUnsafeBytes { key.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                pop.id.withUnsafeBytes { id.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                guard CMS_add0_recipient_key(cms, NID_id_aes256_wrap,
                                             key.assumingMemoryBound(to: UInt8.self), pop.key.count,
                                             id.assumingMemoryBound(to: UInt8.self), pop.id.count,
                                             nil, nil, nil) != nil else {
                    OPENSSL_cleanse(key, pop.key.count)
                    CRYPTO_free(key, #file, #line)
                    CRYPTO_free(id, #file, #line)
                    throw CryptoError.openSSL("adding PoP recipient")
                }
            }
        }
        let input = try OpenSSLBIO.file(inputPath, mode: "rb")
        let output = try OpenSSLBIO.file(outputPath, mode: "wb")
        guard i2d_CMS_bio_stream(output.pointer, cms, input.pointer, Int32(CMS_STREAM | CMS_BINARY)) == 1 else {
            throw CryptoError.openSSL("encrypting")
        }
        try output.flush()
    }
}
