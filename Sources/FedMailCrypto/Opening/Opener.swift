internal import COpenSSL
import FedMailCore
import SystemIO
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
    /// Signer certificates parsed before, found again by their DER (one per
    /// configuration load); nil: each message's certificates are parsed anew.
    /// Only parsing is saved: every check still runs for every message.
    public var certificateCache: ParsedCertificateCache?
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
        try open(.file(path: sealedPath), outputPath: outputPath, now: now, authorize: authorize)
    }

    /// Opens a sealed message wherever its bytes are (``MessageInput``:
    /// a milter's header fields and spooled body need not be written out
    /// again), exactly as ``open(sealedPath:outputPath:now:authorize:)``.
    public func open(_ input: MessageInput, outputPath: String, now: Date = Date(),
                     authorize: (_ seal: VerifiedSeal, _ outerTokens: [FedMailTokenHeader]) throws(OpenError) -> Void)
        throws(OpenError) -> OpenedMessage {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return try OpenError.mappingLocalFailures {
            try openStages(outputPath: outputPath, now: now, authorize: authorize) { () throws in
                try SealedEnvelope.read(input, temporaryDirectory: temporaryDirectory)
            }
        }
    }

    /// Opens a sealed message already read and split (``SplitSealedMessage``,
    /// e.g. to learn whether it is ours), exactly as
    /// ``open(sealedPath:outputPath:now:authorize:)`` opens its file: every
    /// check, in the same order, from the AEAD content type on.
    public func open(split: SplitSealedMessage, outputPath: String, now: Date = Date(),
                     authorize: (_ seal: VerifiedSeal, _ outerTokens: [FedMailTokenHeader]) throws(OpenError) -> Void)
        throws(OpenError) -> OpenedMessage {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return try OpenError.mappingLocalFailures {
            try openStages(outputPath: outputPath, now: now, authorize: authorize) { () throws in try split.take() }
        }
    }

    /// The stages in order; each throws ``OpenError`` for what the message
    /// did, or a local failure that ``open(sealedPath:outputPath:now:authorize:)``
    /// maps once to ``OpenError/Code/internalError``. `readEnvelope`
    /// gives stage 1's envelope, AuthEnvelopedData with its ciphertext.
    private func openStages(outputPath: String, now: Date,
                            authorize: (_ seal: VerifiedSeal, _ outerTokens: [FedMailTokenHeader]) throws(OpenError) -> Void,
                            readEnvelope: () throws -> SealedEnvelope) throws -> OpenedMessage {
        // The original is renamed onto outputPath: never over a device, FIFO
        // or symbolic link (renaming onto /dev/null would replace it).
        var existing = stat()
        if lstat(outputPath, &existing) == 0, existing.st_mode & S_IFMT != S_IFREG {
            throw OpenError(.internalError, "\(outputPath) is not a regular file; the original is only written to a new or regular file")
        }
        var checks: [String] = []
        let verification = SignerVerification(brokerCA: brokerCA, pinnedSigners: pinnedSigners, temporaryDirectory: temporaryDirectory,
                                              certificateCache: certificateCache)
        let tokenHeaders: [FedMailTokenHeader]
        let recipient: SealedMessageSummary.Recipient
        let parts: SignerVerification.SignedParts
        do {
            // 1. The envelope without its ciphertext (small) + the ciphertext in a private file.
            let envelope = try readEnvelope()
            guard let cms = envelope.cms else { throw OpenError(.internalError, "the sealed message was not split") }
            tokenHeaders = envelope.tokenHeaders
            // 2. The recipientInfo naming one of our keys: unwrap the content key.
            recipient = try unwrapContentKey(cms)
            checks.append("recipient")
            // 3. AES-GCM, read as the signed entity is taken apart into
            // private files. The tag is checked at the end of the
            // ciphertext, before anything taken apart is used — also when
            // taking apart failed, so an altered message says so.
            let decrypted = try envelope.decryptionStream()
            do { parts = try verification.split(decrypted: decrypted) } catch {
                try decrypted.finish()
                throw error
            }
            try decrypted.finish()
        }
        checks.append("gcm-tag")

        // 4. Signature, then the signer's chain to the broker CA (or its pin).
        // `verified` holds the signed content, released only once the signature verified.
        let signer = try verification.verify(parts, now: now, checks: &checks)
        let verified = parts.content

        // 5. Inner entity: original + control part.
        let inner = try InnerEntity.read(path: verified.path)
        let control = try inner.control
        checks.append("control")

        // 6. The original, next to the output (private until authorized).
        let outputDirectory = (outputPath as NSString).deletingLastPathComponent
        let original = try PrivateTemporaryFile(directory: outputDirectory.isEmpty ? "." : outputDirectory, prefix: ".fedmail-open-")
        let originalSize = try inner.extractOriginal(from: verified.path, to: original.path, temporaryDirectory: temporaryDirectory)

        let originalHeader: MessageHeaderSection
        do { originalHeader = try MessageInput.file(path: original.path).headerSection() } catch {
            throw OpenError(.malformed, "the sealed original has no header section")
        }
        // Its fields go back to the MTA one by one, under our verdict: each
        // must read the same to every reader.
        if let ambiguous = originalHeader.ambiguousByte {
            throw OpenError(.malformed, "the sealed original's header section has \(ambiguous)")
        }
        let seal = VerifiedSeal(
            signer: VerifiedSeal.Signer(
                organization: signer.certificate.organization ?? signer.certificate.subject,
                domains: signer.certificate.dnsNames, certificateSHA256: Hex.encode(signer.certificate.sha256Fingerprint),
                pinned: signer.pinned, signingTime: Int64(signer.signingTime.timeIntervalSince1970),
                serial: signer.certificate.serialHex),
            recipientKeyID: Hex.encode(recipient.keyIdentifier), control: control,
            fromFields: originalHeader.all("From").map(\.value), senderFields: originalHeader.all("Sender").map(\.value),
            sealID: signer.signatureDigest)
        // 7. The caller's policy; nothing reaches outputPath before it passed.
        try authorize(seal, tokenHeaders)
        checks.append("policy")

        // Atomically in place. Over an existing file the two are swapped,
        // and the old one goes with `original` (a recycled work file of a
        // milter's spool stays one: no inode made or freed per message).
        let swapped: Bool
        do { swapped = try FileIO.replace(outputPath, with: original.path) } catch {
            throw OpenError(.internalError, "cannot move the original to \(outputPath): \(error.message)")
        }
        if !swapped { original.keep() }

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

    /// Opens a split sealed message with ``OpeningPolicy`` as the
    /// authorization, as ``open(sealedPath:outputPath:now:)`` does.
    public func open(split: SplitSealedMessage, outputPath: String, now: Date = Date()) throws(OpenError) -> OpenedMessage {
        let policy = standardPolicy(tokenRule: .checkedIfPresent)
        return try open(split: split, outputPath: outputPath, now: now) { seal, _ throws(OpenError) in
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
        try inspect(.file(path: sealedPath), temporaryDirectory: temporaryDirectory)
    }

    /// Reads what a sealed message shows without decrypting, wherever its
    /// bytes are (a milter's header fields and spooled body: not written out).
    public static func inspect(_ input: MessageInput, temporaryDirectory: String? = nil) throws(OpenError) -> SealedMessageSummary {
        defer { OpenSSLErrorQueue.clear() }
        return try OpenError.mappingLocalFailures {
            let envelope = try SealedEnvelope.read(input, temporaryDirectory: temporaryDirectory,
                                                   requireAEAD: false, keepContent: false)
            return SealedMessageSummary(
                contentType: envelope.contentTypeName, isAEAD: envelope.contentTypeNID == NID_id_smime_ct_authEnvelopedData,
                recipients: envelope.cms.map(RecipientInfoReader.recipients(of:)) ?? [],
                tokenHeaders: envelope.tokenHeaders, header: envelope.header)
        }
    }
}
