import FedMailCore
import Foundation
import Logging
import Milter
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#endif

@Suite("fedmail-milter command line")
struct CommandLineTests {
    @Test("options")
    func options() throws {
        let defaults = try CommandLineOptions(arguments: [])
        #expect(defaults.action == .run)
        #expect(defaults.configurationPath == "/etc/fedmail/fedmail-milter.conf")
        #expect(!defaults.foreground)
        let full = try CommandLineOptions(arguments: ["-f", "-c", "/tmp/x.conf"])
        #expect(full.foreground && full.configurationPath == "/tmp/x.conf")
        #expect(try CommandLineOptions(arguments: ["-c/tmp/y.conf", "-n"]).configurationPath == "/tmp/y.conf")
        #expect(try CommandLineOptions(arguments: ["-n"]).action == .checkConfiguration)
        #expect(try CommandLineOptions(arguments: ["-V"]).action == .version)
        #expect(try CommandLineOptions(arguments: ["--help"]).action == .help)
    }

    @Test("usage errors", arguments: [["-c"], ["-x"], ["extra"], ["--config=/x"]])
    func usageErrors(arguments: [String]) {
        #expect(throws: CommandLineOptions.UsageError.self) { _ = try CommandLineOptions(arguments: arguments) }
    }

    @Test("-V, --help and a bad option exit with the right status")
    func exitCodes() {
        #expect(MilterDaemon.main(arguments: ["-V"]) == 0)
        #expect(MilterDaemon.main(arguments: ["-x"]) == 64)
    }

    @Test("--help names every configuration key", arguments: MilterConfiguration.knownNames)
    func helpNamesEveryKey(name: String) {
        let words = CommandLineOptions.helpText.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "-") })
        #expect(words.contains { $0 == name }, "--help does not mention \(name)")
    }
}

@Suite("configuration files on disk")
struct ConfigurationLoaderTests {
    func writeFile(_ text: String) throws -> String {
        var template = Array("/tmp/fedmail-milter-conf.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    @Test("-n: 0 for a good file, 78 for a bad one, 66 for a missing one")
    func check() throws {
        let good = try writeFile("Socket local:/tmp/x.sock\n")
        defer { unlink(good) }
        let bad = try writeFile("Socket local:/tmp/x.sock\nColour blue\n")
        defer { unlink(bad) }
        #expect(MilterDaemon.main(arguments: ["-n", "-c", good]) == 0)
        #expect(MilterDaemon.main(arguments: ["-n", "-c", bad]) == 78)
        #expect(MilterDaemon.main(arguments: ["-n", "-c", "/nonexistent/fedmail.conf"]) == 66)
    }

    @Test("an unknown UserID is an error on its line")
    func unknownUser() throws {
        let path = try writeFile("Socket local:/tmp/x.sock\nUserID no-such-user-fedmail\n")
        defer { unlink(path) }
        #expect {
            _ = try ConfigurationLoader.check(path: path)
        } throws: { error in
            (error as? ConfigurationError)?.description == "\(path):2: 'UserID': no such user 'no-such-user-fedmail'"
        }
    }

    @Test("reload: a good file replaces the configuration for new connections; a bad one is refused")
    func reload() throws {
        let path = try writeFile("Socket local:/tmp/x.sock\nLogLevel info\n")
        defer { unlink(path) }
        var inForce = try ConfigurationLoader.load(path: path)
        let inFlight = inForce
        let federation = FederationRuntimeStore(try FederationRuntime(configuration: inFlight, hostname: "h", connect: false))
        let sink = DaemonLogSink(level: .error, syslog: false, facility: "mail", standardError: false)
        let logger = Logger(label: "test") { _ in DaemonLogHandler(sink: sink) }

        let fd = open(path, O_WRONLY | O_TRUNC)
        let text = Array("Socket local:/tmp/x.sock\nLogLevel debug\nOn-InternalError accept\n".utf8)
        _ = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        MilterDaemon.reload(path: path, inForce: &inForce, federation: federation, hostname: "h", sink: sink, logger: logger)
        #expect(inForce.logLevel == .debug)
        #expect(inForce.onInternalError == .accept)
        #expect(federation.current.configuration.onInternalError == .accept)
        #expect(inFlight.logLevel == .info)
        #expect(sink.isEnabled(.debug))

        let fd2 = open(path, O_WRONLY | O_TRUNC)
        let broken = Array("Socket local:/tmp/x.sock\nLogLevel loud\n".utf8)
        _ = broken.withUnsafeBytes { Glibc.write(fd2, $0.baseAddress, $0.count) }
        close(fd2)
        MilterDaemon.reload(path: path, inForce: &inForce, federation: federation, hostname: "h", sink: sink, logger: logger)
        #expect(inForce.logLevel == .debug)
        #expect(inForce.onInternalError == .accept)
        #expect(federation.current.configuration.onInternalError == .accept)
    }
}

@Suite("federation handler basics")
struct FederationHandlerBasicsTests {
    @Test("it asks the MTA to replace headers and body, delete recipients and quarantine, with raw header values")
    func requirements() {
        let requirements = FederationHandler.requirements
        #expect(requirements.actions == [.addHeaders, .changeHeaders, .replaceBody, .deleteRecipients, .quarantine])
        #expect(requirements.collectsHeaders && requirements.collectsBody && requirements.rawHeaderValues)
        #expect(requirements.macros[.endOfMessage] == ["i"])
        #expect(requirements.macros[.envelopeSender]?.contains("{auth_type}") == true)
        #expect(requirements.macros[.connect]?.contains("{daemon_name}") == true)
    }

