/// What `fedmailctl doctor` makes of the services the gateway talks to —
/// the broker, each `require` partner there, clamd — given what the probes
/// saw. Pure.
public enum ServiceChecks {
    /// How a broker call failed, in BrokerClient's terms.
    public enum BrokerFailure: Sendable, Hashable {
        /// Not reached or no answer in time.
        case unavailable(String)
        /// The broker answered with an error (e.g. 403: our certificate or organization).
        case refused(String)
        /// A local file (CA, key, certificate) is missing or unusable.
        case localFile(String)
        /// The answer did not validate against the pinned CA.
        case badAnswer(String)
    }

    /// `broker`: a request over mutual TLS with our certificate, which the
    /// broker answers only for a current certificate of an active organization.
    public static func broker(url: String, failure: BrokerFailure?, organization: String?) -> DoctorFinding {
        let id = "broker"
        switch failure {
        case nil:
            return .ok(id, "\(url) answers over mutual TLS; organization \(organization ?? "?") is active")
        case .unavailable(let message)?:
            return .fail(id, "\(url) is not reachable: \(message)",
                         fix: "check that the broker runs and that this host reaches it (firewall, DNS, BrokerURL); meanwhile mail to require partners is tempfailed and opportunistic partners get plaintext")
        case .refused(let message)?:
            return .fail(id, "\(url) refuses our organization certificate: \(message)",
                         fix: "a superseded certificate: `fedmailctl renew`; a revoked organization or key: ask the broker's operator, then enroll a new key, which they approve with `fedmail-broker org approve --replace-key ID`")
        case .localFile(let message)?:
            return .fail(id, "cannot use the local files to reach \(url): \(message)",
                         fix: "fix BrokerCA / OrgKey / OrgCertificate (see the checks above)")
        case .badAnswer(let message)?:
            return .fail(id, "\(url) answered, but not as a broker under the pinned BrokerCA: \(message)",
                         fix: "check that BrokerCA is this broker's CA (`curl -k BROKER/v1/ca`) and the broker's ServerName")
        }
    }

    /// One `require` partner's answer at the broker.
    public enum PartnerAnswer: Sendable, Hashable {
        /// A validated token and key container, usable until `expires` (seconds since 1970).
        case token(organization: String, expires: Int64)
        case notFederated
        case denied(String)
        case failed(BrokerFailure)
    }

    /// `partner` (subject: the domain): a token can be had for a `require` partner.
    public static func partner(domain: String, line: Int, answer: PartnerAnswer) -> DoctorFinding {
        let id = "partner"
        let note = "mail to it is tempfailed (require, allowlist line \(line))"
        switch answer {
        case .token(let organization, let expires):
            return .ok(id, "token for \(domain) (\(organization)) until \(RFC3339.format(secondsSince1970: expires))", subject: domain)
        case .notFederated:
            return .fail(id, "the broker knows no active organization for \(domain): \(note)",
                         fix: "check the spelling on allowlist line \(line); ask the partner to enroll \(domain), or make it opportunistic until they have",
                         subject: domain)
        case .denied(let reason):
            return .fail(id, "the broker denies tokens for \(domain): \(reason); \(note)",
                         fix: "the partner's or the broker's policy refuses us: ask the partner (or renew our certificate if it is the one expiring)",
                         subject: domain)
        case .failed(let failure):
            let message: String
            switch failure {
            case .unavailable(let text), .refused(let text), .localFile(let text), .badAnswer(let text): message = text
            }
            return .fail(id, "no token for \(domain): \(message); \(note)", fix: "see the broker check", subject: domain)
        }
    }

    /// `clamd`: `version` is clamd's answer to VERSION, nil with `error`.
    public static func clamd(address: String, version: String?, error: String?) -> DoctorFinding {
        guard let version else {
            return .fail("clamd", "clamd at \(address) does not answer: \(error ?? "no reply")",
                         fix: "start clamd (systemctl start clamav-daemon) and check that ClamdSocket is its LocalSocket/TCPSocket; until then mail is handled by On-ScanError (default tempfail)")
        }
        return .ok("clamd", "\(address) answers: \(version)")
    }
}
