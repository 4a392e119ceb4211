import FedMailCore
import Logging
import Milter
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `fedmail-milter` program: command line, configuration check, and the
/// daemon's start-up in OpenDKIM's order — configuration, umask, socket,
/// detach, pid file, privilege drop, then the libmilter main loop — with
/// SIGUSR1 reload and graceful SIGTERM stop.
public enum MilterDaemon {
    /// Seconds a stopping daemon waits for connections in progress.
    public static let drainTimeout = 30.0

    /// Runs the program and returns its exit status.
    public static func main(arguments: [String]) -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(arguments: arguments)
        } catch {
            printError("\(FedMailMilterVersion.name): \(error)\nTry '\(FedMailMilterVersion.name) --help'.")
            return ExitCode.usage.rawValue
        }
        switch options.action {
        case .help:
            print(CommandLineOptions.helpText)
            return ExitCode.ok.rawValue
        case .version:
            print("\(FedMailMilterVersion.name) \(FedMailMilterVersion.version)")
            return ExitCode.ok.rawValue
        case .checkConfiguration:
            do {
                _ = try ConfigurationLoader.check(path: options.configurationPath)
                print("\(options.configurationPath): configuration OK")
                return ExitCode.ok.rawValue
            } catch {
                printError("\(FedMailMilterVersion.name): \(error)")
                return exitCode(for: error).rawValue
            }
        case .run:
            return run(options: options).rawValue
        }
    }

    static func run(options: CommandLineOptions) -> ExitCode {
        SignalWatcher.blockSignals()
        let configuration: MilterConfiguration
        do {
            configuration = try ConfigurationLoader.check(path: options.configurationPath)
        } catch {
            printError("\(FedMailMilterVersion.name): \(error)")
            return exitCode(for: error)
        }
        var identity: UserIdentity?
        if let spec = configuration.userID {
            do { identity = try UserIdentity(resolving: spec) } catch {
                printError("\(FedMailMilterVersion.name): UserID: \(error)")
                return error.exitCode
            }
        }
        if let mask = configuration.umask { umask(mode_t(mask)) }

        // Under systemd with Syslog yes, syslog already reaches the journal:
        // standard error would show every line twice.
        let journal = configuration.syslog && DaemonLogSink.standardErrorIsJournal()
        let sink = DaemonLogSink(level: configuration.logLevel, syslog: configuration.syslog,
                                 facility: configuration.syslogFacility, standardError: options.foreground && !journal)
        let logger = Logger(label: "fedmail-milter") { _ in DaemonLogHandler(sink: sink) }
        let fail = { (message: String, code: ExitCode) -> ExitCode in
            logger.error("\(message)")
            if !options.foreground { printError("\(FedMailMilterVersion.name): \(message)") }
            return code
        }

        for path in PrivateDirectory.removeStale(parent: configuration.temporaryDirectory) {
            logger.notice("removed the spool directory \(path) left by a daemon that died")
        }
        // What start-up creates is removed in this one place however the
        // daemon ends (the parent of a detach leaves with _exit, which
        // skips this: the child owns it all).
        let footprint = DaemonFootprint()
        defer { footprint.remove() }
        let spool: PrivateDirectory
        do { spool = try PrivateDirectory(parent: configuration.temporaryDirectory) } catch {
            return fail("\(error.message)", .cannotCreate)
        }
        footprint.spool = spool
        var configurationInForce = configuration
        let hostname = Self.hostname()
        // Checked now (files, allowlist); broker clients are created after
        // detaching, since their threads would not survive the fork.
        let federation: FederationRuntimeStore
        do {
            federation = FederationRuntimeStore(try ConfigurationLoader.federationRuntime(
                configuration, path: options.configurationPath, hostname: hostname, connect: false))
        } catch {
            return fail("\(error)", .config)
        }
        let spoolPath = spool.path
        // A record must outlive every moment its seal still passes the
        // opening policy: MaxMessageAge after a signingTime that may lie up
        // to the allowed clock skew after the delivery.
        let replayAge = ReplayCache.recordLifetime(maxMessageAge: configuration.federation.maxMessageAge)
        let replayCache: ReplayCache
        if let directory = configuration.federation.stateDirectory {
            do {
                try Self.prepareStateDirectory(directory, owner: identity)
                replayCache = try ReplayCache(directory: directory, maxAge: replayAge,
                                              recipientDelimiters: configuration.federation.recipientDelimiter)
                if let identity { _ = chown(directory + "/replay-cache", identity.uid, identity.gid) }
            } catch {
                return fail("StateDirectory \(directory): \(error)", .cannotCreate)
            }
        } else {
            replayCache = ReplayCache(maxAge: replayAge, recipientDelimiters: configuration.federation.recipientDelimiter)
            if configuration.federation.mode.opens {
                logger.notice("no StateDirectory: the replay cache is kept in memory only and forgotten at restart")
            }
        }
        // The broker's CRL: the disk copy now, fetched after the fork (below).
        let revocations = RevocationListCache(stateDirectory: configuration.federation.stateDirectory)
        if let caPath = configuration.federation.brokerCAPath {
            revocations.loadFromDisk(brokerCAPath: caPath, logger: logger)
        }
        let server = MilterServer.Configuration(
            name: FedMailMilterVersion.name,
            requirements: FederationHandler.requirements,
            spoolDirectory: spool.path,
            spoolThreshold: configuration.bodySpoolThreshold,
            makeHandler: {
                FederationHandler(runtime: federation.current, spoolDirectory: spoolPath, replayCache: replayCache, logger: logger,
                                  revocations: revocations)
            },
            log: { logger.warning("\($0)") })
        do {
            try MilterServer.register(server)
        } catch {
            return fail("\(error.message)", .software)
        }

        if let path = configuration.socket.unixPath, UnixSocketProbe.isListening(path: path) {
            return fail("another process is listening on \(path); not starting", .unavailable)
        }
        do {
            try MilterServer.openSocket(configuration.socket.libmilterAddress, removeStale: true)
            footprint.socketPath = configuration.socket.unixPath
        } catch {
            return fail("\(error.message)", .unavailable)
        }
        if let identity {
            if let path = configuration.socket.unixPath { _ = chown(path, identity.uid, identity.gid) }
            do { try spool.changeOwner(uid: identity.uid, gid: identity.gid) } catch {
                return fail("\(error.message)", .osError)
            }
        }

        if configuration.background && !options.foreground {
            switch detach() {
            case .parent: _exit(0)  // the child owns the socket, spool and pid file
            case .failed(let message):
                return fail(message, .osError)
            case .child: break
            }
        }

        if let path = configuration.pidFile {
            do { footprint.pidFile = try PidFile(writingTo: path) } catch {
                return fail(error.message, .cannotCreate)
            }
        }
        do {
            federation.replace(with: try ConfigurationLoader.federationRuntime(
                configuration, path: options.configurationPath, hostname: hostname, connect: true))
        } catch {
            return fail("\(error)", .config)
        }
        if let identity {
            do { try identity.become() } catch {
                return fail(error.message, error.exitCode)
            }
        }

        let refresher = RevocationListRefresher(cache: revocations, federation: federation, logger: logger)
        if configuration.federation.mode.opens {
            // Without a copy from disk, fetch once before announcing that we
            // listen (at most BrokerTimeout), so the first sealed messages
            // are not tempfailed for want of a CRL.
            if revocations.current == nil { refresher.refreshOnce() }
            refresher.start()
            let federation = configuration.federation
            if federation.brokerCAPath != nil, federation.brokerURL == nil, federation.namedBrokers.isEmpty {
                logger.warning("BrokerCA is set but no BrokerURL or Broker to fetch the CRL from: sealed mail from broker-issued signers is tempfailed (revocation-unknown) unless StateDirectory holds a current crl.der")
            }
        }
        logger.notice("\(FedMailMilterVersion.name) \(FedMailMilterVersion.version) listening on \(configuration.socket)\(identity.map { " as \($0.user)" } ?? "")")
        let loopFailed = Atomic<Bool>(false)
        guard let loop = SignalWatcher.startThread({
            do { try MilterServer.run() } catch {
                logger.error("\(error)")
                loopFailed.store(true, ordering: .relaxed)
            }
            SignalWatcher.notifyMainLoopEnded()
        }) else {
            return fail("cannot start the milter thread", .osError)
        }
        var stopping = false
        events: while true {
            switch SignalWatcher.next() {
            case .reload:
                reload(path: options.configurationPath, inForce: &configurationInForce, federation: federation, hostname: hostname,
                       sink: sink, logger: logger)
            case .stop(let signal):
                guard !stopping else { continue }
                stopping = true
                logger.notice("signal \(signal) received: stopping; waiting up to \(Int(drainTimeout))s for \(MilterServer.activeTransactions) message(s) in progress")
                if !MilterServer.stopGracefully(timeout: drainTimeout) {
                    logger.warning("stopping with \(MilterServer.activeTransactions) message(s) unfinished; the MTA keeps and retries them")
                }
            case .mainLoopEnded:
                break events
            }
        }
        pthread_join(loop, nil)
        refresher.stop()
        federation.shutdown()
        let status: ExitCode = loopFailed.load(ordering: .relaxed) ? .software : .ok
        logger.notice("stopped")
        return status
    }

    /// Re-reads the configuration; a bad one is refused and the old one kept.
    /// Creates `StateDirectory` (0700) when missing and hands it to the
    /// `UserID` user, so the daemon can keep writing there after it drops
    /// its privileges.
    static func prepareStateDirectory(_ path: String, owner: UserIdentity?) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw FederationLoadError("cannot create: \(String(cString: strerror(errno)))")
            }
            guard lstat(path, &info) == 0 else { throw FederationLoadError("cannot stat: \(String(cString: strerror(errno)))") }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw FederationLoadError("not a directory") }
        guard info.st_mode & 0o002 == 0 else { throw FederationLoadError("is writable by anyone; make it 0700 or 0750") }
        if let owner, info.st_uid != owner.uid {
            guard chown(path, owner.uid, owner.gid) == 0 else {
                throw FederationLoadError("cannot hand it to \(owner.user): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func reload(path: String, inForce: inout MilterConfiguration, federation: FederationRuntimeStore, hostname: String,
                       sink: DaemonLogSink, logger: Logger) {
        let old = inForce
        let new: MilterConfiguration
        let runtime: FederationRuntime
        do {
            new = try ConfigurationLoader.load(path: path)
            runtime = try ConfigurationLoader.federationRuntime(new, path: path, hostname: hostname, connect: true)
        } catch {
            logger.error("reload refused, keeping the configuration in force: \(error)")
            return
        }
        federation.replace(with: runtime)
        let needRestart = new.settingsNeedingRestart(comparedTo: old)
        if !needRestart.isEmpty {
            logger.warning("reload: changes to \(needRestart.joined(separator: ", ")) take effect only after a restart")
        }
        inForce = new
        sink.setLevel(new.logLevel)
        logger.notice("configuration reloaded from \(path)")
    }

    enum DetachResult { case parent, child, failed(String) }

    /// Forks into the background: the parent returns, the child starts a new
    /// session with standard input and output on /dev/null.
    static func detach() -> DetachResult {
        let pid = fork()
        if pid < 0 { return .failed("fork failed: \(String(cString: strerror(errno)))") }
        if pid > 0 { return .parent }
        setsid()
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 0); dup2(null, 1); dup2(null, 2)
            if null > 2 { close(null) }
        }
        _ = chdir("/")
        return .child
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return name.isEmpty ? "localhost" : name
    }

    static func exitCode(for error: ConfigurationError) -> ExitCode {
        error.code == .unreadable ? .noInput : .config
    }

    static func printError(_ message: String) {
        writeStandardError(message + "\n")
    }
}

/// What a starting daemon created (spool directory, socket, pid file),
/// removed together when it stops or fails to start.
final class DaemonFootprint {
    var spool: PrivateDirectory?
    var pidFile: PidFile?
    /// The Unix socket this daemon opened (never one it found in use).
    var socketPath: String?

    func remove() {
        pidFile?.remove()
        spool?.remove()
        if let socketPath { unlink(socketPath) }
    }
}
