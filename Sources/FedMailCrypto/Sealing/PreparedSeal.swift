import FedMailCore

/// A seal checked and ready (``Sealer/prepare(_:recipients:control:tokens:protectSubject:signingTime:)``):
/// its header section, then its body streamed.
public struct PreparedSeal {
    let sealer: Sealer
    let original: MessageInput
    let recipients: [RecipientOrganization]
    let signingTime: Int64?
    /// The signed control flags, naming every recipient organization.
    let controlJSON: [UInt8]
    /// The sealed message's header section: its fields (the original's
    /// outer ones, FedMail-Token, the S/MIME ones) and the empty line that
    /// ends it.
    public let header: [UInt8]
    let lineEnding: [UInt8]

    /// Seals the body into `body` as it is made: base64 lines in blocks of
    /// at most 65,520 bytes (840 lines of 78), each within one 64 KiB
    /// milter chunk.
    ///
    /// Nothing is taken back: when this throws after `body` was called,
    /// what it was given is not a sealed message and must be discarded (a
    /// milter answers tempfail, and the MTA drops the changes). An
    /// original that turns out to hold the inner entity's boundary is
    /// sealed again under a new one while nothing was given yet, else it
    /// throws (never, in practice: 144 random bits, drawn for each seal).
    public func writeBody(_ body: (UnsafeRawBufferPointer) throws(CryptoError) -> Void) throws(CryptoError) {
        var given = false
        try Sealer.withUsableBoundary(original: original, controlJSON: controlJSON) { (reader) throws(CryptoError) in
            let whole = try writeBody(from: reader) { (bytes) throws(CryptoError) in
                given = true
                try body(bytes)
            }
            guard whole || !given else {
                throw CryptoError(code: .badInput, message: "the original holds the MIME boundary drawn for its seal; the body given so far is not a sealed message")
            }
            return whole
        }
    }

    /// One pass, no intermediate file: the inner entity `reader` gives (the
    /// exact original + the control JSON) signed as it is read, the signed
    /// S/MIME entity encrypted as it is written, and the DER
    /// base64-encoded into `body` as it comes. Returns false when the
    /// original held the reader's boundary (what was written must then be
    /// discarded).
    func writeBody(from reader: InnerEntityReader, _ body: (UnsafeRawBufferPointer) throws(CryptoError) -> Void) throws(CryptoError) -> Bool {
        try withoutActuallyEscaping(body) { (body) throws(CryptoError) -> Bool in
            let base64 = Base64LineWriter(lineEnding: lineEnding, sink: body)
            let source = try CallbackBIO.source { (buffer) throws(CryptoError) in try reader.read(into: buffer) }
            let sink = try CallbackBIO.sink { (bytes) throws(CryptoError) in try base64.write(bytes) }
            try Sealer.signAndEncrypt(from: source, to: sink, signer: sealer.signer, recipients: recipients, signingTime: signingTime)
            guard !reader.boundaryOccurs else { return false }
            try base64.finish()
            return true
        }
    }
}
