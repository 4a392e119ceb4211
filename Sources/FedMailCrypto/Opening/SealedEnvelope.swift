internal import COpenSSL
import FedMailCore
import SystemIO
import Foundation

/// The first stage of opening: a sealed message read (``MessageInput``) — the
/// outer header, and the CMS envelope split into its structure (parsed)
/// and its ciphertext (a private file).
///
/// Streaming: the base64 body is decoded and split on the fly, so only the
/// envelope's small fields are held in memory.
struct SealedEnvelope {
    var header: MessageHeaderSection
    var contentTypeNID: Int32
    var contentTypeName: String
    /// The envelope without its encryptedContent; nil for a content type
    /// that is not (Auth)EnvelopedData (only when AEAD was not required).
    var cms: CMSContentInfo?
    /// The encryptedContent octets (when asked for).
    var encryptedContent: PrivateTemporaryFile?
    /// The contentEncryptionAlgorithm and the fields after the content
    /// info, as encoded (``AEADParameters``).
    var contentEncryptionAlgorithm: [UInt8]? = nil
    var fieldsAfterContent: [[UInt8]] = []

    /// The largest outer header section read.
    static let headerLimit = SealedMessageHeaders.sectionLimit

    /// The outer `FedMail-Token` fields (unverified).
    var tokenHeaders: [FedMailTokenHeader] {
        header.all(FedMailTokenHeader.fieldName).compactMap { FedMailTokenHeader.parse(value: $0.value) }
    }

    /// Reads the sealed message at `path`.
    static func read(path: String, temporaryDirectory: String?, requireAEAD: Bool = true,
                     keepContent: Bool = true) throws -> SealedEnvelope {
        try read(.file(path: path), temporaryDirectory: temporaryDirectory, requireAEAD: requireAEAD, keepContent: keepContent)
    }

