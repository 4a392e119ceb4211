internal import COpenSSL
import FedMailCore
import SystemIO
import Foundation

/// The third stage of opening: the decrypted content is an S/MIME signed
/// entity; its signature is verified (streaming the signed content from a
/// file) and then its signer: a chain to the broker CA only (never the
/// system store) for S/MIME signing, or one of the pinned static partner
/// certificates as its own trust anchor (validity and purpose still checked).
/// A broker-issued signer must also say emailProtection in its
/// extendedKeyUsage (as every organization certificate does), so no other
/// certificate of the broker's CA can sign mail.
struct SignerVerification {
    /// The broker CA certificate(s).
    var brokerCA: [OpenSSLCertificate]
    /// Static partner certificates (the allowlist's `cert=`).
    var pinnedSigners: [OpenSSLCertificate]
    /// Where the signed content goes while it is verified.
    var temporaryDirectory: String?
    /// Certificates parsed before (nil: each message's are parsed anew).
    var certificateCache: ParsedCertificateCache? = nil

    /// The verified signer.
    struct Signer {
        var certificate: OpenSSLCertificate
        var signingTime: Date
        /// Accepted as one of ``Opener/pinnedSigners`` rather than by its chain.
        var pinned: Bool
        /// SHA-256 of the SignerInfo's signature value: identifies the seal.
        var signatureDigest: [UInt8]
    }

    /// The most of the signed entity's head read to find its header.
    static let entityHeadLimit = 64 * 1024

    /// The signed entity taken apart: its SignedData (without the content)
    /// and the file holding the signed content (deleted with this value, so
    /// on any failure it goes away unreleased).
    struct SignedParts {
        var signed: CMSContentInfo
        /// FedMail's own SignedData: the DER of its certificates, apart
        /// from the structure (parsed in ``verify(_:now:checks:)``, once the
        /// tag verified, each once per configuration load); nil when they
        /// stayed in the structure, as in multipart/signed.
        var certificates: [[UInt8]]?
        var content: PrivateTemporaryFile
    }

    /// Reads the decrypted signed entity from `decrypted` to its end and
    /// takes it apart — opaque SignedData (FedMail's own) is split as it
    /// is decrypted; multipart/signed (S/MIME clients, openssl cms -sign)
    /// goes through a private file first. Nothing here is authentic: the
    /// caller checks the GCM tag (``DecryptionStream/finish()``) before
    /// ``verify(_:now:checks:)``, and on failure too.
    func split(decrypted: DecryptionStream) throws -> SignedParts {
        var head: [UInt8] = []
        while head.count < Self.entityHeadLimit {
            let piece = try decrypted.read(maxCount: Self.entityHeadLimit - head.count)
            if piece.isEmpty { break }
            head += piece
        }
        let entityHeader = MessageHeaderSection.parse(head)
        let entityType = entityHeader.first("Content-Type").flatMap { MIMEContentType.parse($0.value) }
        // Either way the signed content ends up alone in `content` and is
        // verified as detached content, streaming from that file.
        let content = try PrivateTemporaryFile(directory: temporaryDirectory, prefix: ".fedmail-ver-")
        if entityHeader.hasSeparator, let entityType, entityType.mediaType == "multipart/signed" {
            guard let boundary = entityType.parameters["boundary"], !boundary.isEmpty else {
                throw OpenError(.badSignature, "multipart/signed without a boundary")
            }
            let entity = try PrivateTemporaryFile(directory: temporaryDirectory, prefix: ".fedmail-dec-")
            do {
                let fd = try FileDescriptorIO.openWrite(entity.path)
                defer { close(fd) }
                var piece = head
                while !piece.isEmpty {
                    try FileDescriptorIO.writeAll(fd: fd, piece, name: entity.path)
                    piece = try decrypted.read(maxCount: FileDescriptorIO.chunkSize)
                }
            }
            let signed = try MultipartSignedEntity.split(path: entity.path, header: entityHeader, boundary: boundary,
                                                         contentPath: content.path)
            return SignedParts(signed: signed, certificates: nil, content: content)
        }
        guard entityHeader.hasSeparator, let entityType,
              entityType.mediaType == "application/pkcs7-mime" || entityType.mediaType == "application/x-pkcs7-mime" else {
            throw OpenError(.badSignature, "the decrypted content is not an S/MIME signed entity (no application/pkcs7-mime or multipart/signed header)")
        }
        let encoding = MIMETransferEncoding.mechanism(of: entityHeader.first("Content-Transfer-Encoding")?.value, default: "base64") ?? "unreadable"
        guard encoding == "base64" else {
            throw OpenError(.badSignature, "the signed entity has Content-Transfer-Encoding \(encoding) where base64 is expected")
        }
        let (signed, certificates) = try Self.splitSignedData(
            prefix: Array(head[entityHeader.length...]), textCapacity: decrypted.ciphertextSize - entityHeader.length,
            next: { count throws(BERError) in
                do throws(CryptoError) { return try decrypted.read(maxCount: count) } catch { throw BERError(.io, error.message) }
            },
            contentPath: content.path)
        return SignedParts(signed: signed, certificates: certificates, content: content)
    }

