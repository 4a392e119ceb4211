import ArgumentParser
import FedMailCore
import Foundation

/// `fedmailctl doctor`: checks a gateway and says, for each problem, what to do.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this gateway: configuration, keys, certificate, broker, partners, clamd, the milter socket, the re-injection service and the MTA's milter settings.",
        discussion: """
        Runs the checks below in order and prints one line per check: its status
        (ok, skip, WARN, FAIL), its id, what it found and, unless it is ok,
        "-- fix:" and what to do; then a summary line. Run it as root on the
        gateway after installing or changing anything, and from monitoring
        with --json.

        CHECKS (the ids are stable)
          config                 the milter configuration parses (the milter's
                                 own parser, the one fedmail-milter -n uses),
                                 UserID exists, OrgKey/OrgCertificate together
          allowlist              FederationAllowlist parses; cert= files are PEM
          key.permissions        OrgKey is a regular file no group or other can
                                 access (the rule every key reader applies),
                                 owned by the UserID user
          key.match              OrgKey is the key of OrgCertificate
          certificate.validity   OrgCertificate is valid now; WARN when fewer
                                 than --warn-days (14) days are left
          certificate.revocation OrgCertificate is not on the broker's CRL
                                 (GET /v1/crl, verified against BrokerCA)
          broker                 BrokerURL answers over mutual TLS with
                                 OrgCertificate: only for a current certificate
                                 of an active organization
          partner DOMAIN         each require partner of the allowlist has a
                                 token and key container at the broker (as
                                 fedmailctl lookup); cert= partners: the pinned
                                 certificate is valid
          clamd                  ClamdSocket answers VERSION (if configured)
          milter.socket          Socket exists, the MTA user (--mta-user) can
                                 reach and write it, the milter accepts a
                                 connection
          reinject               with MixedRecipients split: Reinject answers,
                                 the milter's UserID can reach it, and other
                                 local users cannot (WARN for a TCP port: what
                                 it is handed skips every milter)
          postfix.smtpd_milters  every network smtpd with milters names Socket
                                 as it sees it: a chrooted smtpd resolves unix:
                                 paths inside queue_directory
          postfix.non_smtpd_milters
                                 cleanup names Socket too (local submissions)
          postfix.milter_default_action
                                 tempfail (main.cf, -o, per-milter settings)
          postfix.milter_order   when the milter opens mail, no milter after
                                 it in smtpd_milters (WARN: its refusal of an
                                 opened message would make the partner's
                                 retry a discarded replay)
          sendmail.input_mail_filter
                                 with --sendmail-mc: INPUT_MAIL_FILTER with
                                 S= Socket and F=T

        Postfix is read with postconf -xh, -F and -P (-c DIR with
        --postfix-config). Without postconf and --sendmail-mc the MTA checks are
        skipped. A check needing what an earlier one found broken is skipped.
        Each check that talks to something (broker, clamd, the milter socket,
        postconf) gives up after --timeout seconds.

        JSON (--json): one object
          {"status": "ok|warn|fail", "exitCode": N,
           "counts": {"ok": N, "skip": N, "warn": N, "fail": N},
           "checks": [{"check": ID, "subject": DOMAIN|null,
                       "status": "ok|skip|warn|fail",
                       "message": TEXT, "fix": TEXT|null}, ...]}

        EXIT STATUS
          0   every check ok or skipped
          1   warnings, no failure
          2   at least one failure
          64  bad usage
        """)

    @Option(name: [.customShort("c"), .long],
            help: ArgumentHelp("The milter configuration to check.", valueName: "FILE"))
    var config: String = MilterConfiguration.defaultPath

    @Flag(help: "Print the findings as JSON (for monitoring).")
    var json = false

    @Option(help: ArgumentHelp("Postfix configuration directory for postconf -c (default: postconf's own).", valueName: "DIR"))
    var postfixConfig: String?

    @Option(help: ArgumentHelp("Check this Sendmail .mc file instead of Postfix.", valueName: "FILE"))
    var sendmailMc: String?

    @Option(help: ArgumentHelp("The user the MTA connects to the milter as (default postfix; root with --sendmail-mc).", valueName: "USER"))
    var mtaUser: String?

    @Option(help: ArgumentHelp("Seconds each check that talks to a service may take.", valueName: "SECONDS"))
    var timeout: Int = 10

    @Option(help: ArgumentHelp("Warn when the organization certificate expires within this many days.", valueName: "DAYS"))
    var warnDays: Int = CertificateChecks.defaultWarningDays

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be 1 to 300 seconds") }
        guard (1...365).contains(warnDays) else { throw ValidationError("--warn-days must be 1 to 365") }
        if postfixConfig != nil && sendmailMc != nil { throw ValidationError("give --postfix-config or --sendmail-mc, not both") }
    }

    func run() async throws {
        let probes = DoctorProbes(configPath: config, timeout: .seconds(timeout), warnDays: warnDays,
                                  mtaUser: mtaUser ?? (sendmailMc == nil ? "postfix" : "root"),
                                  postfixConfig: postfixConfig, sendmailMC: sendmailMc)
        let report = DoctorReport(findings: await probes.run())
        print(json ? report.json() : report.text(), terminator: "")
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
