internal import COpenSSL

/// Producing the S/MIME signed entity of a sealed message: an opaque CMS
/// SignedData (`application/pkcs7-mime; smime-type=signed-data`), signed
/// in binary mode so the content keeps every byte, with the signingTime
/// signed attribute. Streams: the content is read as it is signed.
public enum CMSSigning {
    /// Signs the entity in the file at `inputPath` and writes the S/MIME
    /// signed entity (header + base64 SignedData, CRLF) to `outputPath`.
    ///
    /// `signingTime` replaces the current time in the signingTime attribute
    /// (interoperability and revocation tests only: `fedmailctl seal
    /// --signing-time`); nil signs with the current time, as gateways do.
    public static func sign(inputPath: String, outputPath: String, signer: OrganizationIdentity,
                            signingTime: Int64? = nil) throws(CryptoError) {
        let input = try OpenSSLBIO.file(inputPath, mode: "rb")
        let output = try OpenSSLBIO.file(outputPath, mode: "wb")
        try sign(from: input.pointer, to: output.pointer, signer: signer, signingTime: signingTime)
        try output.flush()
    }

    /// Signs what `input` holds (read to its end) and writes the S/MIME
    /// signed entity to `output`, as ``sign(inputPath:outputPath:signer:signingTime:)``.
    /// The caller checks its own BIOs (``CallbackBIO/check()``) and flushes `output`.
    static func sign(from input: OpaquePointer, to output: OpaquePointer, signer: OrganizationIdentity,
                     signingTime: Int64?) throws(CryptoError) {
        OpenSSLErrorQueue.clear()
        let flags = UInt32(CMS_BINARY | CMS_STREAM | CMS_PARTIAL)
        guard let cms = CMS_sign(nil, nil, nil, input, flags) else {
            throw CryptoError.openSSL("creating SignedData")
        }
        defer { CMS_ContentInfo_free(cms) }
        // SHA-256 digest; signingTime and smimeCapabilities are added by OpenSSL.
        guard let signerInfo = CMS_add1_signer(cms, signer.certificate.pointer, signer.key.pointer, EVP_sha256(), flags) else {
            throw CryptoError.openSSL("adding signer")
        }
        if let signingTime {
            // OpenSSL adds signingTime at finalization only when absent.
            guard let time = ASN1_TIME_set(nil, time_t(signingTime)) else { throw CryptoError.openSSL("signingTime") }
            defer { ASN1_TIME_free(time) }
            guard CMS_signed_add1_attr_by_NID(signerInfo, NID_pkcs9_signingTime, ASN1_STRING_type(time), time, -1) == 1 else {
                throw CryptoError.openSSL("adding signingTime")
            }
        }
        guard SMIME_write_CMS(output, cms, input, Int32(flags) | Int32(CMS_CRLFEOL)) == 1 else {
            throw CryptoError.openSSL("writing SignedData")
        }
    }
}
