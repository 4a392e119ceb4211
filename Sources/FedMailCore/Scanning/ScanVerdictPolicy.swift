/// What one virus scan (or a trusted upstream verdict) said about one
/// message, as the milter's decisions see it — the scanner's own types stay
/// in the Scanner module.
public enum LocalScanOutcome: Sendable, Hashable {
    /// Nothing found; `engine` as recorded in the control flag (`ClamAV 1.0.7/27400`).
    case clean(engine: String)
    /// A signature was found.
    case infected(signature: String, engine: String)
    /// The message is larger than the scanner takes (clamd's
    /// `StreamMaxLength`): retrying cannot help, so it is not scanned.
    case tooLarge(reason: String)
    /// No verdict (clamd down, too slow, an error): retrying may help.
    case failed(reason: String)
}

/// What to do with a message after its virus scan.
public enum ScanVerdictDecision: Sendable, Hashable {
    /// Go on (seal, or deliver); record `flag` (`clean`, `infected` when
    /// `On-Infected accept`, `not-scanned` after a failure that is accepted
    /// or a message too large to scan).
    case proceed(flag: ControlFlags.ScanResult, note: String)
    /// Stop: apply `action` with `reject` or `tempfail` as its reply
    /// (`quarantine` holds the message, `accept` never appears here).
    case refuse(action: MilterConfiguration.FailureAction, reject: DecisionReply, tempfail: DecisionReply, reason: String)
}

/// `On-Infected` and `On-ScanError` applied to a scan outcome: infected
/// mail is refused (default `550 5.7.1` naming the signature), a scanner
/// failure is tempfailed (default `451 4.3.0`) so the client keeps the
/// message and retries — mail is never lost and never passes unscanned
/// because clamd was down. Only a message too large for the scanner passes
/// as `not-scanned`, as clamav-milter lets mail above its size limit pass.
public struct ScanVerdictPolicy: Sendable, Hashable {
    public var onInfected: MilterConfiguration.FailureAction
    public var onScanError: MilterConfiguration.FailureAction

    public init(onInfected: MilterConfiguration.FailureAction = .reject,
                onScanError: MilterConfiguration.FailureAction = .tempfail) {
        self.onInfected = onInfected
        self.onScanError = onScanError
    }

    /// Decides.
    /// - Parameter at: the time to record in the flag (RFC 3339), normally now.
    public func decide(_ outcome: LocalScanOutcome, at: String) -> ScanVerdictDecision {
        switch outcome {
        case .clean(let engine):
            return .proceed(flag: ControlFlags.ScanResult(.clean, engine: Self.engineText(engine), at: at), note: "clean")
        case .infected(let signature, let engine):
            let name = Self.replySafe(signature)
            if onInfected == .accept {
                return .proceed(flag: ControlFlags.ScanResult(.infected, engine: Self.engineText(engine), at: at),
                                note: "infected (\(name)), accepted by On-Infected")
            }
            return .refuse(action: onInfected,
                           reject: DecisionReply(code: "550", enhancedCode: "5.7.1", text: "FedMail: message infected: \(name)"),
                           tempfail: DecisionReply(code: "451", enhancedCode: "4.7.1", text: "FedMail: message infected: \(name)"),
                           reason: "infected: \(name)")
        case .tooLarge(let reason):
            return .proceed(flag: ControlFlags.ScanResult(.notScanned, at: at), note: "too large to scan (\(reason))")
        case .failed(let reason):
            if onScanError == .accept {
                return .proceed(flag: ControlFlags.ScanResult(.notScanned, at: at), note: "scan failed (\(reason)), accepted by On-ScanError")
            }
            return .refuse(action: onScanError,
                           reject: DecisionReply(code: "550", enhancedCode: "5.7.0", text: "FedMail: the virus scan failed"),
                           tempfail: DecisionReply(code: "451", enhancedCode: "4.3.0", text: "FedMail: virus scanner unavailable, try again later"),
                           reason: "scan failed: \(reason)")
        }
    }

    /// A signature name as it may appear in an SMTP reply: printable ASCII
    /// without `%`, at most 100 characters.
    static func replySafe(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(100) {
            out.unicodeScalars.append((0x21...0x7E).contains(scalar.value) && scalar != "%" ? scalar : "_")
        }
        if out.isEmpty { out = "unknown signature" }
        return out
    }

    static func engineText(_ engine: String) -> String? {
        let text = FlagText.sanitized(engine, limit: 100)
        return text.isEmpty ? nil : text
    }
}
