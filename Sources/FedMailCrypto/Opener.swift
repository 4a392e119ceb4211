internal import COpenSSL
import FedMailCore
import Foundation

/// Opens sealed messages: decrypts, verifies everything DESIGN.md lists
/// and only then writes the original. On any failure nothing is written to
/// the output and every intermediate plaintext file is deleted.
///
/// Memory stays flat whatever the message size: the ciphertext and the
/// signed content stream through private files (``CMSContentSplitter``),
/// and OpenSSL decrypts and verifies them as detached content.
public struct Opener: Sendable {
    /// Our organization key(s) with certificate(s) (several during a rekey).
    public var identities: [OrganizationIdentity]
    /// PoP keys (pop mode), matched by key id.
    public var popKeys: [ProofOfPossessionKey]
    /// Pop mode, lazily: asked for the key of a KEKRecipientInfo id only
    /// when the message has one (so a PoP envelope costs a private-key
    /// operation only for a key id actually present).
    public var popKeyProvider: (@Sendable ([UInt8]) -> ProofOfPossessionKey?)?
    /// The broker CA certificate(s): the trust anchors for signers.
    public var brokerCA: [OpenSSLCertificate]
    /// Static partner certificates (the allowlist's `cert=`): a signer whose
    /// certificate is exactly one of these is accepted without a chain to
    /// the broker CA (still within its validity, for S/MIME signing). The
    /// report says so (``VerificationReport/signerPinned``); the caller
    /// checks the pinned certificate belongs to the From domain.
    public var pinnedSigners: [OpenSSLCertificate] = []
    /// The oldest signingTime accepted, relative to now (default 5 days).
    public var maxMessageAge: TimeInterval
    /// How far in the future a signingTime may be (clock skew), for the
    /// policy of ``open(sealedPath:outputPath:now:)``.
    public var allowedClockSkew: TimeInterval = 300
    /// Where private (0600) intermediate files go; `$TMPDIR` or `/tmp` when nil.
    public var temporaryDirectory: String?

    public init(identities: [OrganizationIdentity], popKeys: [ProofOfPossessionKey] = [], brokerCA: [OpenSSLCertificate],
                maxMessageAge: TimeInterval = 5 * 86400, temporaryDirectory: String? = nil) {
        self.identities = identities
        self.popKeys = popKeys
        self.brokerCA = brokerCA
        self.maxMessageAge = maxMessageAge
        self.temporaryDirectory = temporaryDirectory
    }

