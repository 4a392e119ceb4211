/// Interprets clamd's answers to `INSTREAM` (pure; no I/O).
enum ClamdReply {
    /// clamd's answer when the stream passes `StreamMaxLength`.
    static let sizeLimitText = "INSTREAM size limit exceeded"

    /// The verdict in one `INSTREAM` reply (without its NUL terminator).
    static func scanResult(_ reply: String, address: String) -> ScanResult {
        let text = reply.trimmingCharacters(in: [" ", "\n", "\r", "\0"])
        if text.hasPrefix(sizeLimitText) {
            return .error(ScanError(code: .sizeLimitExceeded,
                                    message: "clamd at \(address): the message is larger than its StreamMaxLength (\(text))"))
        }
        if text.hasSuffix(" ERROR") {
            return .error(ScanError(code: .clamdError, message: "clamd at \(address) reported: \(text)"))
        }
        // `stream: OK`, `stream: Sig.Name FOUND` (older clamd: without `stream: `).
        var verdict = Substring(text)
        if verdict.hasPrefix("stream: ") {
            verdict = verdict.dropFirst("stream: ".count)
        } else if let colon = verdict.firstRange(of: ": ") {
            verdict = verdict[colon.upperBound...]
        }
        if verdict == "OK" { return .clean }
        if verdict.hasSuffix(" FOUND") {
            let signature = verdict.dropLast(" FOUND".count).trimmingPrefix(" ")
            if !signature.isEmpty { return .infected(signature: String(signature)) }
        }
        let shown = text.isEmpty ? "an empty reply" : "'\(text.prefix(200))'"
        return .error(ScanError(code: .protocolError, message: "clamd at \(address) answered \(shown), not OK, FOUND or ERROR"))
    }
}

extension Substring {
    /// The substring after any leading `prefix` repetitions.
    func trimmingPrefix(_ prefix: String) -> Substring {
        var rest = self
        while rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        return rest
    }
}
