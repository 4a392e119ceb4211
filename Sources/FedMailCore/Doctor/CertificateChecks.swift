/// What `fedmailctl doctor` makes of the organization's key and
/// certificate, given what the probes read: the key file's mode (with
/// SystemIO's `SecretFile` rule already applied) and owner, whether key and
/// certificate match, the certificate's dates and the broker's CRL. Pure.
public enum CertificateChecks {
    /// Below this many days left, the certificate is a warning.
    public static let defaultWarningDays = 14

    /// `key.permissions`: `isPrivate` is SecretFile's rule for `mode`;
    /// `owner` is the file's owner and `expectedOwner` the milter's
    /// `UserID` user (it re-reads the key on reload, after dropping
    /// privileges), nil when the milter keeps running as root.
    public static func keyPermissions(path: String, mode: UInt32, isRegularFile: Bool, isPrivate: Bool,
                                      owner: String, expectedOwner: String?) -> DoctorFinding {
        let id = "key.permissions"
        let octal = "0" + String(mode & 0o7777, radix: 8)
        guard isRegularFile else {
            return .fail(id, "\(path) is not a regular file", fix: "point OrgKey at the PEM key file itself")
        }
        guard isPrivate else {
            return .fail(id, "\(path) is mode \(octal): group or others can access the organization key, and the milter and fedmailctl refuse it",
                         fix: "chmod 600 \(path) (and, if others could read it, consider `fedmailctl rekey`)")
        }
        if let expectedOwner, owner != expectedOwner {
            return .warn(id, "\(path) is mode \(octal) but owned by \(owner): the milter runs as \(expectedOwner) and cannot read it when it reloads",
                         fix: "chown \(expectedOwner) \(path)")
        }
        return .ok(id, "\(path) is mode \(octal), owner \(owner)")
    }

    /// `key.match`: `problem` is nil when the key is the certificate's.
    public static func keyMatch(keyPath: String, certificatePath: String, problem: String?) -> DoctorFinding {
        let id = "key.match"
        guard let problem else {
            return .ok(id, "\(keyPath) is the key of \(certificatePath)")
        }
        return .fail(id, problem,
                     fix: "set OrgKey and OrgCertificate to the key and the certificate issued for it (after `fedmailctl rekey` they are replaced together; the old pair is KEY.previous/CERT.previous)")
    }

    /// `certificate.validity`: fail before notBefore and from notAfter on,
    /// warn when fewer than `warningDays` days are left. Times in seconds
    /// since 1970.
    public static func validity(path: String, notBefore: Int64, notAfter: Int64, now: Int64,
                                warningDays: Int = defaultWarningDays) -> DoctorFinding {
        let id = "certificate.validity"
        let until = RFC3339.format(secondsSince1970: notAfter)
        if now < notBefore {
            return .fail(id, "\(path) is not valid yet: from \(RFC3339.format(secondsSince1970: notBefore)) (now \(RFC3339.format(secondsSince1970: now)))",
                         fix: "check the system clock (timedatectl; NTP), or install the certificate meant for now")
        }
        if now >= notAfter {
            return .fail(id, "\(path) expired at \(until): partners refuse our seals and the broker our requests",
                         fix: "an expired certificate cannot renew: enroll the same key again (`fedmailctl enroll --key KEY --org ORG --domain ... --wait --cert \(path)`), which the broker's operator approves as a key replacement")
        }
        let left = notAfter - now
        let days = left / 86_400
        if left < Int64(warningDays) * 86_400 {
            let span = days >= 1 ? "\(days) day\(days == 1 ? "" : "s")" : "\(left / 3_600) hours"
            return .warn(id, "\(path) expires at \(until), in \(span) (warning under \(warningDays) days)",
                         fix: "`fedmailctl renew` now; the fedmail-renew.timer renews 10 days ahead: check `systemctl status fedmail-renew.timer` and its journal")
        }
        return .ok(id, "\(path) valid until \(until) (\(days) days)")
    }

    /// `certificate.revocation` against the broker's verified CRL. `list`
    /// nil means none could be had (`unavailable` says why); `serial` is
    /// the certificate's serial in hex.
    public static func revocation(path: String, serial: String, list: RevocationList?, unavailable: String?,
                                  now: Int64, maxAge: Int64) -> DoctorFinding {
        let id = "certificate.revocation"
        guard let list else {
            return .warn(id, "revocation of \(path) not checked: \(unavailable ?? "no CRL")",
                         fix: "make the broker's GET /v1/crl reachable (the milter needs it too: without a current CRL, sealed mail from partners is tempfailed as revocation-unknown)")
        }
        if let entry = list.entry(forSerial: serial) {
            let when = RFC3339.format(secondsSince1970: entry.revokedAt)
            if entry.reason == .superseded {
                return .fail(id, "\(path) (serial \(serial)) was superseded at \(when): the broker issued a newer certificate for this organization",
                             fix: "`fedmailctl renew` fetches the current certificate; then reload the milter")
            }
            return .fail(id, "\(path) (serial \(serial)) is revoked (\(entry.reason.rawValue)) since \(when)",
                         fix: "the broker's operator revoked it (fedmail-broker org revoke): ask them why; to come back, enroll a new key (`fedmailctl keygen`, `fedmailctl enroll`), which they approve with `fedmail-broker org approve --replace-key ID`")
        }
        switch list.freshness(now: now, maxAge: maxAge) {
        case .current:
            return .ok(id, "serial \(serial) is not on the broker's CRL (issued \(RFC3339.format(secondsSince1970: list.thisUpdate)))")
        case .tooOld(let age):
            return .warn(id, "serial \(serial) is not on the broker's CRL, but the CRL is \(age / 3_600) hours old or past its nextUpdate",
                         fix: "the broker should reissue its CRL regularly: check the broker (`fedmail-broker crl`) and its clock")
        case .notYetValid:
            return .warn(id, "the broker's CRL was issued in the future (\(RFC3339.format(secondsSince1970: list.thisUpdate)))",
                         fix: "check this host's clock and the broker's (timedatectl)")
        }
    }
}
