internal import COpenSSL

/// Splits a CMS ContentInfo with a large content — the encryptedContent of
/// AuthEnvelopedData / EnvelopedData (RFC 5083, RFC 5652 §6), or the
/// eContent of SignedData (RFC 5652 §5) — while streaming it: the content
/// octets go to a file, and what is left (recipientInfos, algorithms,
/// certificates, signerInfos, the GCM tag: small) comes back re-encoded as
/// a ContentInfo without that content, for OpenSSL to parse and then to
/// decrypt or verify against the content file as detached content.
///
/// Only the few wrappers on the path to the content are re-encoded (with
/// definite lengths); every other field is passed on exactly as it was
/// encoded, so signatures and algorithm parameters are untouched. The
/// content is mandatory: a ContentInfo that is already detached is refused.
enum CMSContentSplitter {
    /// Where the content sits.
    enum Layout: Sendable {
        /// `EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm,
        /// encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }`, the first
        /// SEQUENCE in (Auth)EnvelopedData.
        case enveloped
        /// `EncapsulatedContentInfo ::= SEQUENCE { eContentType,
        /// eContent [0] EXPLICIT OCTET STRING OPTIONAL }`, the first SEQUENCE in SignedData.
        case signed
    }

    /// What a split found.
    struct Result {
        /// The ContentInfo's content type.
        var contentTypeNID: Int32
        /// Its long name, for messages.
        var contentTypeName: String
        /// The ContentInfo without its content (DER around the original
        /// encodings), or nil when the content type was not one of those
        /// accepted (nothing after the content type was read).
        var structure: [UInt8]?
        /// How many content octets were written.
        var contentLength: Int
        /// With `certificatesApart` (SignedData): the DER of each
        /// certificate of its `certificates` field, which is then left out
        /// of ``structure``; nil when the field was kept (absent, or holding
        /// a choice other than a plain Certificate).
        var certificates: [[UInt8]]? = nil
        /// Enveloped layout: the contentEncryptionAlgorithm, as encoded.
        var contentEncryptionAlgorithm: [UInt8]? = nil
        /// The fields after the content info, each as encoded (for
        /// AuthEnvelopedData: authAttrs [1], mac, unauthAttrs [2]).
        var fieldsAfterContent: [[UInt8]] = []
    }

    /// How much of the structure (everything but the content) may be held in memory.
    static let maximumStructureSize = 16 << 20

