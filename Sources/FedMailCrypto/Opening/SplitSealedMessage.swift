import FedMailCore

/// A sealed message read from its file once: the outer header, the CMS
/// envelope parsed (without its ciphertext) and the ciphertext in a private
/// file. The milter reads it to learn whether a message is ours to open
/// (its recipientInfos) and then opens that same split with
/// ``Opener/open(split:outputPath:now:authorize:)``, instead of splitting
/// and parsing the envelope a second time.
///
/// Opening consumes it: the content key is unwrapped into its envelope, so
/// a split opens once (a second open fails with `internal-error`).
public final class SplitSealedMessage {
    let envelope: SealedEnvelope
    private var consumed = false

    /// The key identifiers its recipientInfos name (SKI, or the KEK id in
    /// pop mode), read without decrypting.
    public let recipientKeyIdentifiers: [[UInt8]]

    init(envelope: SealedEnvelope) {
        self.envelope = envelope
        recipientKeyIdentifiers = envelope.cms.map(RecipientInfoReader.recipients(of:))?.map(\.keyIdentifier) ?? []
    }

    /// Reads and splits the sealed message at `sealedPath`, bounded as
    /// every open is (the base64 body streams through the BER reader once;
    /// the ciphertext goes to a private file in `temporaryDirectory`).
    ///
    /// - Parameter requireAEAD: refuse anything but AuthEnvelopedData here;
    ///   false also reads EnvelopedData (S/MIME for somebody's own key),
    ///   which ``Opener/open(split:outputPath:now:authorize:)`` then refuses.
    public static func read(sealedPath: String, temporaryDirectory: String? = nil,
                            requireAEAD: Bool = true) throws(OpenError) -> SplitSealedMessage {
        try read(.file(path: sealedPath), temporaryDirectory: temporaryDirectory, requireAEAD: requireAEAD)
    }

    /// Reads and splits a sealed message wherever its bytes are, as
    /// ``read(sealedPath:temporaryDirectory:requireAEAD:)`` reads a file.
    public static func read(_ input: MessageInput, temporaryDirectory: String? = nil,
                            requireAEAD: Bool = true) throws(OpenError) -> SplitSealedMessage {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return try OpenError.mappingLocalFailures {
            try SplitSealedMessage(envelope: SealedEnvelope.read(input, temporaryDirectory: temporaryDirectory,
                                                                  requireAEAD: requireAEAD, keepContent: true))
        }
    }

    /// The envelope for the one open, checked as ``SealedEnvelope/read``
    /// checks with `requireAEAD` (smime-type, then the CMS content type).
    func take() throws -> SealedEnvelope {
        guard !consumed else { throw OpenError(.internalError, "a split sealed message opens once") }
        consumed = true
        try envelope.checkAEAD()
        return envelope
    }
}
