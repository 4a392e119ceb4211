internal import COpenSSL

/// The AES-GCM decryption of a split AuthEnvelopedData as plaintext read
/// on demand (OpenSSL's `CMS_dataInit` over the ciphertext file), so the
/// opener feeds the signed entity straight into its own split instead of
/// writing a decrypted file and reading it back.
///
/// **Nothing read from it is authentic before ``finish()`` returned.**
/// The GCM tag is checked only at the end of the ciphertext, and OpenSSL
/// hands out plaintext before that. A reader may only parse it into
/// private intermediate files, and must call ``finish()`` — on success and
/// on failure alike, so a tampered ciphertext is reported as such rather
/// than as whatever its garbled plaintext looked like — before anything
/// it produced is used.
final class DecryptionStream {
    private let input: OpenSSLBIO
    /// The cipher BIO(s) `CMS_dataInit` pushed on `input`.
    private let chain: OpaquePointer
    /// The ciphertext's size: GCM's plaintext is exactly as long.
    let ciphertextSize: Int
    private var delivered = 0
    private var ended = false
    /// Set at the end of the ciphertext: whether the tag verified.
    private var tagVerified = false

    /// Starts decrypting `contentPath` with the content key already
    /// unwrapped into `cms` (``Opener/unwrapContentKey(_:)``).
    init(cms: CMSContentInfo, contentPath: String) throws {
        input = try OpenSSLBIO.file(contentPath, mode: "rb")
        guard let size = FileDescriptorIO.size(of: contentPath) else {
            throw OpenError(.internalError, "cannot read the size of the ciphertext \(contentPath)")
        }
        ciphertextSize = size
        guard let chain = CMS_dataInit(cms.pointer, input.pointer) else {
            throw OpenError(.tagMismatch, "the content key does not decrypt this message (\(OpenSSLErrorQueue.drain()))")
        }
        self.chain = chain
    }

    deinit {
        // Free what CMS_dataInit pushed, down to (not including) `input`,
        // which frees itself.
        var top: OpaquePointer? = chain
        while let bio = top, bio != input.pointer {
            top = BIO_pop(bio)
            BIO_free(bio)
        }
    }

    /// The next plaintext bytes, at most `maxCount`; empty at the end of
    /// the ciphertext. Unauthenticated until ``finish()``.
    func read(maxCount: Int) throws(CryptoError) -> [UInt8] {
        guard !ended, maxCount > 0 else { return [] }
        // Filled by OpenSSL as it is: no zeroing of a buffer that is overwritten.
        var count: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: min(maxCount, Int(Int32.max))) { buffer, initialized in
            count = BIO_read(chain, buffer.baseAddress, Int32(buffer.count))
            initialized = max(0, Int(count))
        }
        if count > 0 {
            delivered += Int(count)
            return bytes
        }
        // End of the ciphertext (or a read that failed): the cipher BIO ran
        // EVP_CipherFinal, which checked the tag.
        ended = true
        tagVerified = BIO_ctrl(chain, BIO_C_GET_CIPHER_STATUS, 0, nil) > 0
        return []
    }

    /// Reads what is left and checks the GCM tag; only after this returned
    /// is what was read authentic. Bounded by the ciphertext's size.
    func finish() throws(OpenError) {
        do {
            while !ended { _ = try read(maxCount: 256 * 1024) }
        } catch {
            throw OpenError(.internalError, "reading the ciphertext: \(error.message)")
        }
        // GCM's plaintext is exactly as long as its ciphertext. A read that
        // ended early never reached EVP_CipherFinal, and OpenSSL 3.0's
        // cipher BIO then still says "ok" (its status starts at 1): only
        // the whole length with the tag verified counts.
        guard delivered == ciphertextSize else {
            throw OpenError(.internalError, "the ciphertext could not be decrypted to its end (\(delivered) of \(ciphertextSize) bytes; \(OpenSSLErrorQueue.drain()))")
        }
        guard tagVerified else {
            let queue = OpenSSLErrorQueue.drain()
            throw OpenError(.tagMismatch, "AES-GCM authentication failed: the message was altered" + (queue.isEmpty ? "" : " (\(queue))"))
        }
    }
}
