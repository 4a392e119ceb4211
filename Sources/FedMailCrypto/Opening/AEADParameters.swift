internal import COpenSSL

/// The one AEAD FedMail opens (DESIGN.md): AES-256-GCM (RFC 5084) with a
/// 12-byte nonce and a full 16-byte tag, stated explicitly. OpenSSL takes
/// an AuthEnvelopedData's `mac` at whatever length it has (1 to 16 bytes)
/// and its `aes-ICVlen` defaults to 12: a one-byte tag would let one
/// altered ciphertext in 256 decrypt "authentically". So the parameters are
/// checked here, from the envelope's encoding, before any key is unwrapped.
enum AEADParameters {
    static let nonceLength = 12
    static let tagLength = 16

    /// Checks the encoded contentEncryptionAlgorithm of an
    /// AuthEnvelopedData and the fields after its content info
    /// (`authAttrs [1]` optional, `mac`, `unauthAttrs [2]` optional).
    ///
    /// - Throws: ``OpenError/Code/refusedAlgorithm`` for another cipher, a
    ///   shorter tag or nonce, or parameters that are not there;
    ///   ``OpenError/Code/malformed`` for a mac that is not an OCTET STRING.
    static func check(algorithm: [UInt8]?, fieldsAfterContent: [[UInt8]]) throws(OpenError) {
        guard let algorithm else { throw OpenError(.malformed, "the sealed message has no content encryption algorithm") }
        do {
            try checkAlgorithm(algorithm)
        } catch {
            throw OpenError(.refusedAlgorithm, "content encryption refused: only AES-256-GCM with a \(nonceLength)-byte nonce and a \(tagLength)-byte tag is accepted (\(error.message))")
        }
        var fields = fieldsAfterContent[...]
        if let first = fields.first, first.first == 0xA1 { fields = fields.dropFirst() }  // authAttrs [1]
        guard let mac = fields.first, mac.first == 0x04 else {
            throw OpenError(.malformed, "the sealed message has no GCM tag (mac OCTET STRING)")
        }
        let length: Int
        do { length = try contentLength(ofPrimitive: mac) } catch {
            throw OpenError(.malformed, "the GCM tag is not a valid OCTET STRING: \(error.message)")
        }
        guard length == tagLength else {
            throw OpenError(.refusedAlgorithm, "a GCM tag of \(length) bytes refused: only \(tagLength)-byte tags are accepted")
        }
    }

    /// `AlgorithmIdentifier { id-aes256-GCM, GCMParameters { aes-nonce OCTET
    /// STRING (12), aes-ICVlen INTEGER 16 } }`, definite lengths, nothing more.
    private static func checkAlgorithm(_ encoded: [UInt8]) throws(BERError) {
        let reader = BERReader(source: MemoryByteSource(encoded))
        var budget = encoded.count
        let sequence = try reader.header(within: nil)
        guard sequence.isUniversal(BERHeader.sequence), sequence.constructed, let sequenceLength = sequence.length else {
            throw BERError(.malformed, "the algorithm is not a SEQUENCE")
        }
        let end = reader.offset + sequenceLength
        let (oid, oidEncoded) = try reader.element(within: end, depth: 1, budget: &budget)
        guard oid.isUniversal(BERHeader.objectIdentifier), !oid.constructed else { throw BERError(.malformed, "no algorithm OID") }
        let (nid, name) = CMSContentSplitter.objectIdentifier(oidEncoded)
        guard nid == NID_aes_256_gcm else { throw BERError(.malformed, "the cipher is \(name)") }
        guard try reader.hasMoreContent(before: end) else { throw BERError(.malformed, "no GCM parameters") }
        let parameters = try reader.header(within: end)
        guard parameters.isUniversal(BERHeader.sequence), parameters.constructed, let parametersLength = parameters.length else {
            throw BERError(.malformed, "the GCM parameters are not a SEQUENCE")
        }
        let parametersEnd = reader.offset + parametersLength
        let (nonce, nonceEncoded) = try reader.element(within: parametersEnd, depth: 2, budget: &budget)
        guard nonce.isUniversal(BERHeader.octetString), !nonce.constructed, nonce.length == nonceLength else {
            throw BERError(.malformed, "the nonce is not \(nonceLength) bytes (\(nonceEncoded.count - nonce.encoded.count))")
        }
        guard try reader.hasMoreContent(before: parametersEnd) else {
            throw BERError(.malformed, "no aes-ICVlen (its default is a 12-byte tag)")
        }
        let (icv, icvEncoded) = try reader.element(within: parametersEnd, depth: 2, budget: &budget)
        guard icv.isUniversal(2), !icv.constructed, Array(icvEncoded.dropFirst(icv.encoded.count)) == [UInt8(tagLength)] else {
            throw BERError(.malformed, "aes-ICVlen is not \(tagLength)")
        }
        guard try !reader.hasMoreContent(before: parametersEnd), try !reader.hasMoreContent(before: end), try reader.atEnd() else {
            throw BERError(.malformed, "data after the GCM parameters")
        }
    }

    /// The content length of one primitive, definite-length element (all of `encoded`).
    private static func contentLength(ofPrimitive encoded: [UInt8]) throws(BERError) -> Int {
        let reader = BERReader(source: MemoryByteSource(encoded))
        let header = try reader.header(within: nil)
        guard !header.constructed, let length = header.length, header.encoded.count + length == encoded.count else {
            throw BERError(.malformed, "not one primitive element of definite length")
        }
        return length
    }
}