    /// Verifies the signature of a signed entity taken apart by
    /// ``split(decrypted:)`` (once the GCM tag verified) and the signer's
    /// chain or pin; returns the signer.
    func verify(_ parts: SignedParts, now: Date, checks: inout [String]) throws -> Signer {
        let signed = parts.signed
        let messageCertificates = try parts.certificates.map { encoded in
            try encoded.map { der in try certificateCache?.certificate(der: der) ?? ParsedCertificateCache.parse(der: der) }
        }
        let content = parts.content
        guard signed.contentTypeNID == NID_pkcs7_signed else {
            throw OpenError(.badSignature, "the decrypted content is \(signed.contentTypeName), not SignedData")
        }
        guard let infos = CMS_get0_SignerInfos(signed.pointer), fedmail_sk_CMS_SignerInfo_num(infos) == 1,
              let signerInfo = fedmail_sk_CMS_SignerInfo_value(infos, 0) else {
            throw OpenError(.badSignature, "the signed entity must have exactly one signer")
        }
        let brokerStore = try X509TrustStore(anchors: brokerCA)
        let certificates = try messageCertificates.map { certificates throws(OpenError) in
            try X509CertificateStack(certificates: certificates)
        }

        do {
            // The content is read through the digest from the file; nothing is copied out.
            let detached = try OpenSSLBIO.file(content.path, mode: "rb")
            let flags = UInt32(CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_DETACHED)
            guard CMS_verify(signed.pointer, certificates?.pointer, brokerStore.pointer, detached.pointer, nil, flags) == 1 else {
                throw OpenError(.badSignature, "the signature does not verify (\(OpenSSLErrorQueue.drain()))")
            }
        }
        checks.append("signature")

        let signers = X509CertificateStack(taking: CMS_get0_signers(signed.pointer), ownsCertificates: false)
        guard signers.count == 1, let certificate = signers.certificate(at: 0) else {
            throw OpenError(.badSignature, "no signer certificate in the message")
        }

        let fingerprint = certificate.sha256Fingerprint
        let pinned = !fingerprint.isEmpty && pinnedSigners.contains { $0.sha256Fingerprint == fingerprint }
        let verification = pinned
            ? try X509ChainVerification(leaf: certificate, store: X509TrustStore(anchors: [certificate]),
                                        untrusted: X509CertificateStack(taking: nil, ownsCertificates: true),
                                        time: now, partialChain: true)
            : try X509ChainVerification(leaf: certificate, store: brokerStore,
                                        untrusted: certificates
                                            ?? X509CertificateStack(taking: CMS_get1_certs(signed.pointer), ownsCertificates: true),
                                        time: now, partialChain: false, requireEmailProtection: true)
        if let reason = verification.failureReason() {
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
        return Signer(certificate: certificate, signingTime: signingTime, pinned: pinned,
                      signatureDigest: Array(digest.prefix(Int(digestLength))))
    }

    /// Splits the base64 SignedData body of an opaque S/MIME signed entity
    /// (`prefix`, then what `next` reads; at most `textCapacity` bytes of
    /// text), streaming: eContent to `contentPath`, the SignedData without
    /// it parsed and returned, with the DER of its certificates apart (nil
    /// when they stayed in the SignedData).
    static func splitSignedData(prefix: [UInt8], textCapacity: Int, next: @escaping (Int) throws(BERError) -> [UInt8],
                                contentPath: String) throws -> (CMSContentInfo, [[UInt8]]?) {
        let split: CMSContentSplitter.Result
        do {
            let output = try FileDescriptorIO.openWrite(contentPath)
            defer { close(output) }
            do {
                let source = Base64ByteSource(prefix: prefix, textCapacity: textCapacity, next: next)
                split = try CMSContentSplitter.split(reader: BERReader(source: source), layout: .signed, acceptedTypes: [NID_pkcs7_signed],
                                                     contentTo: output, contentName: contentPath, certificatesApart: true)
            } catch {
                if error.kind == .io { throw OpenError(.internalError, error.message) }
                throw OpenError(.malformed, "the signed entity is not a valid CMS structure: \(error.message)")
            }
        }
        guard let structure = split.structure else {
            throw OpenError(.badSignature, "the decrypted content is \(split.contentTypeName), not SignedData")
        }
        try SignedDataShape.check(contentInfo: structure, certificatesApart: split.certificates?.count ?? 0)
        let bio = try OpenSSLBIO.memory(structure)
        guard let pointer = d2i_CMS_bio(bio.pointer, nil) else {
            throw OpenError(.malformed, "the signed entity is not a valid CMS SignedData (\(OpenSSLErrorQueue.drain()))")
        }
        let cms = CMSContentInfo(taking: pointer)
        return (cms, split.certificates)
    }

    /// The signed signingTime attribute (UTCTime or GeneralizedTime).
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
}
