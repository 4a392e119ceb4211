/// Which header fields, written by scanners earlier in this gateway's own
/// mail chain, the milter reads a verdict from when it has no scanner of
/// its own (e.g. clamav-milter's `X-Virus-Status`, SpamAssassin's
/// `X-Spam-Status`, rspamd's `X-Spamd-Result`).
///
/// Such a header is only as trustworthy as the scanner that wrote it:
/// anyone can write `X-Virus-Status: Clean` into their own message. The
/// verdict is taken only for mail from an `UpstreamScanHosts` client (one
/// whose scanner writes the field and replaces a sender's copy); otherwise
/// the flag records `not-scanned`.
public struct UpstreamScanHeaders: Sendable, Hashable {
    /// The field with a clamav-milter style virus status, `nil` for none.
    public var virusStatusField: String?
    /// The field naming the virus scanner (clamav-milter's `X-Virus-Scanned`),
    /// recorded as the flag's engine.
    public var virusEngineField: String
    /// The field with a spam verdict, `nil` for none.
    public var spamStatusField: String?

    public init(virusStatusField: String? = nil, virusEngineField: String = "X-Virus-Scanned",
                spamStatusField: String? = nil) {
        self.virusStatusField = virusStatusField
        self.virusEngineField = virusEngineField
        self.spamStatusField = spamStatusField
    }

    /// The trust rule shared by both headers: a reading only when the field
    /// is present and the client is an `UpstreamScanHosts` one; else why not.
    static func untrusted(_ name: String, fieldCount: Int, fromScanningHost: Bool) -> UpstreamScanReading? {
        guard fieldCount > 0 else { return .notScanned("no \(name) field") }
        guard fromScanningHost else {
            return .notScanned("\(name) present but the client is not in UpstreamScanHosts; not trusted")
        }
        return nil
    }

    /// What the upstream virus header says, as the `virusScan` control flag.
    ///
    /// - Parameters:
    ///   - headers: the message's header section as the milter received it.
    ///   - fromScanningHost: whether the SMTP client is in `UpstreamScanHosts`
    ///     (internal hosts, authenticated users and listed MTA daemons are
    ///     not enough: their messages may carry a field they wrote themselves).
    ///   - at: the time to record (RFC 3339), normally now.
    public func virusScan(in headers: MessageHeaderSection, fromScanningHost: Bool, at: String) -> UpstreamScanReading {
        guard let name = virusStatusField else {
            return .notScanned("no scanner and no trusted virus status header configured")
        }
        let fields = headers.all(name)
        if let untrusted = Self.untrusted(name, fieldCount: fields.count, fromScanningHost: fromScanningHost) { return untrusted }
        let verdicts = fields.map { UpstreamVirusVerdict(statusValue: $0.value) }
        // Any infected verdict wins; several fields must otherwise agree.
        for case .infected(let signature)? in verdicts {
            return UpstreamScanReading(flag: ControlFlags.ScanResult(.infected, engine: engine(in: headers), at: at),
                                       infectedSignature: signature ?? "unknown signature",
                                       reason: "\(name) says infected")
        }
        guard verdicts.allSatisfy({ $0 == .clean }) else {
            return .notScanned(fields.count > 1 ? "several \(name) fields that do not agree" : "\(name) value not understood")
        }
        return UpstreamScanReading(flag: ControlFlags.ScanResult(.clean, engine: engine(in: headers), at: at),
                                   reason: "\(name) says clean")
    }

    /// What the upstream spam header says, as the `spamScan` control flag
    /// (`spam` or `ham`, with the score when given); same trust rule as
    /// ``virusScan(in:fromScanningHost:at:)``.
    public func spamScan(in headers: MessageHeaderSection, fromScanningHost: Bool, at: String) -> UpstreamScanReading {
        guard let name = spamStatusField else {
            return .notScanned("no trusted spam status header configured")
        }
        let fields = headers.all(name)
        if let untrusted = Self.untrusted(name, fieldCount: fields.count, fromScanningHost: fromScanningHost) { return untrusted }
        let verdicts = fields.map { UpstreamSpamVerdict(fieldName: name, value: $0.value) }
        guard let first = verdicts.first, let verdict = first,
              verdicts.allSatisfy({ $0?.isSpam == verdict.isSpam }) else {
            return .notScanned(fields.count > 1 ? "several \(name) fields that do not agree" : "\(name) value not understood")
        }
        let engine = Self.spamEngine(in: headers, field: name)
        return UpstreamScanReading(flag: ControlFlags.ScanResult(verdict.isSpam ? .spam : .ham, engine: engine, at: at,
                                                                 score: verdict.score),
                                   reason: "\(name) says \(verdict.isSpam ? "spam" : "not spam")")
    }

    private func engine(in headers: MessageHeaderSection) -> String? {
        headers.first(virusEngineField).map { FlagText.sanitized($0.value) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// SpamAssassin's `X-Spam-Checker-Version`, or `rspamd` for rspamd's fields.
    private static func spamEngine(in headers: MessageHeaderSection, field: String) -> String? {
        if let version = headers.first("X-Spam-Checker-Version") {
            let text = FlagText.sanitized(version.value)
            if !text.isEmpty { return text }
        }
        if field.lowercased() == "x-spamd-result" || headers.first("X-Rspamd-Server") != nil { return "rspamd" }
        return nil
    }
}

/// What an upstream header contributes to the outbound control flags.
public struct UpstreamScanReading: Sendable, Hashable {
    /// The control flag to record (`clean`, `infected`, `spam`, `ham` or `not-scanned`).
    public var flag: ControlFlags.ScanResult
    /// Set when a trusted upstream virus scanner said infected: apply
    /// `On-Infected` (reject 5.7.1 naming it) instead of sealing.
    public var infectedSignature: String?
    /// Why, for the log.
    public var reason: String

    public init(flag: ControlFlags.ScanResult, infectedSignature: String? = nil, reason: String) {
        self.flag = flag
        self.infectedSignature = infectedSignature
        self.reason = reason
    }

    static func notScanned(_ reason: String) -> UpstreamScanReading {
        UpstreamScanReading(flag: ControlFlags.ScanResult(.notScanned), reason: reason)
    }
}

/// Text from a header or a partner's control flag made safe to record or
/// to put into a header field: control characters (CR, LF, …) become
/// spaces, runs of space collapse, at most 200 characters.
enum FlagText {
    static func sanitized(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var lastWasSpace = true
        for scalar in text.unicodeScalars {
            let isControl = scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
            if isControl || scalar == " " {
                if !lastWasSpace { out.unicodeScalars.append(" ") }
                lastWasSpace = true
            } else {
                out.unicodeScalars.append(scalar)
                lastWasSpace = false
            }
            if out.unicodeScalars.count >= limit { break }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }
}