    /// Reads one ContentInfo from `reader`, which must hold nothing else.
    ///
    /// - Parameters:
    ///   - acceptedTypes: the content types (NIDs) to split; any other type
    ///     is returned without a structure.
    ///   - fd: where the content octets go (nil: read and dropped).
    ///   - certificatesApart: SignedData only: return the certificates
    ///     apart (``Result/certificates``) instead of in the structure, so
    ///     a certificate the caller already holds parsed is not parsed again.
    /// - Throws: ``BERError`` — `.malformed` for anything that is not a
    ///   well-formed ContentInfo of the expected shape.
    static func split(reader: BERReader, layout: Layout, acceptedTypes: [Int32], contentTo fd: Int32?,
                      contentName: String, certificatesApart: Bool = false) throws(BERError) -> Result {
        var budget = maximumStructureSize
        let top = try reader.header(within: nil)
        guard top.isUniversal(BERHeader.sequence), top.constructed else {
            throw BERError(.malformed, "not a CMS ContentInfo (no SEQUENCE at the start)")
        }
        let topEnd = top.length.map { reader.offset + $0 }
        guard try reader.hasMoreContent(before: topEnd) else { throw BERError(.malformed, "empty ContentInfo") }
        let (typeHeader, typeEncoded) = try reader.element(within: topEnd, depth: 1, budget: &budget)
        guard typeHeader.isUniversal(BERHeader.objectIdentifier), !typeHeader.constructed else {
            throw BERError(.malformed, "the ContentInfo does not start with a content type")
        }
        let (nid, name) = objectIdentifier(typeEncoded)
        guard acceptedTypes.contains(nid) else {
            return Result(contentTypeNID: nid, contentTypeName: name, structure: nil, contentLength: 0)
        }
        guard try reader.hasMoreContent(before: topEnd) else { throw BERError(.malformed, "the ContentInfo has no content") }
        let explicit = try reader.header(within: topEnd)
        guard explicit.isContext(0), explicit.constructed else { throw BERError(.malformed, "the ContentInfo content is not [0]") }
        let explicitEnd = explicit.length.map { reader.offset + $0 }
        guard try reader.hasMoreContent(before: explicitEnd) else { throw BERError(.malformed, "the ContentInfo content is empty") }
        let inner = try reader.header(within: explicitEnd)
        guard inner.isUniversal(BERHeader.sequence), inner.constructed else {
            throw BERError(.malformed, "the \(name) is not a SEQUENCE")
        }
        let innerEnd = inner.length.map { reader.offset + $0 }

        var before: [UInt8] = []
        var after: [UInt8] = []
        var contentInfo: [UInt8]?
        var algorithm: [UInt8]?
        var trailing: [[UInt8]] = []
        var contentLength = 0
        var certificates: [[UInt8]]?
        // Fields seen after the content info: the certificates are only
        // taken apart in their place, the first field after it (as
        // SignedData defines them); a [0] anywhere else, or a second one, is
        // refused here as OpenSSL refuses it in a whole structure.
        var fieldsAfterContent = 0
        while try reader.hasMoreContent(before: innerEnd) {
            let child = try reader.header(within: innerEnd)
            guard !child.isEndOfContents else { throw BERError(.malformed, "unexpected end-of-contents in the \(name)") }
            if contentInfo == nil && child.isUniversal(BERHeader.sequence) {
                guard child.constructed else { throw BERError(.malformed, "a primitive SEQUENCE in the \(name)") }
                let split = try splitContentInfo(child, reader: reader, layout: layout, budget: &budget, to: fd, name: contentName)
                contentInfo = split.encoded
                contentLength = split.length
                algorithm = split.algorithm
            } else if contentInfo == nil {
                before += try reader.remainder(of: child, depth: 3, budget: &budget)
            } else if certificatesApart, layout == .signed, child.isContext(0), fieldsAfterContent > 0 {
                throw BERError(.malformed, "the \(name)'s certificates [0] are not the first field after its content info")
            } else if certificatesApart, layout == .signed, child.isContext(0), child.constructed {
                fieldsAfterContent += 1
                // certificates [0] IMPLICIT CertificateSet: each element kept
                // as encoded; any choice but a plain Certificate (SEQUENCE)
                // keeps the whole field in the structure, as it came.
                let fieldEnd = child.length.map { reader.offset + $0 }
                var elements: [[UInt8]] = []
                // (An indefinite field's end-of-contents is consumed here.)
                while try reader.hasMoreContent(before: fieldEnd) {
                    elements.append(try reader.element(within: fieldEnd, depth: 4, budget: &budget).encoded)
                }
                if elements.allSatisfy({ $0.first == 0x30 }) {
                    certificates = elements
                } else {
                    after += BERReader.encode(tag: 0xA0, content: elements.flatMap { $0 })
                }
            } else {
                let encoded = try reader.remainder(of: child, depth: 3, budget: &budget)
                if contentInfo != nil {
                    fieldsAfterContent += 1
                    trailing.append(encoded)
                }
                after += encoded
            }
        }
        guard let contentInfo else { throw BERError(.malformed, "the \(name) has no content info") }
        guard try !reader.hasMoreContent(before: explicitEnd) else { throw BERError(.malformed, "data after the \(name)") }
        guard try !reader.hasMoreContent(before: topEnd) else { throw BERError(.malformed, "data after the ContentInfo content") }
        guard try reader.atEnd() else { throw BERError(.malformed, "data after the CMS structure (at byte \(reader.offset))") }

        let body = BERReader.encode(tag: 0x30, content: before + contentInfo + after)
        let structure = BERReader.encode(tag: 0x30, content: typeEncoded + BERReader.encode(tag: 0xA0, content: body))
        return Result(contentTypeNID: nid, contentTypeName: name, structure: structure, contentLength: contentLength,
                      certificates: certificates, contentEncryptionAlgorithm: algorithm, fieldsAfterContent: trailing)
    }