    /// Opens the sealed message at `sealedPath`, writing the exact original
    /// to `outputPath` only when every check passed: the cryptographic ones
    /// here (recipient, GCM tag, signature, signer chain or pin), then
    /// `authorize` with what they verified and the (unverified) outer
    /// FedMail-Token fields (the caller's ``OpeningPolicy`` run; it throws
    /// to refuse). Nothing reaches `outputPath` before
    /// `authorize` returned.
    ///
    /// - Parameter now: the time to check the chain against.
    /// - Throws: ``OpenError`` naming the failed check.
    public func open(sealedPath: String, outputPath: String, now: Date = Date(),
                     authorize: (_ seal: VerifiedSeal, _ outerTokens: [FedMailTokenHeader]) throws(OpenError) -> Void)
        throws(OpenError) -> OpenedMessage {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        // The original is renamed onto outputPath: never over a device, FIFO
        // or symbolic link (renaming onto /dev/null would replace it).
        var existing = stat()
        if lstat(outputPath, &existing) == 0, existing.st_mode & S_IFMT != S_IFREG {
            throw OpenError(.internalError, "\(outputPath) is not a regular file; the original is only written to a new or regular file")
        }
        var checks: [String] = []
        let decrypted = try internalError { () throws(CryptoError) in try PrivateTemporaryFile(directory: temporaryDirectory, prefix: "fedmail-dec") }
        let tokenHeaders: [FedMailTokenHeader]
        let recipient: SealedMessageSummary.Recipient
        do {
            // The envelope without its ciphertext (small) + the ciphertext in a private file.
            let sealed = try Self.parseSealed(path: sealedPath, temporaryDirectory: temporaryDirectory)
            guard let cms = sealed.cms, let ciphertext = sealed.encryptedContent else {
                throw OpenError(.internalError, "the sealed message was not split")
            }
            tokenHeaders = sealed.header.all(FedMailTokenHeader.fieldName).compactMap { FedMailTokenHeader.parse(value: $0.value) }

            // Recipient: find the recipientInfo naming one of our keys.
            recipient = try selectRecipientAndUnwrap(cms)
            checks.append("recipient")

            // GCM: decrypt the ciphertext file (as detached content) into a
            // private file; the tag is checked at the end, and on failure the
            // file is deleted unread.
            let input = try internalError { () throws(CryptoError) in try OpenSSLBIO.file(ciphertext.path, mode: "rb") }
            let out = try internalError { () throws(CryptoError) in try OpenSSLBIO.file(decrypted.path, mode: "wb") }
            guard CMS_decrypt(cms.pointer, nil, nil, input.pointer, out.pointer, UInt32(CMS_BINARY)) == 1 else {
                throw OpenError(.tagMismatch, "AES-GCM authentication failed: the message was altered (\(OpenSSLErrorQueue.drain()))")
            }
            try internalError { () throws(CryptoError) in try out.flush() }
        }
        checks.append("gcm-tag")

        // Signature, then the signer's chain to the broker CA. `verified`
        // holds the signed content, released only once the signature verified.
        let (signer, verified) = try verifySignature(decryptedPath: decrypted.path, now: now, checks: &checks)

        // Inner layout: original + control part.
        let layout = try Self.readLayout(path: verified.path)
        let control = try layout.control
        checks.append("control")

        // Extract the original next to the output (private until authorized).
        let outputDirectory = (outputPath as NSString).deletingLastPathComponent
        let original = try internalError { () throws(CryptoError) in
            try PrivateTemporaryFile(directory: outputDirectory.isEmpty ? "." : outputDirectory, prefix: "fedmail-open")
        }
        let originalSize = try Self.extractOriginal(from: verified.path, layout: layout, to: original.path)

        let originalHeader: MessageHeaderSection
        do { originalHeader = try Sealer.readHeaderSection(path: original.path) } catch {
            throw OpenError(.malformed, "the sealed original has no header section")
        }
        let seal = VerifiedSeal(
            signer: VerifiedSeal.Signer(
                organization: signer.certificate.organization ?? signer.certificate.subject,
                domains: signer.certificate.dnsNames, certificateSHA256: Hex.encode(signer.certificate.sha256Fingerprint),
                pinned: signer.pinned, signingTime: Int64(signer.signingTime.timeIntervalSince1970)),
            recipientKeyID: Hex.encode(recipient.keyIdentifier), control: control,
            fromFields: originalHeader.all("From").map(\.value), senderFields: originalHeader.all("Sender").map(\.value),
            sealID: signer.signatureDigest)
        try authorize(seal, tokenHeaders)
        checks.append("policy")

        guard rename(original.path, outputPath) == 0 else {
            throw OpenError(.internalError, "cannot move the original to \(outputPath): \(String(cString: strerror(errno)))")
        }
        original.keep()

        let report = VerificationReport(
            signerOrganization: seal.signer.organization,
            signerDomains: seal.signer.domains, signerSubject: signer.certificate.subject,
            signerCertificateSHA256: signer.certificate.sha256Fingerprint, signingTime: signer.signingTime,
            recipientKind: recipient.kind, recipientKeyID: seal.recipientKeyID, checks: checks,
            signerPinned: signer.pinned, sealID: seal.sealID)
        return OpenedMessage(control: control, report: report, tokenHeaders: tokenHeaders, originalSize: originalSize, seal: seal)
    }

    /// Opens with ``OpeningPolicy`` as the authorization, with no token
    /// required (tokens are the milter's, which passes its own policy to
    /// the other form): the control part must name the key we opened with,
    /// the author domains must be the signer's, each ``pinnedSigners``
    /// certificate signs exactly for the domains it names, signingTime
    /// within ``maxMessageAge``.
    public func open(sealedPath: String, outputPath: String, now: Date = Date()) throws(OpenError) -> OpenedMessage {
        let policy = standardPolicy(tokenRule: .checkedIfPresent)
        return try open(sealedPath: sealedPath, outputPath: outputPath, now: now) { seal, _ throws(OpenError) in
            let facts = OpeningFacts(seal: seal, tokens: [], envelopeSender: nil, now: Int64(now.timeIntervalSince1970))
            if case .fail(let failure) = policy.evaluate(facts) { throw OpenError(policy: failure) }
        }
    }

