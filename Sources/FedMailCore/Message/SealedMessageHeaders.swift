/// The outer header section of a sealed message (DESIGN.md, "Sealed message
/// format"): which original fields are copied, and what is added.
public enum SealedMessageHeaders {
    /// Fields copied from the original, in the order they appear there.
    public static let copiedFieldNames: Set<String> = [
        "from", "to", "cc", "date", "message-id", "in-reply-to", "references", "mime-version",
    ]
    /// The Subject of a sealed message when the original one is protected.
    public static let protectedSubject = "[sealed]"
    /// The largest outer header section of a sealed message: what an
    /// opener reads of it, and so the most a seal may copy outside.
    public static let sectionLimit = 4 << 20
    /// The Content-Type value of a sealed message.
    public static let contentType = "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m"

    /// Builds the outer header section, ending with the empty line.
    ///
    /// - Parameters:
    ///   - original: the header section of the original message.
    ///   - protectSubject: replace the Subject by ``protectedSubject``
    ///     (the original stays inside); otherwise it is copied.
    ///   - tokens: one `FedMail-Token` field per recipient organization,
    ///     folded (``HeaderFolding``), just before `Content-Type`.
    /// - Returns: the header bytes, line endings as in the original.
    public static func build(original: MessageHeaderSection, protectSubject: Bool, tokens: [FedMailTokenHeader]) -> [UInt8] {
        let eol = original.lineEnding.bytes
        var out: [UInt8] = []
        var sawMIMEVersion = false
        var sawSubject = false
        func appendField(_ raw: [UInt8]) {
            out += raw
            if raw.last != 10 { out += eol }
        }
        for field in original.fields {
            let name = field.name.lowercased()
            if name == "subject" {
                guard !sawSubject else { continue }
                sawSubject = true
                if protectSubject {
                    out += Array("Subject: \(protectedSubject)".utf8) + eol
                } else {
                    appendField(field.raw)
                }
            } else if copiedFieldNames.contains(name) {
                if name == "mime-version" {
                    if sawMIMEVersion { continue }
                    sawMIMEVersion = true
                }
                appendField(field.raw)
            }
        }
        if !sawMIMEVersion { out += Array("MIME-Version: 1.0".utf8) + eol }
        // A JWS is longer than a header line may be: folded, with the
        // message's own line ending.
        let lineEnding = String(decoding: eol, as: UTF8.self)
        for token in tokens {
            out += Array("\(FedMailTokenHeader.fieldName): \(HeaderFolding.fold(token.value, lineEnding: lineEnding))".utf8) + eol
        }
        out += Array("Content-Type: \(contentType)".utf8) + eol
        out += Array("Content-Transfer-Encoding: base64".utf8) + eol
        out += eol
        return out
    }
}
