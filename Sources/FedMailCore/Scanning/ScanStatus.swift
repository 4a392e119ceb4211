/// The `status` values FedMail writes into a control flag's
/// ``ControlFlags/ScanResult`` (the flag itself keeps a plain string so that
/// statuses from newer gateways still decode).
public enum ScanStatus: String, Sendable, Hashable, CaseIterable {
    /// A virus scanner found nothing.
    case clean
    /// A virus scanner found something.
    case infected
    /// A spam scanner judged the message spam.
    case spam
    /// A spam scanner judged the message not spam.
    case ham
    /// No scan the gateway ran or trusts: no local scanner, and no trusted
    /// upstream header (or one from a host that is not internal).
    case notScanned = "not-scanned"
}

extension ControlFlags.ScanResult {
    /// A scan result with a known status.
    public init(_ status: ScanStatus, engine: String? = nil, at: String? = nil, score: Double? = nil) {
        self.init(status: status.rawValue, engine: engine, at: at, score: score)
    }

    /// The status if it is one FedMail knows (case-insensitive), else `nil`.
    public var knownStatus: ScanStatus? {
        ScanStatus(rawValue: status.lowercased())
    }
}