    /// The opening policy of a command-line open: our domains are those our
    /// certificates name, each ``pinnedSigners`` certificate is pinned for
    /// the domains it names, ``maxMessageAge`` and ``allowedClockSkew``.
    public func standardPolicy(tokenRule: OpeningPolicy.TokenRule) -> OpeningPolicy {
        var domains = Set<DomainName>()
        for identity in identities { for name in identity.certificate.dnsNames { if let d = DomainName(name) { domains.insert(d) } } }
        var pins: [DomainName: String] = [:]
        for certificate in pinnedSigners {
            let fingerprint = Hex.encode(certificate.sha256Fingerprint)
            for name in certificate.dnsNames { if let d = DomainName(name) { pins[d] = fingerprint } }
        }
        var policy = OpeningPolicy(ourDomains: domains, pins: CertificatePins(fingerprintsByDomain: pins),
                                   maxMessageAge: Int64(maxMessageAge), tokenRule: tokenRule)
        policy.allowedClockSkew = Int64(allowedClockSkew)
        return policy
    }

    /// The key identifiers of the recipientInfos of an S/MIME enveloped
    /// message (AuthEnvelopedData or EnvelopedData), read without
    /// decrypting: whether a message is for one of our keys at all.
    /// Bounded: the body streams through the BER reader once.
    public static func recipientKeyIdentifiers(sealedPath: String, temporaryDirectory: String? = nil) throws(OpenError) -> [[UInt8]] {
        try inspect(sealedPath: sealedPath, temporaryDirectory: temporaryDirectory).recipients.map(\.keyIdentifier)
    }

    /// Reads what a sealed message shows without decrypting.
    public static func inspect(sealedPath: String, temporaryDirectory: String? = nil) throws(OpenError) -> SealedMessageSummary {
        let sealed = try parseSealed(path: sealedPath, temporaryDirectory: temporaryDirectory, requireAEAD: false, keepContent: false)
        var recipients: [SealedMessageSummary.Recipient] = []
        if let cms = sealed.cms, let infos = CMS_get0_RecipientInfos(cms.pointer) {
            for i in 0..<fedmail_sk_CMS_RecipientInfo_num(infos) {
                guard let ri = fedmail_sk_CMS_RecipientInfo_value(infos, i) else { continue }
                recipients += describe(ri)
            }
        }
        OpenSSLErrorQueue.clear()
        return SealedMessageSummary(
            contentType: sealed.contentTypeName, isAEAD: sealed.contentTypeNID == NID_id_smime_ct_authEnvelopedData,
            recipients: recipients,
            tokenHeaders: sealed.header.all(FedMailTokenHeader.fieldName).compactMap { FedMailTokenHeader.parse(value: $0.value) },
            header: sealed.header)
    }

    // MARK: - parsing

    /// A sealed message read from its file: the outer header, and the CMS
    /// envelope split into its structure (parsed) and its ciphertext (a file).
    struct ParsedSealed {
        var header: MessageHeaderSection
        var contentTypeNID: Int32
        var contentTypeName: String
        /// The envelope without its encryptedContent; nil for a content type
        /// that is not (Auth)EnvelopedData (only when AEAD was not required).
        var cms: CMSContentInfo?
        /// The encryptedContent octets (when asked for).
        var encryptedContent: PrivateTemporaryFile?
    }

