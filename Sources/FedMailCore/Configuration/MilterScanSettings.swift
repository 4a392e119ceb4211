/// The scanning settings of `fedmail-milter` (DESIGN.md "Control flags"):
/// the clamd it scans with before sealing and after opening, what to do
/// with infected mail and with scanner failures, which header fields of the
/// local mail chain it trusts outbound, and which fields it adds inbound to
/// tell the local chain that a partner's scan was honored.
/// Pure: read from a parsed ``ConfigurationFile``.
public struct MilterScanSettings: Sendable, Hashable {
    /// Names of the settings this struct reads.
    public static let knownNames: [String] = [
        "ClamdSocket", "ClamdTimeout", "On-Infected", "On-ScanError",
        "UpstreamVirusHeader", "UpstreamSpamHeader", "UpstreamScanHosts", "InboundVirusHeader", "InboundSpamHeader",
    ]

    /// The default of `ClamdTimeout`, in seconds: well under Postfix's
    /// `milter_content_timeout` (300 s) and Sendmail's end-of-message
    /// timeout (5 min), leaving room for the broker lookup and sealing.
    public static let defaultClamdTimeout = 60
    /// The most `ClamdTimeout` may be.
    public static let maximumClamdTimeout = 240

    /// `ClamdSocket`: where clamd listens (`unix:/path`, `local:/path`, a
    /// bare absolute path, `inet:PORT@HOST`); `nil`: no scanner of our own.
    public var clamdSocket: SocketSpec?
    /// `ClamdTimeout` in seconds: the longest one scan may take, from
    /// connecting to the verdict.
    public var clamdTimeout = Self.defaultClamdTimeout
    /// `On-Infected` (default reject, `550 5.7.1` naming the signature).
    public var onInfected: MilterConfiguration.FailureAction = .reject
    /// `On-ScanError` (default tempfail, `451 4.3.0`): clamd unreachable,
    /// too slow, or answering with an error.
    public var onScanError: MilterConfiguration.FailureAction = .tempfail
    /// `UpstreamVirusHeader` / `UpstreamSpamHeader`: the fields of the local
    /// chain read outbound when there is no `ClamdSocket` (virus) and always
    /// (spam) — only for mail from an `UpstreamScanHosts` client.
    public var upstream = UpstreamScanHeaders()
    /// `UpstreamScanHosts`: the clients whose mail has passed a scanner that
    /// writes the upstream fields and replaces any copy the sender wrote
    /// (an internal MTA with clamav-milter `AddHeader Replace`). Empty (the
    /// default): the upstream fields are never trusted, since anyone —
    /// a local user, a webmail on this host, a sendmail(1) caller — can
    /// write `X-Virus-Status: Clean` into their own message.
    public var upstreamScanHosts: [IPNetwork] = []
    /// `InboundVirusHeader` / `InboundSpamHeader`: the fields added inbound.
    public var inbound = InboundScanTrust()

    /// Defaults only: no scanner, no upstream fields trusted.
    public init() {}

    /// Reads the scanning settings of a parsed file (names already validated).
    ///
    /// - Throws: ``ConfigurationError`` naming the line of the first bad value.
    public init(file: ConfigurationFile) throws(ConfigurationError) {
        if let e = file.entry("ClamdSocket") {
            do {
                clamdSocket = try SocketSpec(parsing: e.value)
            } catch {
                throw file.error(.badValue, at: e, "'ClamdSocket': \(error.message) (clamd's LocalSocket as unix:/path, or its TCPSocket as inet:PORT@HOST)")
            }
        }
        if let e = file.entry("ClamdTimeout") {
            clamdTimeout = try file.duration(e, in: 1...Self.maximumClamdTimeout)
        }
        onInfected = try MilterFederationSettings.action(file, "On-Infected") ?? .reject
        onScanError = try MilterFederationSettings.action(file, "On-ScanError") ?? .tempfail
        upstream.virusStatusField = try Self.fieldName(file, "UpstreamVirusHeader")
        upstream.spamStatusField = try Self.fieldName(file, "UpstreamSpamHeader")
        if let e = file.entry("UpstreamScanHosts") { upstreamScanHosts = try file.networks(e) }
        if let name = try Self.fieldName(file, "InboundVirusHeader") { inbound.virusField = name }
        if let name = try Self.fieldName(file, "InboundSpamHeader") { inbound.spamField = name }
        if let virus = file.entry("InboundVirusHeader"), inbound.virusField.lowercased() == inbound.spamField.lowercased() {
            throw file.error(.badValue, at: virus, "'InboundVirusHeader' and 'InboundSpamHeader' must be different fields")
        }
    }

    /// Whether `address` is an `UpstreamScanHosts` client.
    public func isUpstreamScanHost(_ address: String?) -> Bool {
        guard let address else { return false }
        return upstreamScanHosts.contains { $0.contains(address) }
    }

    /// Why the upstream fields configured will never count, or may count
    /// for what a local sender wrote (127.0.0.1 or ::1 listed), for a
    /// warning at start and from doctor; nil otherwise.
    public var upstreamTrustWarning: String? {
        let fields = [upstream.virusStatusField, upstream.spamStatusField].compactMap { $0 }
        guard !fields.isEmpty else { return nil }
        if upstreamScanHosts.isEmpty {
            return "\(fields.joined(separator: " and ")) configured but UpstreamScanHosts lists no host: the fields are never "
                + "trusted (list the hosts whose scanner writes them and replaces any copy a sender wrote)"
        }
        if let loopback = ["127.0.0.1", "::1"].first(where: { (address: String) in isUpstreamScanHost(address) }) {
            return "UpstreamScanHosts includes \(loopback): mail submitted on this host (sendmail(1) and pickup through "
                + "non_smtpd_milters, a local webmail) comes from there too, and its sender's own \(fields.joined(separator: " and ")) "
                + "would be trusted; list a re-injection address nothing else submits from (e.g. 127.0.0.2)"
        }
        return nil
    }

    /// The failure actions, as the pure scan decision uses them.
    public var verdictPolicy: ScanVerdictPolicy {
        ScanVerdictPolicy(onInfected: onInfected, onScanError: onScanError)
    }

    /// A header field name (RFC 5322: printable ASCII except `:`), if the entry is present.
    static func fieldName(_ file: ConfigurationFile, _ name: String) throws(ConfigurationError) -> String? {
        guard let e = file.entry(name) else { return nil }
        guard !e.value.isEmpty, e.value.utf8.count <= 76,
              e.value.utf8.allSatisfy({ (33...126).contains($0) && $0 != UInt8(ascii: ":") }) else {
            throw file.error(.badValue, at: e, "'\(name)' must be a header field name such as X-Virus-Status, not '\(e.value)'")
        }
        return e.value
    }
}
