internal import COpenSSL

/// Producing CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM and one
/// recipientInfo per recipient organization, each naming the recipient key
/// by subjectKeyIdentifier. Streams: the content is encrypted as it is
/// written (DER, indefinite length).
public enum CMSEnveloping {
    /// Encrypts the file at `inputPath` to `recipients`, writing DER to `outputPath`.
    public static func encrypt(inputPath: String, outputPath: String, recipients: [RecipientOrganization]) throws(CryptoError) {
        let envelope = try makeEnvelope(recipients: recipients)
        let input = try OpenSSLBIO.file(inputPath, mode: "rb")
        let output = try OpenSSLBIO.file(outputPath, mode: "wb")
        guard i2d_CMS_bio_stream(output.pointer, envelope.pointer, input.pointer, Int32(CMS_STREAM | CMS_BINARY)) == 1 else {
            throw CryptoError.openSSL("encrypting")
        }
        try output.flush()
    }

    /// Runs `write` with a BIO that encrypts what is written to it into
    /// `output` (the AuthEnvelopedData, DER), then ends the content: the
    /// GCM tag and the closing octets are written once `write` returned.
    static func encrypt(to output: OpaquePointer, recipients: [RecipientOrganization],
                        _ write: (_ plaintext: OpaquePointer) throws(CryptoError) -> Void) throws(CryptoError) {
        let envelope = try makeEnvelope(recipients: recipients)
        // The chain refers to the envelope until it is taken apart.
        try withExtendedLifetime(envelope) { () throws(CryptoError) in
            guard let encrypting = BIO_new_CMS(output, envelope.pointer) else { throw CryptoError.openSSL("starting encryption") }
            // What is written reaches the content in 4 KiB OCTET STRINGs, not one per write.
            guard let buffered = BIO_new(BIO_f_buffer()) else {
                OpenSSLBIO.freeFilters(from: encrypting, downTo: output)
                throw CryptoError.openSSL("BIO_new")
            }
            let top = BIO_push(buffered, encrypting) ?? buffered
            defer { OpenSSLBIO.freeFilters(from: top, downTo: output) }
            // A flush would end the content (the cipher's final block, the
            // tag), and OpenSSL's writers flush their output when they end
            // their part (SMIME_write_CMS does, before its last line end):
            // `write` gets a BIO whose flushes stop there.
            let barrier = try CallbackBIO.sink { (bytes) throws(CryptoError) in
                guard !bytes.isEmpty else { return }
                guard BIO_write(top, bytes.baseAddress, Int32(bytes.count)) == Int32(bytes.count) else {
                    throw CryptoError.openSSL("encrypting")
                }
            }
            try withExtendedLifetime(barrier) { () throws(CryptoError) in
                try write(barrier.pointer)
                try barrier.check()
            }
            // The flush runs down the chain: the cipher's final block, the tag, the end of the DER.
            guard fedmail_BIO_flush(top) == 1 else { throw CryptoError.openSSL("ending the encrypted content") }
        }
    }

    /// The AuthEnvelopedData (AES-256-GCM) with one recipientInfo per recipient organization.
    static func makeEnvelope(recipients: [RecipientOrganization]) throws(CryptoError) -> CMSContentInfo {
        guard !recipients.isEmpty else { throw CryptoError(code: .badInput, message: "no recipient organization") }
        OpenSSLErrorQueue.clear()
        guard let created = CMS_AuthEnvelopedData_create(EVP_aes_256_gcm()) else {
            throw CryptoError.openSSL("creating AuthEnvelopedData")
        }
        let envelope = CMSContentInfo(taking: created)
        let cms = envelope.pointer
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
        return envelope
    }
}
