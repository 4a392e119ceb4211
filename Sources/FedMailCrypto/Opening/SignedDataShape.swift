/// The shape of a SignedData that is handed to OpenSSL's `CMS_verify`,
/// checked on its encoding first.
///
/// Nothing of a SignedData is authentic before its signature and signer
/// are checked, and `CMS_verify` itself does work that grows faster than
/// the structure: it builds one digest BIO per `digestAlgorithms` entry
/// (without removing duplicates), chains them in time quadratic in their
/// number and reads the content through one nested `BIO_read` per entry,
/// so a few hundred thousand copies of `sha256` (a megabyte; the field is
/// not signed) took minutes of CPU and then overflowed the thread's stack.
/// One home for what FedMail accepts, for both forms it opens (opaque
/// SignedData and multipart/signed): a few digest algorithms, a few
/// certificates, no CRLs (revocation comes from the broker's CRL, never
/// from the message), exactly one SignerInfo.
enum SignedDataShape {
    /// At most this many `digestAlgorithms` entries (FedMail and S/MIME
    /// clients list one per signer; some list two or three).
    static let maximumDigestAlgorithms = 4
    /// At most this many certificates, in the structure and apart from it
    /// together (FedMail sends its organization certificate, a client its
    /// certificate and perhaps a chain).
    static let maximumCertificates = 16

    /// Checks the encoded ContentInfo `contentInfo` (SignedData, with or
    /// without its content) and the number of certificates taken out of it
    /// (``CMSContentSplitter/Result/certificates``).
    ///
    /// - Throws: ``OpenError`` `badSignature` naming what is out of shape;
    ///   `malformed` when it is not a ContentInfo holding a SignedData.
    static func check(contentInfo: [UInt8], certificatesApart: Int = 0) throws(OpenError) {
        guard certificatesApart <= maximumCertificates else {
            throw OpenError(.badSignature, "the signed entity carries \(certificatesApart) certificates; at most \(maximumCertificates) are accepted")
        }
        do { try walk(contentInfo, certificatesApart: certificatesApart) } catch let error as OpenError {
            throw error
        } catch let error as BERError {
            throw OpenError(.malformed, "the signed entity is not a valid CMS SignedData: \(error.message)")
        } catch {
            throw OpenError(.malformed, "the signed entity is not a valid CMS SignedData: \(error)")
        }
    }

    /// Reads the structure; throws ``OpenError`` for a shape refused,
    /// ``BERError`` for an encoding that is not one.
    private static func walk(_ contentInfo: [UInt8], certificatesApart: Int) throws {
        let reader = BERReader(source: MemoryByteSource(contentInfo))
        var budget = 2 * contentInfo.count + 64
        let top = try reader.header(within: nil)
        guard top.isUniversal(BERHeader.sequence), top.constructed else { throw BERError(.malformed, "not a ContentInfo") }
        let topEnd = top.length.map { reader.offset + $0 }
        let type = try reader.element(within: topEnd, depth: 1, budget: &budget)
        guard type.header.isUniversal(BERHeader.objectIdentifier) else { throw BERError(.malformed, "no content type") }
        let explicit = try reader.header(within: topEnd)
        guard explicit.isContext(0), explicit.constructed else { throw BERError(.malformed, "the content is not [0]") }
        let signedData = try reader.header(within: explicit.length.map { reader.offset + $0 })
        guard signedData.isUniversal(BERHeader.sequence), signedData.constructed else {
            throw BERError(.malformed, "the SignedData is not a SEQUENCE")
        }
        let end = signedData.length.map { reader.offset + $0 }
        var field = 0
        var certificates = certificatesApart
        var signerInfos: Int?
        while try reader.hasMoreContent(before: end) {
            let child = try reader.header(within: end)
            guard !child.isEndOfContents else { throw BERError(.malformed, "unexpected end-of-contents") }
            defer { field += 1 }
            switch field {
            case 1:
                guard child.isUniversal(BERHeader.set), child.constructed else {
                    throw BERError(.malformed, "the SignedData has no digestAlgorithms SET")
                }
                let count = try countElements(of: child, reader: reader, budget: &budget, limit: maximumDigestAlgorithms)
                guard (1...maximumDigestAlgorithms).contains(count) else {
                    throw OpenError(.badSignature, count == 0
                        ? "the SignedData lists no digest algorithm"
                        : "the SignedData lists more than \(maximumDigestAlgorithms) digest algorithms")
                }
                continue
            case 0, 2:
                break
            default:
                if child.isContext(0) {
                    guard child.constructed else { throw BERError(.malformed, "primitive certificates [0]") }
                    certificates += try countElements(of: child, reader: reader, budget: &budget,
                                                      limit: maximumCertificates - certificates)
                    guard certificates <= maximumCertificates else {
                        throw OpenError(.badSignature, "the signed entity carries more than \(maximumCertificates) certificates")
                    }
                    continue
                }
                if child.isContext(1) {
                    throw OpenError(.badSignature, "the SignedData carries CRLs; revocation is checked against the broker's CRL only")
                }
                if child.isUniversal(BERHeader.set), child.constructed, signerInfos == nil {
                    signerInfos = try countElements(of: child, reader: reader, budget: &budget, limit: 1)
                    continue
                }
            }
            _ = try reader.remainder(of: child, depth: 3, budget: &budget)
        }
        guard signerInfos == 1 else {
            throw OpenError(.badSignature, "the signed entity must have exactly one signer")
        }
    }

    /// Counts the elements of the constructed `header` (just read), reading
    /// them; stops, having read one more, as soon as there are more than `limit`.
    private static func countElements(of header: BERHeader, reader: BERReader, budget: inout Int,
                                      limit: Int) throws(BERError) -> Int {
        let end = header.length.map { reader.offset + $0 }
        var count = 0
        while try reader.hasMoreContent(before: end) {
            _ = try reader.element(within: end, depth: 4, budget: &budget)
            count += 1
            if count > limit { return count }
        }
        return count
    }
}
