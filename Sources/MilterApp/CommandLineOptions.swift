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
        fedmail-milter is a milter (mail filter) daemon. Postfix
        (smtpd_milters) or Sendmail (INPUT_MAIL_FILTER) connect to its socket
        and pass it every message. This version adds a header naming the
        filter to each message:

            X-FedMail-Filter: fedmail-milter VERSION on HOST

        On start-up it reads its configuration, opens the socket (removing a
        stale unix socket left by an earlier run, refusing to start when
        another process still listens on it), detaches unless -f is given or
        Background is no, writes the pid file, then switches to UserID.

    OPTIONS
        -c FILE   Read the configuration from FILE
                  (default /etc/fedmail/fedmail-milter.conf).
        -f        Stay in the foreground and log to standard error as well
                  as syslog.
        -n        Check the configuration and exit: 0 when valid, otherwise
                  the error as FILE:LINE: MESSAGE and a non-zero status.
        -V        Print the version and exit.
        -h, --help
                  Print this help and exit.

    CONFIGURATION
        One "Name value" per line, # starts a comment, names are
        case-insensitive, unknown names are errors. Keys: Socket (required:
        local:/path, unix:/path, inet:port@host, inet6:port@host), PidFile,
        UserID (user[:group]), UMask, Background, Syslog, SyslogFacility,
        LogLevel (error|warning|notice|info|debug), TemporaryDirectory,
        BodySpoolThreshold (bytes, or 512k, 1m), On-InternalError
        (accept|reject|tempfail). See fedmail-milter.conf.example.

    SIGNALS
        SIGUSR1   Reload the configuration. Connections in progress keep the
                  old settings; a configuration with errors is refused, logged,
                  and the old one stays in force. Socket, UserID, PidFile and
                  the other start-up settings change only on restart.
        SIGTERM   Stop accepting connections, let those in progress finish
                  (up to 30 seconds), remove the pid file and exit.

    EXIT STATUS
        0 success; 64 usage error; 66 configuration file unreadable;
        67 unknown UserID; 69 socket unavailable; 70 internal error;
        71 system error; 73 pid file cannot be written; 77 UserID needs root;
        78 configuration error (see <sysexits.h>).

    FILES
        /etc/fedmail/fedmail-milter.conf
    """
}