    /// Splits the (Encrypted|Encapsulated)ContentInfo whose header was read:
    /// its fields without the content, and the content streamed to `fd`.
    private static func splitContentInfo(_ header: BERHeader, reader: BERReader, layout: Layout, budget: inout Int,
                                         to fd: Int32?, name: String) throws(BERError) -> (encoded: [UInt8], length: Int, algorithm: [UInt8]?) {
        let end = header.length.map { reader.offset + $0 }
        var fields: [UInt8] = []
        var algorithm: [UInt8]?
        // enveloped: contentType, contentEncryptionAlgorithm; signed: eContentType.
        let leading = layout == .enveloped ? 2 : 1
        for i in 0..<leading {
            guard try reader.hasMoreContent(before: end) else { throw BERError(.malformed, "the content info is incomplete") }
            let (field, encoded) = try reader.element(within: end, depth: 4, budget: &budget)
            let expected = i == 0 ? field.isUniversal(BERHeader.objectIdentifier) && !field.constructed
                                  : field.isUniversal(BERHeader.sequence) && field.constructed
            guard expected else {
                throw BERError(.malformed, i == 0 ? "the content info has no content type" : "the content info has no encryption algorithm")
            }
            fields += encoded
            if i == 1 { algorithm = encoded }
        }
        guard try reader.hasMoreContent(before: end) else {
            throw BERError(.malformed, "the content is absent (detached content is not accepted)")
        }
        let wrapper = try reader.header(within: end)
        guard wrapper.isContext(0) else { throw BERError(.malformed, "the content info holds something other than the content") }
        var length: Int
        switch layout {
        case .enveloped:
            // [0] IMPLICIT OCTET STRING: primitive, or constructed from OCTET STRING segments.
            length = try reader.streamOctets(of: wrapper, depth: 5, to: fd, name: name)
        case .signed:
            // [0] EXPLICIT: exactly one OCTET STRING.
            guard wrapper.constructed else { throw BERError(.malformed, "eContent is not an explicit [0]") }
            let wrapperEnd = wrapper.length.map { reader.offset + $0 }
            guard try reader.hasMoreContent(before: wrapperEnd) else { throw BERError(.malformed, "eContent is empty") }
            let octets = try reader.header(within: wrapperEnd)
            guard octets.isUniversal(BERHeader.octetString) else { throw BERError(.malformed, "eContent is not an OCTET STRING") }
            length = try reader.streamOctets(of: octets, depth: 6, to: fd, name: name)
            guard try !reader.hasMoreContent(before: wrapperEnd) else { throw BERError(.malformed, "data after eContent") }
        }
        guard try !reader.hasMoreContent(before: end) else { throw BERError(.malformed, "data after the content") }
        return (BERReader.encode(tag: 0x30, content: fields), length, algorithm)
    }

    /// The NID and long name of an encoded OBJECT IDENTIFIER (NID_undef, "unknown" when OpenSSL does not know it).
    static func objectIdentifier(_ encoded: [UInt8]) -> (nid: Int32, name: String) {
        let object: OpaquePointer? = encoded.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ASN1_OBJECT(nil, &pointer, buffer.count)
        }
        guard let object else {
            OpenSSLErrorQueue.clear()
            return (NID_undef, "unknown")
        }
        defer { ASN1_OBJECT_free(object) }
        let nid = OBJ_obj2nid(object)
        guard nid != NID_undef, let name = OBJ_nid2ln(nid) else { return (nid, "unknown") }
        return (nid, String(cString: name))
    }
}
