import FedMailCore

/// The command line of `fedmail-milter`.
public struct CommandLineOptions: Sendable, Hashable {
    /// What the invocation asks for.
    public enum Action: Sendable, Hashable {
        /// Run the daemon.
        case run
        /// Check the configuration and exit (`-n`).
        case checkConfiguration
        /// Print the version (`-V`).
        case version
        /// Print the help (`--help`, `-h`).
        case help
    }

    /// The action.
    public var action: Action = .run
    /// The configuration file (`-c`).
    public var configurationPath: String = MilterConfiguration.defaultPath
    /// Stay in the foreground and log to standard error too (`-f`).
    public var foreground = false

    /// A command line that does not parse.
    public struct UsageError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses the arguments (without the program name).
    public init(arguments: [String]) throws(UsageError) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-c":
                index += 1
                guard index < arguments.count, !arguments[index].isEmpty else {
                    throw UsageError(message: "option -c needs a file name")
                }
                configurationPath = arguments[index]
            case "-f": foreground = true
            case "-n": action = .checkConfiguration
            case "-V", "--version": action = .version
            case "-h", "--help": action = .help
            default:
                if argument.hasPrefix("-c"), argument.count > 2 {
                    configurationPath = String(argument.dropFirst(2))
                } else if argument.hasPrefix("-") {
                    throw UsageError(message: "unknown option '\(argument)'")
                } else {
                    throw UsageError(message: "unexpected argument '\(argument)'")
                }
            }
            index += 1
        }
    }

    /// The `--help` text.
    public static let helpText = """
    NAME
        fedmail-milter - FedMail mail filter for Postfix and Sendmail

    SYNOPSIS
        fedmail-milter [-f] [-c FILE]
        fedmail-milter -n [-c FILE]
        fedmail-milter -V | --help

    DESCRIPTION
        fedmail-milter is the FedMail gateway filter. Postfix (smtpd_milters,
        non_smtpd_milters) or Sendmail (INPUT_MAIL_FILTER) connect to its
        socket and pass it every message.

        Outbound mail (from InternalHosts, an authenticated client, or an MTA
        daemon listed in MTA) for domains the federation allowlist lists is
        sealed at end of message: one AES-256-GCM content key per message,
        wrapped once per recipient organization whose key container and
        federation token come from the trust broker, signed with our
        organization key. Policy per domain: require (no token -> 451 4.7.0,
        never plaintext), opportunistic (plaintext with a header saying why),
        never. Mixed recipients: MixedRecipients split|defer|reject. We
        sign for the authors, so every From and Sender mailbox must be in
        our certificate's domains (else On-ForeignFrom, default 550 5.7.1).

        Inbound sealed mail for our Domains is opened at end of message and
        passed on only after the GCM tag, the signature, the signer's chain
        to BrokerCA, the tokens (signature, audience, purpose, sender, sender
        domains, signing time inside their validity), the signed list of
        recipient organizations (it must name us), every From and Sender
        mailbox (parsed strictly, in the signer's domains) and the message
        age verify, and the signer is not on the broker's CRL (key
        compromise: refused whatever the signingTime; other reasons: refused
        when signed at or after the revocation); the exact original is restored, delivered once per
        recipient (a replay cache in StateDirectory drops recipients it
        reached before), with Authentication-Results at the top under
        AuthservID. Such fields claiming our id (or a TrustedAuthservIDs one)
        are removed from every message reaching a local recipient. Mail not
        opened whose From names a require partner is refused.

        With ClamdSocket set, the original is scanned before sealing and after
        opening; the result travels as a signed control flag that a partner
        honors only when its allowlist entry says trust=virus-scan.

        On start-up it reads its configuration, opens the socket (removing a
        stale unix socket left by an earlier run, refusing to start when
        another process still listens on it), detaches unless -f is given or
        Background is no, writes the pid file, then switches to UserID.

    OPTIONS
        -c FILE   Read the configuration from FILE
                  (default /etc/fedmail/fedmail-milter.conf).
        -f        Stay in the foreground and log to standard error as well
                  as syslog (syslog only when standard error is the systemd
                  journal, which stores syslog lines too).
        -n        Check the configuration (and the allowlist, keys and
                  certificates it names) and exit: 0 when valid, otherwise
                  the error as FILE:LINE: MESSAGE and a non-zero status.
        -V        Print the version and exit.
        -h, --help
                  Print this help and exit.

    CONFIGURATION
        One "Name value" per line, # starts a comment, names are
        case-insensitive, unknown names are errors.
        Daemon: Socket (required: local:/path, unix:/path, inet:port@host,
        inet6:port@host), PidFile, UserID (user[:group]), UMask, Background,
        Syslog, SyslogFacility, LogLevel (error|warning|notice|info|debug),
        TemporaryDirectory, BodySpoolThreshold (bytes, or 512k, 1m).
        Federation: Mode (seal|open|both), Domains, AuthservID,
        TrustedAuthservIDs, InternalHosts, MTA, OrgKey, OrgCertificate,
        PreviousOrgKey, PreviousOrgCertificate (after a rekey, opening
        only), PreviousOrgKeyGrace (how long after the current certificate's
        notBefore the previous key opens; default 1 day + MaxMessageAge),
        BrokerURL, Broker, BrokerCA, BrokerTimeout,
        FederationAllowlist, TokenCacheDir, StateDirectory (replay cache,
        split ledger, sealed copies whose re-injection ended in doubt),
        RecipientDelimiter, MixedRecipients, Reinject, ProtectSubject,
        MaxMessageAge, CRLRefresh (how often the broker's CRL is fetched,
        default 15m), CRLMaxAge (sealed mail from a broker-issued signer is
        tempfailed, 451 4.7.0 revocation-unknown, while the newest CRL is
        older than this or there is none; default 24h). The CRL is kept in
        StateDirectory/crl.der across restarts and in memory across reloads.
        Scanning: ClamdSocket, ClamdTimeout, UpstreamVirusHeader,
        UpstreamSpamHeader, UpstreamScanHosts (the only clients whose upstream
        fields are trusted), InboundVirusHeader, InboundSpamHeader.
        Failure actions (accept|reject|tempfail|quarantine): On-InternalError,
        On-BrokerUnavailable, On-BadSeal, On-NotForUs, On-SpoofedPartner,
        On-ForeignFrom, On-Infected, On-ScanError.
        Metrics: MetricsListen, MetricsFromAnywhere (see METRICS).
        Every key is explained in fedmail-milter.conf.example and
        fedmail-milter.conf(5).

    METRICS
        MetricsListen ADDRESS:PORT serves Prometheus metrics (text format
        0.0.4) at http://ADDRESS:PORT/metrics: GET or HEAD only, a request
        head of at most 8 KiB read within 10 s, one answer per connection.
        Forms: PORT (127.0.0.1:PORT), 127.0.0.1:9466, localhost:9466,
        [::1]:9466; none (or no MetricsListen at all, the default) serves
        nothing. Addresses are IP literals, never looked up. /metrics has no
        authentication, so an address that is not loopback is a
        configuration error unless MetricsFromAnywhere yes. The listener is
        opened after detaching and before switching to UserID (a port under
        1024 works); a listener that cannot be opened stops the start (exit
        69); a change needs a restart.
        Series (prefix fedmail_milter_): messages_total{direction, decision,
        check} (decision: sealed, opened, plaintext, untouched, split,
        discard, or a failure action reject, tempfail, quarantine, accept
        with the failed check, e.g. tag-mismatch, spoofed-partner, no-token,
        infected), seal_duration_seconds and open_duration_seconds
        (histograms), broker_lookup_duration_seconds{result},
        broker_cache_hits_total, broker_cache_misses_total,
        clamd_scan_duration_seconds, clamd_scans_total{verdict},
        reinjections_total{result}, duplicates_discarded_total{ledger},
        spool_bytes, config_reloads_total{result}. No label ever holds an
        address or a domain.

    SIGNALS
        SIGUSR1   Reload the configuration and the allowlist (and the
                  cert= files it names). Connections in progress keep the
                  old settings; a configuration with errors is refused,
                  logged, and the old one stays in force. Socket, UserID,
                  PidFile and the other start-up settings change only on
                  restart.
        SIGTERM   Stop accepting connections, let those in progress finish
                  (up to 30 seconds), remove the pid file and exit.

    EXIT STATUS
        0 success; 64 usage error; 66 configuration file unreadable;
        67 unknown UserID; 69 socket unavailable; 70 internal error;
        71 system error; 73 pid file cannot be written; 77 UserID needs root;
        78 configuration error (see <sysexits.h>).

    FILES
        /etc/fedmail/fedmail-milter.conf
        /etc/fedmail/federation-allowlist

    SEE ALSO
        fedmail-milter.conf(5), fedmailctl(1), fedmail-broker(8)
    """
}