    @Test("the MTA need not wait at connect, HELO, MAIL FROM and each header field, but does at RCPT TO and end of headers")
    func stepsWithoutReply() {
        let requirements = FederationHandler.requirements
        #expect(requirements.unansweredStages == [.connect, .helo, .envelopeSender, .header])
        #expect(!requirements.unansweredStages.contains(.envelopeRecipient))
        #expect(!requirements.unansweredStages.contains(.endOfHeaders))
        #expect(requirements.stages.contains(.envelopeRecipient) && requirements.stages.contains(.endOfHeaders))
    }

    @Test("On-InternalError decides the answer to a failure")
    func failurePolicy() throws {
        let sink = DaemonLogSink(level: .error, syslog: false, facility: "mail", standardError: false)
        let logger = Logger(label: "test") { _ in DaemonLogHandler(sink: sink) }
        for (setting, expected) in [("tempfail", "tempfail"), ("reject", "reject"), ("accept", "continue"), ("quarantine", "tempfail")] {
            let configuration = try MilterConfiguration(parsing: "Socket local:/a\nOn-InternalError \(setting)\n", path: "f")
            let runtime = try FederationRuntime(configuration: configuration, hostname: "h", connect: false)
            let handler = FederationHandler(runtime: runtime, spoolDirectory: "/tmp", replayCache: ReplayCache(maxAge: 60), logger: logger)
            let response = handler.failed(TestFailure(), stage: .endOfMessage, session: MilterSession(id: 1, spoolThreshold: 1024, spoolDirectory: "/tmp"))
            #expect("\(response.status)" == expected)
        }
    }

    struct TestFailure: Error {}
}

@Suite("Log destinations")
struct LogDestinationTests {
    @Test("standard error counts as the journal only when JOURNAL_STREAM names fd 2's device and inode")
    func journalStream() {
        var status = stat()
        #expect(fstat(2, &status) == 0)
        let own = "\(status.st_dev):\(status.st_ino)"
        #expect(DaemonLogSink.standardErrorIsJournal(environment: ["JOURNAL_STREAM": own]))
        #expect(!DaemonLogSink.standardErrorIsJournal(environment: [:]))
        #expect(!DaemonLogSink.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"]))
        #expect(!DaemonLogSink.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
    }

    @Test("the level rank orders levels as LogLevel does")
    func levelRank() {
        for a in MilterConfiguration.LogLevel.allCases {
            for b in MilterConfiguration.LogLevel.allCases {
                #expect((DaemonLogSink.rank(a) < DaemonLogSink.rank(b)) == (a < b))
            }
        }
        let sink = DaemonLogSink(level: .notice, syslog: false, facility: "mail", standardError: false)
        #expect(sink.isEnabled(.warning) && sink.isEnabled(.notice) && !sink.isEnabled(.info))
        sink.setLevel(.debug)
        #expect(sink.isEnabled(.debug))
    }

    @Test("a log line is one line: every CR and LF a space, anything else as it is")
    func oneLine() {
        #expect(DaemonLogSink.oneLine("from=<a@b> rcpts=1: decision=untouched") == "from=<a@b> rcpts=1: decision=untouched")
        #expect(DaemonLogSink.oneLine("a\r\nb\nc\rd") == "a  b c d")
        #expect(DaemonLogSink.oneLine("caf\u{E9}\n\u{2028}") == "caf\u{E9} \u{2028}")
    }
}

@Suite("start-up directories")
struct StartupDirectoryTests {
    /// The broker clients write the token cache after the privilege drop:
    /// a named broker's directory made by root at start stayed unwritable.
    @Test("TokenCacheDir and a named broker's directory in it are made and handed to the UserID user")
    func tokenCacheDirectories() throws {
        let base = NSTemporaryDirectory() + "fedmail-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cache = base + "/cache"
        let configuration = try MilterConfiguration(parsing: """
            Socket local:/tmp/x.sock
            TokenCacheDir \(cache)
            Broker EU https://broker.eu.example
            """, path: base + "/milter.conf")
        let identity = try UserIdentity(resolving: .init(user: "nobody", group: nil))
        try MilterDaemon.prepareTokenCacheDirectories(configuration, identity: identity)
        for path in [cache, cache + "/eu"] {
            var info = stat()
            #expect(lstat(path, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFDIR)
            #expect(info.st_mode & 0o777 == 0o700)
            #expect(info.st_uid == identity.uid, "\(path)")
        }
    }
}