    /// Reads a sealed message.
    ///
    /// - Parameters:
    ///   - requireAEAD: refuse anything but AuthEnvelopedData (``OpenError/Code/notAEAD``).
    ///   - keepContent: write the ciphertext to ``encryptedContent`` (else it is only read over).
    /// - Throws: ``OpenError``, or a local failure (``CryptoError``) that
    ///   the caller maps once.
    static func read(_ input: MessageInput, temporaryDirectory: String?, requireAEAD: Bool = true,
                     keepContent: Bool = true) throws -> SealedEnvelope {
        let header: MessageHeaderSection
        do { header = try input.headerSection(limit: headerLimit) } catch {
            if error.code == .io { throw OpenError(.internalError, error.message) }
            throw OpenError(.malformed, "not a message: \(error.message)")
        }
        guard header.hasSeparator else { throw OpenError(.malformed, "the sealed message has no body") }
        guard let ct = header.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }),
              ct.type == "application", ct.subtype == "pkcs7-mime" || ct.subtype == "x-pkcs7-mime" else {
            throw OpenError(.malformed, "not a sealed message (Content-Type is not application/pkcs7-mime)")
        }
        if requireAEAD { try checkAEADType(ct) }
        let encoding = MIMETransferEncoding.mechanism(of: header.first("Content-Transfer-Encoding")?.value, default: "base64") ?? "unreadable"
        guard encoding == "base64" else { throw OpenError(.malformed, "Content-Transfer-Encoding \(encoding) where base64 is expected") }

        let content = keepContent ? try PrivateTemporaryFile(directory: temporaryDirectory, prefix: ".fedmail-ct-") : nil
        let accepted = requireAEAD ? [NID_id_smime_ct_authEnvelopedData] : [NID_id_smime_ct_authEnvelopedData, NID_pkcs7_enveloped]
        let split: CMSContentSplitter.Result
        do {
            // The base64 body: after the header section in the message's
            // file, or apart (a file of its own, or memory).
            var body: Int32 = -1
            defer { if body >= 0 { close(body) } }
            let output = try content.map { file throws(CryptoError) in try FileDescriptorIO.openWrite(file.path) }
            defer { if let output { close(output) } }
            do throws(BERError) {
                let source: Base64ByteSource
                switch input {
                case .file(let path), .parts(_, .file(let path, _)):
                    do throws(CryptoError) { body = try FileDescriptorIO.openRead(path) } catch { throw BERError(.io, error.message) }
                    let offset = if case .file = input { header.length } else { 0 }
                    source = try Base64ByteSource(fd: body, offset: offset, size: FileDescriptorIO.size(of: body), name: path)
                case .parts(_, .bytes(let bytes)):
                    source = Base64ByteSource(bytes: bytes)
                }
                split = try CMSContentSplitter.split(reader: BERReader(source: source), layout: .enveloped, acceptedTypes: accepted,
                                                     contentTo: output, contentName: content?.path ?? "")
            } catch {
                if error.kind == .io { throw OpenError(.internalError, error.message) }
                throw OpenError(.malformed, "the sealed CMS structure is truncated or invalid: \(error.message)")
            }
        }
        guard let structure = split.structure else {
            if requireAEAD {
                throw OpenError(.notAEAD, "CMS content type \(split.contentTypeName) refused: only AuthEnvelopedData (AES-256-GCM) is accepted")
            }
            return SealedEnvelope(header: header, contentTypeNID: split.contentTypeNID, contentTypeName: split.contentTypeName,
                                  cms: nil, encryptedContent: nil)
        }
        let bio = try OpenSSLBIO.memory(structure)
        guard let pointer = d2i_CMS_bio(bio.pointer, nil) else {
            throw OpenError(.malformed, "the CMS structure is invalid (\(OpenSSLErrorQueue.drain()))")
        }
        let cms = CMSContentInfo(taking: pointer)
        let envelope = SealedEnvelope(header: header, contentTypeNID: cms.contentTypeNID, contentTypeName: cms.contentTypeName,
                                      cms: cms, encryptedContent: content, contentEncryptionAlgorithm: split.contentEncryptionAlgorithm,
                                      fieldsAfterContent: split.fieldsAfterContent)
        if requireAEAD { try envelope.checkAEAD() }
        return envelope
    }

    /// The smime-type check of `requireAEAD`: absent or authEnveloped-data.
    static func checkAEADType(_ contentType: MIMEContentType) throws(OpenError) {
        if let smimeType = contentType.parameters["smime-type"]?.lowercased(), smimeType != "authenveloped-data" {
            throw OpenError(.notAEAD, "smime-type=\(smimeType) refused: only authEnveloped-data (AES-256-GCM) is accepted")
        }
    }

    /// What ``read(path:temporaryDirectory:requireAEAD:keepContent:)``
    /// refuses with `requireAEAD`, checked on an envelope read without it:
    /// the smime-type, the CMS content type (AuthEnvelopedData only), then
    /// its AEAD parameters (``AEADParameters``: AES-256-GCM, 16-byte tag).
    func checkAEAD() throws(OpenError) {
        if let contentType = header.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }) {
            try Self.checkAEADType(contentType)
        }
        guard cms != nil, contentTypeNID == NID_id_smime_ct_authEnvelopedData else {
            throw OpenError(.notAEAD, "CMS content type \(contentTypeName) refused: only AuthEnvelopedData (AES-256-GCM) is accepted")
        }
        try AEADParameters.check(algorithm: contentEncryptionAlgorithm, fieldsAfterContent: fieldsAfterContent)
    }

    /// The decryption of the ciphertext (as detached content), read on
    /// demand, once the content key was unwrapped into ``cms``. Its
    /// plaintext is unauthenticated until ``DecryptionStream/finish()``.
    func decryptionStream() throws -> DecryptionStream {
        guard let cms, let encryptedContent else { throw OpenError(.internalError, "the sealed message was not split") }
        return try DecryptionStream(cms: cms, contentPath: encryptedContent.path)
    }
}
