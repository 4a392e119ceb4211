/// One finding of `fedmailctl doctor`: which check, how it came out, what
/// was seen and, unless it is fine, what the operator should do.
///
/// The check ids are stable (monitoring keys on them): `config`,
/// `allowlist`, `key.permissions`, `key.match`, `certificate.validity`,
/// `certificate.revocation`, `broker`, `partner` (one per `require`
/// partner, the domain in ``subject``), `clamd`, `milter.socket`, `reinject`,
/// `postfix.smtpd_milters`, `postfix.non_smtpd_milters`,
/// `postfix.milter_default_action`, `sendmail.input_mail_filter`.
public struct DoctorFinding: Sendable, Hashable {
    /// How a check came out, from best to worst.
    public enum Status: String, Sendable, Hashable, CaseIterable, Comparable {
        /// The check passed.
        case ok
        /// The check does not apply here (nothing configured for it) or
        /// could not run because an earlier check failed.
        case skip
        /// Works now, but needs attention (e.g. a certificate close to expiry).
        case warn
        /// Broken: mail is or will be refused, delayed or left unprotected.
        case fail

        public static func < (lhs: Status, rhs: Status) -> Bool {
            allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
        }
    }

    /// The stable check id.
    public var check: String
    /// What the check was about when it runs once per item (a partner domain), else nil.
    public var subject: String?
    public var status: Status
    /// What was found, in a sentence.
    public var message: String
    /// What to do about it; nil when there is nothing to do.
    public var fix: String?

    public init(check: String, subject: String? = nil, status: Status, message: String, fix: String? = nil) {
        self.check = check
        self.subject = subject
        self.status = status
        self.message = message
        self.fix = fix
    }

    public static func ok(_ check: String, _ message: String, subject: String? = nil) -> DoctorFinding {
        DoctorFinding(check: check, subject: subject, status: .ok, message: message)
    }

    public static func skip(_ check: String, _ message: String, subject: String? = nil) -> DoctorFinding {
        DoctorFinding(check: check, subject: subject, status: .skip, message: message)
    }

    public static func warn(_ check: String, _ message: String, fix: String, subject: String? = nil) -> DoctorFinding {
        DoctorFinding(check: check, subject: subject, status: .warn, message: message, fix: fix)
    }

    public static func fail(_ check: String, _ message: String, fix: String, subject: String? = nil) -> DoctorFinding {
        DoctorFinding(check: check, subject: subject, status: .fail, message: message, fix: fix)
    }
}
