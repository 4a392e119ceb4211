import FedMailCore
import FedMailCrypto
import Foundation
import Milter

/// Scanning around the seal (DESIGN.md "Control flags"): once a message is
/// sealed nobody downstream can scan it, so outbound the original is scanned
/// before sealing (clamd, or a trusted header of the local chain) and the
/// result travels in the signed control part; inbound, after opening, the
/// partner's signed flag is honored when the allowlist trusts it, otherwise
/// the opened message is scanned here.
extension FederationHandler {
    var scanning: MilterScanSettings { runtime.configuration.scanning }

    /// The outbound result: the flags to seal with, or the answer that stops the message.
    enum OutboundScan {
        case flags(virus: ControlFlags.ScanResult, spam: ControlFlags.ScanResult, summary: String)
        case stop(MilterResponse)
    }

    /// The inbound result after opening.
    enum InboundScan {
        /// Deliver, adding these fields for the local chain.
        case deliver(fields: [(name: String, value: String)], summary: String)
        /// Apply a failure action (infected, or the scan failed).
        case stop(FailureDecision)
    }

    /// Outbound, before sealing: scans the original with clamd when
    /// `ClamdSocket` is set, else reads `UpstreamVirusHeader` (trusted only
    /// from an `UpstreamScanHosts` client); the spam verdict comes from `UpstreamSpamHeader`
    /// under the same rule. Infected mail and scan failures end in
    /// `On-Infected` / `On-ScanError` before anything is sealed or re-injected.
    func scanOutbound(original: MessageInput, fromScanningHost: Bool, actions: any MilterMessageActions,
                      log: MessageLog) throws -> OutboundScan {
        let now = Self.rfc3339(Date())
        let header = try original.headerSection()
        let policy = scanning.verdictPolicy
        let decision: ScanVerdictDecision
        let source: String
        if let scanner = runtime.scanner {
            decision = policy.decide(measuredScan(scanner, original), at: now)
            source = "clamd"
        } else {
            let reading = scanning.upstream.virusScan(in: header, fromScanningHost: fromScanningHost, at: now)
            if let signature = reading.infectedSignature {
                decision = policy.decide(.infected(signature: signature, engine: reading.flag.engine ?? "upstream scanner"), at: now)
            } else {
                decision = .proceed(flag: reading.flag, note: reading.reason)
            }
            source = "upstream header"
        }
        switch decision {
        case .refuse(let action, let reject, let tempfail, let reason):
            log.warning("direction=outbound decision=\(action.rawValue) (virus scan before sealing, \(source): \(reason))")
            return .stop(respond(.scan(action: action, reject: reject, tempfail: tempfail, reason: reason), actions: actions, log: log))
        case .proceed(let virus, let note):
            let spam = scanning.upstream.spamScan(in: header, fromScanningHost: fromScanningHost, at: now)
            return .flags(virus: virus, spam: spam.flag,
                          summary: "virus=\(virus.status) (\(source): \(note)) spam=\(spam.flag.status) (\(spam.reason))")
        }
    }

    /// Inbound, after the message opened and verified: honors the partner's
    /// signed virus flag when `trust=virus-scan` and it says clean (adding
    /// `InboundVirusHeader`, no scan), else scans the opened message when
    /// `ClamdSocket` is set; passes a trusted spam verdict on (`trust=spam-scan`).
    func scanInbound(openedPath: String, control: ControlFlags, partner: String, trust: FederationTrust) -> InboundScan {
        let inbound = scanning.inbound
        var fields: [(name: String, value: String)] = []
        var notes: [String] = []
        switch inbound.virusDecision(trust: trust, flags: control, partner: partner) {
        case .honor(let field, let value):
            fields.append((field, value))
            notes.append("virus=trusted")
        case .scanLocally(let reason):
            if let scanner = runtime.scanner {
                switch scanning.verdictPolicy.decide(measuredScan(scanner, .file(path: openedPath)), at: Self.rfc3339(Date())) {
                case .refuse(let action, let reject, let tempfail, let why):
                    return .stop(.scan(action: action, reject: reject, tempfail: tempfail, reason: "\(why) (scanned after opening: \(reason))"))
                case .proceed(let flag, let note):
                    if flag.knownStatus == .clean {
                        let field = inbound.locallyScannedField(scanner: runtime.authservID, scan: flag)
                        fields.append((field.field, field.value))
                    }
                    notes.append("virus=scanned:\(flag.status) (\(note); \(reason))")
                }
            } else {
                notes.append("virus=unscanned (\(reason); no ClamdSocket)")
            }
        }
        switch inbound.spamDecision(trust: trust, flags: control, partner: partner) {
        case .honor(let field, let value):
            fields.append((field, value))
            notes.append("spam=trusted")
        case .ignore:
            notes.append("spam=not-trusted")
        }
        let flags = "partner-flags=virus:\(control.virusScan?.status ?? "none"),spam:\(control.spamScan?.status ?? "none")"
        return .deliver(fields: fields, summary: (notes + [flags]).joined(separator: " "))
    }

    /// RFC 3339 in UTC, as the control flags record times.
    static func rfc3339(_ date: Date) -> String {
        RFC3339.format(secondsSince1970: date.timeIntervalSince1970)
    }
}
