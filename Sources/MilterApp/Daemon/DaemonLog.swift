import SystemIO
import FedMailCore
import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the daemon's log lines go: syslog and/or standard error, filtered
/// by a level that a reload can change. Shared by every logger of the process.
public final class DaemonLogSink: Sendable {
    /// The level's rank (``rank(_:)``): read for every line by every
    /// libmilter thread, so an atomic rather than a lock.
    private let levelRank: Atomic<Int>
    private let toSyslog: Bool
    private let toStandardError: Bool
    private let stderrLock = Mutex<Void>(())

    /// Creates the sink; opens syslog when `syslog` is true.
    public init(level: MilterConfiguration.LogLevel, syslog: Bool, facility: String, standardError: Bool) {
        self.levelRank = Atomic(Self.rank(level))
        self.toSyslog = syslog
        self.toStandardError = standardError
        if syslog {
            // openlog keeps the ident pointer: it stays allocated for the process.
            openlog(strdup(FedMailMilterVersion.name), LOG_PID | LOG_NDELAY, Self.facilityCode(facility))
        }
    }

    /// Whether standard error is connected to the systemd journal (the unit
    /// runs the daemon with `-f`): `$JOURNAL_STREAM` names the device and
    /// inode of the journal stream, compared with file descriptor 2's. The
    /// journal stores syslog lines too, so with `Syslog yes` the daemon then
    /// writes each line once, to syslog, instead of twice.
    public static func standardErrorIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// Changes the level (on reload).
    public func setLevel(_ newLevel: MilterConfiguration.LogLevel) {
        levelRank.store(Self.rank(newLevel), ordering: .relaxed)
    }

    /// Whether a line at `lineLevel` is logged.
    public func isEnabled(_ lineLevel: MilterConfiguration.LogLevel) -> Bool {
        Self.rank(lineLevel) <= levelRank.load(ordering: .relaxed)
    }

    /// A level's place in the order error < warning < notice < info < debug
    /// (as ``MilterConfiguration/LogLevel``'s `<`, without building `allCases`).
    static func rank(_ level: MilterConfiguration.LogLevel) -> Int {
        switch level {
        case .error: return 0
        case .warning: return 1
        case .notice: return 2
        case .info: return 3
        case .debug: return 4
        }
    }

    /// Writes one line.
    public func write(_ lineLevel: MilterConfiguration.LogLevel, _ message: String) {
        guard isEnabled(lineLevel) else { return }
        let clean = Self.oneLine(message)
        if toSyslog {
            clean.withCString { text in
                withVaList([text]) { vsyslog(Self.priority(lineLevel), "%s", $0) }
            }
        }
        if toStandardError {
            let line = "\(FedMailMilterVersion.name)[\(getpid())]: \(lineLevel.rawValue): \(clean)\n"
            stderrLock.withLock { _ in writeStandardError(line) }
        }
    }

    /// `message` on one line: every CR and LF a space (Unicode scalars,
    /// not Characters: "\r\n" is one Character). Most lines have neither
    /// and are returned as they are.
    static func oneLine(_ message: String) -> String {
        guard message.utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return message }
        var scalars = String.UnicodeScalarView()
        for scalar in message.unicodeScalars {
            scalars.append(scalar == "\n" || scalar == "\r" ? " " : scalar)
        }
        return String(scalars)
    }

    static func priority(_ level: MilterConfiguration.LogLevel) -> Int32 {
        switch level {
        case .error: return LOG_ERR
        case .warning: return LOG_WARNING
        case .notice: return LOG_NOTICE
        case .info: return LOG_INFO
        case .debug: return LOG_DEBUG
        }
    }

    static func facilityCode(_ name: String) -> Int32 {
        switch name {
        case "daemon": return LOG_DAEMON
        case "user": return LOG_USER
        case "local0": return LOG_LOCAL0
        case "local1": return LOG_LOCAL1
        case "local2": return LOG_LOCAL2
        case "local3": return LOG_LOCAL3
        case "local4": return LOG_LOCAL4
        case "local5": return LOG_LOCAL5
        case "local6": return LOG_LOCAL6
        case "local7": return LOG_LOCAL7
        default: return LOG_MAIL
        }
    }
}

/// A swift-log handler writing to a ``DaemonLogSink``. Metadata `queue-id`
/// becomes the line's prefix, as mail logs expect (`4ABC123: ...`).
public struct DaemonLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace
    private let sink: DaemonLogSink

    public init(sink: DaemonLogSink) {
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level: MilterConfiguration.LogLevel
        switch event.level {
        case .trace, .debug: level = .debug
        case .info: level = .info
        case .notice: level = .notice
        case .warning: level = .warning
        case .error, .critical: level = .error
        }
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        var line = event.message.description
        if let queueID = all.removeValue(forKey: "queue-id") {
            line = "\(queueID): \(line)"
        }
        if !all.isEmpty {
            line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        sink.write(level, line)
    }
}

/// Writes `text` to file descriptor 2 in full (one `write` per call when it fits).
func writeStandardError(_ text: String) {
    try? FileIO.writeAll(2, Array(text.utf8), name: "standard error")
}