    /// Reads the sealed message at `path`, streaming: its base64 body is
    /// decoded and split on the fly, so only the envelope's small fields are
    /// held in memory and the ciphertext goes to a private file.
    ///
    /// - Parameters:
    ///   - requireAEAD: refuse anything but AuthEnvelopedData (``OpenError/Code/notAEAD``).
    ///   - keepContent: write the ciphertext to ``ParsedSealed/encryptedContent`` (else it is only read over).
    static func parseSealed(path: String, temporaryDirectory: String?, requireAEAD: Bool = true,
                            keepContent: Bool = true) throws(OpenError) -> ParsedSealed {
        let header: MessageHeaderSection
        do { header = try Sealer.readHeaderSection(path: path, limit: 4 << 20) } catch {
            if error.code == .io { throw OpenError(.internalError, error.message) }
            throw OpenError(.malformed, "not a message: \(error.message)")
        }
        guard header.hasSeparator else { throw OpenError(.malformed, "the sealed message has no body") }
        guard let ct = header.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }),
              ct.type == "application", ct.subtype == "pkcs7-mime" || ct.subtype == "x-pkcs7-mime" else {
            throw OpenError(.malformed, "not a sealed message (Content-Type is not application/pkcs7-mime)")
        }
        let smimeType = ct.parameters["smime-type"]?.lowercased()
        if requireAEAD, let smimeType, smimeType != "authenveloped-data" {
            throw OpenError(.notAEAD, "smime-type=\(smimeType) refused: only authEnveloped-data (AES-256-GCM) is accepted")
        }
        let encoding = header.first("Content-Transfer-Encoding")?.value.lowercased() ?? "base64"
        guard encoding == "base64" else { throw OpenError(.malformed, "Content-Transfer-Encoding \(encoding) where base64 is expected") }

        let content = keepContent
            ? try internalError { () throws(CryptoError) in try PrivateTemporaryFile(directory: temporaryDirectory, prefix: "fedmail-ct") }
            : nil
        let accepted = requireAEAD ? [NID_id_smime_ct_authEnvelopedData] : [NID_id_smime_ct_authEnvelopedData, NID_pkcs7_enveloped]
        let split: CMSContentSplitter.Result
        do {
            let input = try internalError { () throws(CryptoError) in try FileDescriptorIO.openRead(path) }
            defer { close(input) }
            var output: Int32?
            if let content {
                output = try internalError { () throws(CryptoError) in try FileDescriptorIO.openWrite(content.path) }
            }
            defer { if let output { close(output) } }
            do {
                let source = try Base64ByteSource(fd: input, offset: header.length, size: FileDescriptorIO.size(of: input), name: path)
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
            return ParsedSealed(header: header, contentTypeNID: split.contentTypeNID, contentTypeName: split.contentTypeName,
                                cms: nil, encryptedContent: nil)
        }
        let bio = try internalError { () throws(CryptoError) in try OpenSSLBIO.memory(structure) }
        guard let pointer = d2i_CMS_bio(bio.pointer, nil) else {
            throw OpenError(.malformed, "the CMS structure is invalid (\(OpenSSLErrorQueue.drain()))")
        }
        let cms = CMSContentInfo(taking: pointer)
        if requireAEAD && cms.contentTypeNID != NID_id_smime_ct_authEnvelopedData {
            throw OpenError(.notAEAD, "CMS content type \(cms.contentTypeName) refused: only AuthEnvelopedData (AES-256-GCM) is accepted")
        }
        return ParsedSealed(header: header, contentTypeNID: cms.contentTypeNID, contentTypeName: cms.contentTypeName,
                            cms: cms, encryptedContent: content)
    }

    // MARK: - recipients

    /// Finds the recipientInfo for one of our keys and unwraps the content key.
    func selectRecipientAndUnwrap(_ cms: CMSContentInfo) throws(OpenError) -> SealedMessageSummary.Recipient {
        guard let infos = CMS_get0_RecipientInfos(cms.pointer) else { throw OpenError(.malformed, "no recipientInfos") }
        var seen: [String] = []
        for i in 0..<fedmail_sk_CMS_RecipientInfo_num(infos) {
            guard let ri = fedmail_sk_CMS_RecipientInfo_value(infos, i) else { continue }
            for described in Self.describe(ri) {
                seen.append("\(described.kind) \(Hex.encode(described.keyIdentifier))")
                switch described.kind {
                case "key-trans", "key-agree":
                    guard let identity = identities.first(where: {
                        described.keyIdentifier == $0.certificate.subjectKeyIdentifier || described.keyIdentifier == $0.certificate.publicKeyIdentifier
                    }) else { continue }
                    if described.kind == "key-trans" && described.algorithm != "RSAES-OAEP" {
                        throw OpenError(.refusedAlgorithm, "key transport \(described.algorithm) refused: only RSAES-OAEP is accepted")
                    }
                    guard CMS_decrypt_set1_pkey_and_peer(cms.pointer, identity.key.pointer, identity.certificate.pointer, nil) == 1 else {
                        throw OpenError(.tagMismatch, "the content key wrapped for us does not unwrap (\(OpenSSLErrorQueue.drain()))")
                    }
                    return described
                case "kek":
                    guard let pop = popKeys.first(where: { $0.id == described.keyIdentifier })
                        ?? popKeyProvider?(described.keyIdentifier) else { continue }
                    let ok = pop.key.withUnsafeBufferPointer { key in
                        pop.id.withUnsafeBufferPointer { id in
                            CMS_decrypt_set1_key(cms.pointer, UnsafeMutablePointer(mutating: key.baseAddress), key.count,
                                                 id.baseAddress, id.count)
                        }
                    }
                    guard ok == 1 else {
                        throw OpenError(.tagMismatch, "the content key wrapped for our PoP key does not unwrap (\(OpenSSLErrorQueue.drain()))")
                    }
                    return described
                default:
                    continue
                }
            }
        }
        throw OpenError(.notForUs, "no recipientInfo for our keys (message is for: \(seen.joined(separator: ", ")))")
    }

    static func describe(_ ri: OpaquePointer) -> [SealedMessageSummary.Recipient] {
        switch CMS_RecipientInfo_type(ri) {
        case CMS_RECIPINFO_TRANS:
            var keyid: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            var issuer: OpaquePointer?
            var serial: UnsafeMutablePointer<ASN1_INTEGER>?
            CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial)
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            CMS_RecipientInfo_ktri_get0_algs(ri, nil, nil, &algor)
            let alg = ASN1Bytes.algorithmName(algor)
            return [.init(kind: "key-trans", keyIdentifier: ASN1Bytes.of(keyid), algorithm: alg.nid == NID_rsaesOaep ? "RSAES-OAEP" : alg.name)]
        case CMS_RECIPINFO_AGREE:
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            var ukm: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            CMS_RecipientInfo_kari_get0_alg(ri, &algor, &ukm)
            let alg = ASN1Bytes.algorithmName(algor).name
            guard let reks = CMS_RecipientInfo_kari_get0_reks(ri) else { return [] }
            var out: [SealedMessageSummary.Recipient] = []
            for j in 0..<fedmail_sk_CMS_RecipientEncryptedKey_num(reks) {
                guard let rek = fedmail_sk_CMS_RecipientEncryptedKey_value(reks, j) else { continue }
                var keyid: UnsafeMutablePointer<ASN1_OCTET_STRING>?
                var date: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
                var other: OpaquePointer?
                var issuer: OpaquePointer?
                var serial: UnsafeMutablePointer<ASN1_INTEGER>?
                CMS_RecipientEncryptedKey_get0_id(rek, &keyid, &date, &other, &issuer, &serial)
                out.append(.init(kind: "key-agree", keyIdentifier: ASN1Bytes.of(keyid), algorithm: alg))
            }
            return out
        case CMS_RECIPINFO_KEK:
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            var id: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            var date: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var otherID: OpaquePointer?
            var otherType: UnsafeMutablePointer<ASN1_TYPE>?
            CMS_RecipientInfo_kekri_get0_id(ri, &algor, &id, &date, &otherID, &otherType)
            return [.init(kind: "kek", keyIdentifier: ASN1Bytes.of(id), algorithm: ASN1Bytes.algorithmName(algor).name)]
        default:
            return [.init(kind: "other", keyIdentifier: [], algorithm: "unknown")]
        }
    }

    // MARK: - signature

    struct Signer {
        var certificate: OpenSSLCertificate
        var signingTime: Date
        /// Accepted as one of ``Opener/pinnedSigners`` rather than by its chain.
        var pinned: Bool
        /// SHA-256 of the SignerInfo's signature value: identifies the seal.
        var signatureDigest: [UInt8]
    }

    /// Verifies the signed entity in `decryptedPath` and the signer's chain;
    /// returns the signer and the file holding the signed content (deleted
    /// with the returned value, so on any failure it goes away unreleased).
    func verifySignature(decryptedPath: String, now: Date, checks: inout [String]) throws(OpenError) -> (Signer, PrivateTemporaryFile) {
        // The signed entity: opaque SignedData (FedMail's own), or multipart/signed (S/MIME clients, openssl cms -sign).
        let head: [UInt8] = try internalError { () throws(CryptoError) in
            let fd = try FileDescriptorIO.openRead(decryptedPath)
            defer { close(fd) }
            return try FileDescriptorIO.read(fd: fd, count: 64 * 1024, name: decryptedPath)
        }
        let entityHeader = MessageHeaderSection.parse(head)
        let entityType = entityHeader.first("Content-Type").flatMap { MIMEContentType.parse($0.value) }
        // Either way the signed content ends up alone in `content` and is
        // verified as detached content, streaming from that file.
        let content = try internalError { () throws(CryptoError) in try PrivateTemporaryFile(directory: temporaryDirectory, prefix: "fedmail-ver") }
        let signed: CMSContentInfo
        if entityHeader.hasSeparator, let entityType, entityType.mediaType == "multipart/signed" {
            guard let boundary = entityType.parameters["boundary"], !boundary.isEmpty else {
                throw OpenError(.badSignature, "multipart/signed without a boundary")
            }
            signed = try MultipartSignedEntity.split(path: decryptedPath, header: entityHeader, boundary: boundary, contentPath: content.path)
        } else {
            guard entityHeader.hasSeparator, let entityType,
                  entityType.mediaType == "application/pkcs7-mime" || entityType.mediaType == "application/x-pkcs7-mime" else {
                throw OpenError(.badSignature, "the decrypted content is not an S/MIME signed entity (no application/pkcs7-mime or multipart/signed header)")
            }
            let encoding = entityHeader.first("Content-Transfer-Encoding")?.value.lowercased() ?? "base64"
            guard encoding == "base64" else {
                throw OpenError(.badSignature, "the signed entity has Content-Transfer-Encoding \(encoding) where base64 is expected")
            }
            signed = try Self.splitSignedData(path: decryptedPath, offset: entityHeader.length, contentPath: content.path)
        }
        guard signed.contentTypeNID == NID_pkcs7_signed else {
            throw OpenError(.badSignature, "the decrypted content is \(signed.contentTypeName), not SignedData")
        }
        guard let infos = CMS_get0_SignerInfos(signed.pointer), fedmail_sk_CMS_SignerInfo_num(infos) == 1,
              let signerInfo = fedmail_sk_CMS_SignerInfo_value(infos, 0) else {
            throw OpenError(.badSignature, "the signed entity must have exactly one signer")
        }
        guard let store = X509_STORE_new() else { throw OpenError(.internalError, "X509_STORE_new") }
        defer { X509_STORE_free(store) }
        for ca in brokerCA { X509_STORE_add_cert(store, ca.pointer) }

        do {
            // The content is read through the digest from the file; nothing is copied out.
            let detached = try internalError { () throws(CryptoError) in try OpenSSLBIO.file(content.path, mode: "rb") }
            let flags = UInt32(CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_DETACHED)
            guard CMS_verify(signed.pointer, nil, store, detached.pointer, nil, flags) == 1 else {
                throw OpenError(.badSignature, "the signature does not verify (\(OpenSSLErrorQueue.drain()))")
            }
        }
        checks.append("signature")

        guard let signers = CMS_get0_signers(signed.pointer) else { throw OpenError(.badSignature, "no signer certificate in the message") }
        defer { fedmail_sk_X509_free(signers) }
        guard fedmail_sk_X509_num(signers) == 1, let signerX509 = fedmail_sk_X509_value(signers, 0) else {
            throw OpenError(.badSignature, "no signer certificate in the message")
        }
        let certificate = OpenSSLCertificate(retaining: signerX509)

        // Chain to the broker CA only (never the system store), S/MIME signing
        // purpose; or, for a pinned static partner certificate, that exact
        // certificate as its own trust anchor (validity and purpose still checked).
        let fingerprint = certificate.sha256Fingerprint
        let pinned = !fingerprint.isEmpty && pinnedSigners.contains { $0.sha256Fingerprint == fingerprint }
        let anchors: OpaquePointer
        if pinned {
            guard let pinnedStore = X509_STORE_new() else { throw OpenError(.internalError, "X509_STORE_new") }
            X509_STORE_add_cert(pinnedStore, signerX509)
            anchors = pinnedStore
        } else {
            anchors = store
        }
        defer { if pinned { X509_STORE_free(anchors) } }
        guard let ctx = X509_STORE_CTX_new() else { throw OpenError(.internalError, "X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(ctx) }
        let untrusted = pinned ? nil : CMS_get1_certs(signed.pointer)
        defer { if let untrusted { fedmail_sk_X509_pop_free(untrusted) } }
        guard X509_STORE_CTX_init(ctx, anchors, signerX509, untrusted) == 1 else { throw OpenError(.internalError, "X509_STORE_CTX_init") }
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN)
        X509_STORE_CTX_set_time(ctx, 0, time_t(now.timeIntervalSince1970))
        if pinned { X509_STORE_CTX_set_flags(ctx, UInt(X509_V_FLAG_PARTIAL_CHAIN)) }
        guard X509_verify_cert(ctx) == 1 else {
            let code = X509_STORE_CTX_get_error(ctx)
            let reason = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
            if pinned {
                throw OpenError(.signerNotChained, "signer \(certificate.subject) is a pinned partner certificate but not valid for signing: \(reason)")
            }
            throw OpenError(.signerNotChained, "signer \(certificate.subject) does not chain to the broker CA: \(reason)")
        }
        checks.append(pinned ? "signer-pinned" : "signer-chain")

        guard let signingTime = Self.signingTime(signerInfo) else {
            throw OpenError(.badSignature, "the signature has no signingTime attribute")
        }
        guard let signature = CMS_SignerInfo_get0_signature(signerInfo) else {
            throw OpenError(.badSignature, "the signature has no value")
        }
        let signatureBytes = ASN1Bytes.of(signature)
        var digest = [UInt8](repeating: 0, count: 32)
        var digestLength: UInt32 = 0
        guard !signatureBytes.isEmpty,
              EVP_Digest(signatureBytes, signatureBytes.count, &digest, &digestLength, EVP_sha256(), nil) == 1 else {
            throw OpenError(.internalError, "cannot digest the signature (\(OpenSSLErrorQueue.drain()))")
        }
        return (Signer(certificate: certificate, signingTime: signingTime, pinned: pinned,
                       signatureDigest: Array(digest.prefix(Int(digestLength)))), content)
    }

    /// Splits the base64 SignedData body (from `offset`) of an opaque S/MIME
    /// signed entity, streaming: eContent to `contentPath`, the SignedData
    /// without it parsed and returned.
    static func splitSignedData(path: String, offset: Int, contentPath: String) throws(OpenError) -> CMSContentInfo {
        let split: CMSContentSplitter.Result
        do {
            let input = try internalError { () throws(CryptoError) in try FileDescriptorIO.openRead(path) }
            defer { close(input) }
            let output = try internalError { () throws(CryptoError) in try FileDescriptorIO.openWrite(contentPath) }
            defer { close(output) }
            do {
                let source = try Base64ByteSource(fd: input, offset: offset, size: FileDescriptorIO.size(of: input), name: path)
                split = try CMSContentSplitter.split(reader: BERReader(source: source), layout: .signed, acceptedTypes: [NID_pkcs7_signed],
                                                     contentTo: output, contentName: contentPath)
            } catch {
                if error.kind == .io { throw OpenError(.internalError, error.message) }
                throw OpenError(.malformed, "the signed entity is not a valid CMS structure: \(error.message)")
            }
        }
        guard let structure = split.structure else {
            throw OpenError(.badSignature, "the decrypted content is \(split.contentTypeName), not SignedData")
        }
        let bio = try internalError { () throws(CryptoError) in try OpenSSLBIO.memory(structure) }
        guard let pointer = d2i_CMS_bio(bio.pointer, nil) else {
            throw OpenError(.malformed, "the signed entity is not a valid CMS SignedData (\(OpenSSLErrorQueue.drain()))")
        }
        return CMSContentInfo(taking: pointer)
    }

    static func signingTime(_ si: OpaquePointer) -> Date? {
        let index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)
        guard index >= 0, let attribute = CMS_signed_get_attr(si, index),
              let value = X509_ATTRIBUTE_get0_type(attribute, 0) else { return nil }
        let type = value.pointee.type
        guard type == V_ASN1_UTCTIME || type == V_ASN1_GENERALIZEDTIME, let time = value.pointee.value.utctime else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(time, &tm) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }

    // MARK: - inner entity

    struct InnerLayout {
        var entity: SealedInnerEntityLayout
        var originalEnd: Int
        var controlJSON: [UInt8]

        var control: ControlFlags {
            get throws(OpenError) {
                do {
                    let flags = try JSONDecoder().decode(ControlFlags.self, from: Data(controlJSON))
                    guard flags.v == 1 else { throw OpenError(.malformed, "control part version \(flags.v) is not supported") }
                    return flags
                } catch let error as OpenError { throw error } catch {
                    throw OpenError(.malformed, "the control part is not valid control JSON: \(error)")
                }
            }
        }
    }

    static func readLayout(path: String) throws(OpenError) -> InnerLayout {
        let fd = try internalError { () throws(CryptoError) in try FileDescriptorIO.openRead(path) }
        defer { close(fd) }
        let head = try internalError { () throws(CryptoError) in try FileDescriptorIO.read(fd: fd, count: 256 * 1024, name: path) }
        let entity: SealedInnerEntityLayout
        do { entity = try SealedInnerEntityLayout.parse(head: head) } catch {
            throw OpenError(.malformed, "the signed content is not a sealed message: \(error.message)")
        }
        // Stream from the start of the original for "\n--boundary".
        let searchStart = max(0, entity.originalOffset - 1)
        guard lseek(fd, off_t(searchStart), SEEK_SET) >= 0 else { throw OpenError(.internalError, "seek") }
        var scanner = PatternScanner(pattern: Array("\n--\(entity.boundary)".utf8))
        var fed = 0
        while scanner.match == nil {
            let chunk = try internalError { () throws(CryptoError) in try FileDescriptorIO.read(fd: fd, count: FileDescriptorIO.chunkSize, name: path) }
            if chunk.isEmpty { break }
            scanner.feed(chunk)
            fed += chunk.count
        }
        guard let match = scanner.match else { throw OpenError(.malformed, "the original part is not closed by a delimiter") }
        let lfOffset = searchStart + match
        var end = lfOffset
        if end > entity.originalOffset {
            // The CR before the LF also belongs to the delimiter.
            guard lseek(fd, off_t(end - 1), SEEK_SET) >= 0 else { throw OpenError(.internalError, "seek") }
            let previous = try internalError { () throws(CryptoError) in try FileDescriptorIO.read(fd: fd, count: 1, name: path) }
            if previous == [13] { end -= 1 }
        }
        end = max(end, entity.originalOffset)
        let afterDelimiter = lfOffset + 1 + 2 + entity.boundary.utf8.count
        guard lseek(fd, off_t(afterDelimiter), SEEK_SET) >= 0 else { throw OpenError(.internalError, "seek") }
        let tail = try internalError { () throws(CryptoError) in try FileDescriptorIO.read(fd: fd, count: 1 << 20, name: path) }
        let json: [UInt8]
        do { json = try SealedInnerEntityLayout.parseControlPart(tail: tail, boundary: entity.boundary) } catch {
            throw OpenError(.malformed, "the control part is missing or malformed: \(error.message)")
        }
        return InnerLayout(entity: entity, originalEnd: end, controlJSON: json)
    }

    static func extractOriginal(from path: String, layout: InnerLayout, to outputPath: String) throws(OpenError) -> Int {
        let length = layout.originalEnd - layout.entity.originalOffset
        let input = try internalError { () throws(CryptoError) in try FileDescriptorIO.openRead(path) }
        defer { close(input) }
        let output = try internalError { () throws(CryptoError) in try FileDescriptorIO.openWrite(outputPath) }
        defer { close(output) }
        if layout.entity.originalTransferEncoding == "base64" {
            let encoded = try internalError { () throws(CryptoError) in try PrivateTemporaryFile(prefix: "fedmail-b64") }
            let encodedFD = try internalError { () throws(CryptoError) in try FileDescriptorIO.openWrite(encoded.path) }
            defer { close(encodedFD) }
            try internalError { () throws(CryptoError) in
                try FileDescriptorIO.copy(from: input, offset: layout.entity.originalOffset, length: length, to: encodedFD, name: path)
            }
            let readBack = try internalError { () throws(CryptoError) in try FileDescriptorIO.openRead(encoded.path) }
            defer { close(readBack) }
            do { try Base64Stream.decode(input: readBack, offset: 0, to: output, inputName: encoded.path, outputName: outputPath) } catch {
                throw OpenError(.malformed, "the original part is not valid base64: \(error.message)")
            }
            return FileDescriptorIO.size(of: outputPath) ?? 0
        }
        try internalError { () throws(CryptoError) in
            try FileDescriptorIO.copy(from: input, offset: layout.entity.originalOffset, length: length, to: output, name: path)
        }
        return length
    }
}

/// Runs a local operation, turning its ``CryptoError`` into ``OpenError/Code/internalError``.
func internalError<T>(_ body: () throws(CryptoError) -> T) throws(OpenError) -> T {
    do { return try body() } catch { throw OpenError(.internalError, error.message) }
}
