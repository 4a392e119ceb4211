/// Inbound, after a sealed message opened and verified: whether the
/// partner's signed scan flags replace a local scan, and the header field
/// that tells the local chain so (DESIGN.md "Control flags").
///
/// A partner's flag counts only when its allowlist entry says `trust=`
/// for it. The virus flag is honored only when it says `clean`; anything
/// else (no flag, `not-scanned`, `infected`, an unknown status, no trust)
/// means scan locally. The spam flag is passed on (`spam` or `ham`) when
/// trusted.
///
/// Whatever the decision, the milter must first delete every field of the
/// configured names that the message already carries: they came from
/// outside, and downstream filters skip scanning on them.
public struct InboundScanTrust: Sendable, Hashable {
    /// The field added when the partner's clean virus verdict is honored.
    public var virusField: String
    /// The field added when the partner's spam verdict is honored.
    public var spamField: String

    public init(virusField: String = "X-Virus-Scanned", spamField: String = "X-Spam-Scanned") {
        self.virusField = virusField
        self.spamField = spamField
    }

    /// Whether to honor the partner's virus flag or scan locally.
    ///
    /// - Parameters:
    ///   - trust: the allowlist entry's `trust=` for the sender's domain (`[]` when unlisted).
    ///   - flags: the signed control flags of the opened message.
    ///   - partner: who sealed it (e.g. the signer organization or `sealedBy`),
    ///     named in the header.
    public func virusDecision(trust: FederationTrust, flags: ControlFlags, partner: String) -> InboundVirusScanDecision {
        guard trust.contains(.virusScan) else {
            return .scanLocally(reason: "the allowlist does not trust this partner's virus scan")
        }
        guard let scan = flags.virusScan else {
            return .scanLocally(reason: "the partner recorded no virus scan")
        }
        guard scan.knownStatus == .clean else {
            return .scanLocally(reason: "the partner's virus scan says '\(FlagText.sanitized(scan.status, limit: 40))', not clean")
        }
        return .honor(field: virusField, value: Self.value(status: "clean", partner: partner, scan: scan))
    }

    /// Whether to pass the partner's spam verdict on.
    public func spamDecision(trust: FederationTrust, flags: ControlFlags, partner: String) -> InboundSpamScanDecision {
        guard trust.contains(.spamScan) else {
            return .ignore(reason: "the allowlist does not trust this partner's spam scan")
        }
        guard let scan = flags.spamScan, let status = scan.knownStatus, status == .spam || status == .ham else {
            return .ignore(reason: "the partner recorded no spam verdict")
        }
        return .honor(field: spamField, value: Self.value(status: status.rawValue, partner: partner, scan: scan))
    }

    /// The field added after this gateway scanned the opened message itself
    /// and found it clean: `clean by mx.example (ClamAV 1.4.6/27400, …), scanned after opening by fedmail`.
    /// - Parameter scanner: this gateway (its authserv-id).
    public func locallyScannedField(scanner: String, scan: ControlFlags.ScanResult) -> (field: String, value: String) {
        (virusField, Self.value(status: "clean", partner: scanner, scan: scan, by: "scanned after opening by fedmail"))
    }

    /// Every field name this gateway speaks for: occurrences arriving from
    /// outside are forged and are removed before delivery.
    public var fieldNames: [String] { [virusField, spamField] }

    /// `clean by partner.example (ClamAV 1.4.6/27400, 2026-11-23T12:00:00Z), trusted by fedmail`
    static func value(status: String, partner: String, scan: ControlFlags.ScanResult,
                      by suffix: String = "trusted by fedmail") -> String {
        var details: [String] = []
        if let engine = scan.engine.map({ FlagText.sanitized($0, limit: 100) }), !engine.isEmpty { details.append(engine) }
        if let score = scan.score, score.isFinite { details.append("score \(score)") }
        if let at = scan.at.map({ FlagText.sanitized($0, limit: 40) }), !at.isEmpty { details.append(at) }
        let who = FlagText.sanitized(partner, limit: 100)
        var text = "\(status) by \(who.isEmpty ? "partner" : who)"
        if !details.isEmpty {
            text += " (" + details.joined(separator: ", ").replacingParentheses() + ")"
        }
        return text + ", " + suffix
    }
}

/// The inbound decision for the partner's virus flag.
public enum InboundVirusScanDecision: Sendable, Hashable {
    /// Honor the partner's clean verdict: add this field and do not scan.
    case honor(field: String, value: String)
    /// Scan the opened message with the local scanner when one is configured.
    case scanLocally(reason: String)
}

/// The inbound decision for the partner's spam flag.
public enum InboundSpamScanDecision: Sendable, Hashable {
    /// Pass the partner's verdict on in this field.
    case honor(field: String, value: String)
    /// Add nothing; local filters decide.
    case ignore(reason: String)
}

extension String {
    /// Parentheses replaced by brackets, so text from a partner cannot
    /// close or open a comment in a structured header value.
    fileprivate func replacingParentheses() -> String {
        String(map { $0 == "(" ? "[" : $0 == ")" ? "]" : $0 })
    }
}
