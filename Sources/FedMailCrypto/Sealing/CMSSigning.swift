internal import COpenSSL

/// Producing the S/MIME signed entity of a sealed message: an opaque CMS
/// SignedData (`application/pkcs7-mime; smime-type=signed-data`), signed
/// in binary mode so the content keeps every byte, with the signingTime
/// signed attribute. Streams from file to file.
public enum CMSSigning {
    /// Signs the entity in the file at `inputPath` and writes the S/MIME
    /// signed entity (header + base64 SignedData, CRLF) to `outputPath`.
    public static func sign(inputPath: String, outputPath: String, signer: OrganizationIdentity) throws(CryptoError) {
        OpenSSLErrorQueue.clear()
        let input = try OpenSSLBIO.file(inputPath, mode: "rb")
        let flags = UInt32(CMS_BINARY | CMS_STREAM | CMS_PARTIAL)
        guard let cms = CMS_sign(nil, nil, nil, input.pointer, flags) else {
            throw CryptoError.openSSL("creating SignedData")
        }
        defer { CMS_ContentInfo_free(cms) }
        // SHA-256 digest; signingTime and smimeCapabilities are added by OpenSSL.
        guard CMS_add1_signer(cms, signer.certificate.pointer, signer.key.pointer, EVP_sha256(), flags) != nil else {
            throw CryptoError.openSSL("adding signer")
        }
        let output = try OpenSSLBIO.file(outputPath, mode: "wb")
        guard SMIME_write_CMS(output.pointer, cms, input.pointer, Int32(flags) | Int32(CMS_CRLFEOL)) == 1 else {
            throw CryptoError.openSSL("writing SignedData")
        }
        try output.flush()
    }
}
