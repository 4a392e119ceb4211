/// Process exit codes from `<sysexits.h>`, as OpenDKIM and MTAs use them.
public enum ExitCode: Int32, Sendable {
    /// Success.
    case ok = 0
    /// Bad command-line usage.
    case usage = 64
    /// The configuration file cannot be read.
    case noInput = 66
    /// `UserID` names a user or group that does not exist.
    case noUser = 67
    /// A service (the socket) is unavailable.
    case unavailable = 69
    /// An internal software error.
    case software = 70
    /// An operating-system error (fork, setuid, ...).
    case osError = 71
    /// A file (the pid file) cannot be created.
    case cannotCreate = 73
    /// Permission denied (privilege drop needs root).
    case noPermission = 77
    /// The configuration is wrong.
    case config = 78
}
