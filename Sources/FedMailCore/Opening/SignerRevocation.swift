/// What the caller knows about revocation when it asks ``OpeningPolicy``:
/// the broker's CRL (verified against the pinned broker CA) and how old it
/// may be, no CRL at all, or — for a caller that by design has none, such
/// as `fedmailctl open` without `--crl` — nothing to check against.
public enum RevocationState: Sendable, Hashable {
    /// No revocation check (command-line opens without a CRL).
    case notChecked
    /// The broker's CRL and the gateway's `CRLMaxAge` (seconds).
    case list(RevocationList, maxAge: Int64)
    /// The gateway should have a CRL but has none it may use (none fetched
    /// yet and none cached, or the cached one failed verification).
    case unavailable(reason: String)
}

/// The revocation rule (DESIGN.md, issue 14 item 3), pure: a broker-issued
/// signer certificate on the broker's CRL is refused
///
/// - superseded (a renewal, a rekey, a domain added: a routine
///   replacement): when the message was signed at or after the revocation
///   date; mail signed before it, still in a queue, stands;
/// - for every other reason (key compromise, affiliation changed,
///   cessation of operation, unspecified): always, whatever the message's
///   signingTime, which the signer chooses and could backdate.
///
/// A CRL older than the gateway's maximum age (or past its nextUpdate), a
/// CRL from the future, no CRL at all, or a signer whose serial is unknown
/// leave the question open: the message is tempfailed
/// (`revocation-unknown`), never passed unchecked. Static partners pinned
/// with `cert=` are not broker-issued and not subject to the broker's CRL.
public enum SignerRevocation {
    /// The outcome for one signer.
    public enum Outcome: Sendable, Hashable {
        /// Not revoked (or not subject to the CRL, or not checked).
        case good
        /// Refused: `signer-revoked`.
        case revoked(String)
        /// Undecidable now: `revocation-unknown` (a temporary failure).
        case unknown(String)
    }

    public static func check(_ signer: VerifiedSeal.Signer, state: RevocationState, now: Int64) -> Outcome {
        if signer.pinned { return .good }
        switch state {
        case .notChecked:
            return .good
        case .unavailable(let reason):
            return .unknown("no usable CRL from the broker: \(reason)")
        case .list(let list, let maxAge):
            switch list.freshness(now: now, maxAge: maxAge) {
            case .current: break
            case .tooOld(let age):
                return .unknown("the broker's CRL is \(age) s old (issued \(list.thisUpdate)), older than CRLMaxAge \(maxAge) s or past its nextUpdate")
            case .notYetValid:
                return .unknown("the broker's CRL was issued in the future (\(list.thisUpdate), now \(now))")
            }
            guard !signer.serial.isEmpty else {
                return .unknown("the signer certificate's serial number is unknown")
            }
            guard let entry = list.entry(forSerial: signer.serial) else { return .good }
            if !entry.reason.keepsEarlierSignatures {
                return .revoked("signer \(signer.organization) certificate \(signer.serial) was revoked (\(entry.reason.rawValue)) at \(entry.revokedAt); nothing signed with it is accepted, whatever its signingTime (\(signer.signingTime))")
            }
            if signer.signingTime >= entry.revokedAt {
                return .revoked("signer \(signer.organization) certificate \(signer.serial) was revoked (\(entry.reason.rawValue)) at \(entry.revokedAt), before the message was signed (\(signer.signingTime))")
            }
            return .good
        }
    }
}
