import FedMailCore
import Logging
import Milter
import Synchronization
import SystemIO
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

    /// Why the daemon could not start: logged, and the exit status.
    struct StartFailure: Error {
        var message: String
        var code: ExitCode
        init(_ message: String, _ code: ExitCode) {
            self.message = message
            self.code = code
        }
    }

    /// Start-up in OpenDKIM's order, then the event loop; every path out
    /// goes through the one cleanup of ``DaemonFootprint``.
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

        // What start-up creates is removed in this one place however the
        // daemon ends (the parent of a detach leaves with _exit, which
        // skips this: the child owns it all).
        let footprint = DaemonFootprint()
        defer { footprint.remove() }
        do {
            let started = try start(configuration, options: options, identity: identity, footprint: footprint, logger: logger)
            return try serve(started, options: options, configuration: configuration, sink: sink, logger: logger)
        } catch {
            logger.error("\(error.message)")
            if !options.foreground { printError("\(FedMailMilterVersion.name): \(error.message)") }
            return error.code
        }
    }

    /// What a started daemon serves with.
    struct Started {
        var federation: FederationRuntimeStore
        var refresher: RevocationListRefresher
        /// Returns the heap's free memory to the kernel after messages.
        var heapTrimmer: HeapTrimmer
        var hostname: String
        var identity: UserIdentity?
        var metrics: MilterMetrics
        /// The `/metrics` listener (`MetricsListen`), if configured.
        var metricsListener: MetricsListener?
    }

    /// Spool, federation runtime, replay cache, the libmilter socket,
    /// detach, pid file, broker clients, privilege drop, the CRL.
    static func start(_ configuration: MilterConfiguration, options: CommandLineOptions, identity: UserIdentity?,
                      footprint: DaemonFootprint, logger: Logger) throws(StartFailure) -> Started {
        // Only directories the daemon made (as root, then handed to UserID).
        let spoolOwners: Set<uid_t> = Set([geteuid()] + (identity.map { [$0.uid] } ?? []))
        for path in PrivateDirectory.removeStale(parent: configuration.temporaryDirectory, owners: spoolOwners) {
            logger.notice("removed the spool directory \(path) left by a daemon that died")
        }
        let spool: PrivateDirectory
        do { spool = try PrivateDirectory(parent: configuration.temporaryDirectory) } catch {
            throw StartFailure("\(error.message)", .cannotCreate)
        }
        footprint.spool = spool
        // Its work files are emptied and reused, not deleted and created
        // again per message (RecycledTemporaryFiles).
        RecycledTemporaryFiles.enable(directory: spool.path)
        // Messages whose body stayed in memory (BodySpoolThreshold) are
        // worked on in a private directory on tmpfs when there is one.
        var memorySpool: PrivateDirectory?
        if configuration.bodySpoolThreshold > 0 {
            for path in PrivateDirectory.removeStale(parent: PrivateDirectory.memoryParent, owners: spoolOwners) {
                logger.notice("removed the spool directory \(path) left by a daemon that died")
            }
            memorySpool = PrivateDirectory.inMemory()
            footprint.memorySpool = memorySpool
        }
        if let identity, let memorySpool {
            do { try memorySpool.changeOwner(uid: identity.uid, gid: identity.gid) } catch {
                throw StartFailure("\(error.message)", .osError)
            }
        }
        let hostname = Self.hostname()
        // Checked now (files, allowlist); broker clients are created after
        // detaching, since their threads would not survive the fork.
        let federation: FederationRuntimeStore
        do {
            federation = FederationRuntimeStore(try ConfigurationLoader.federationRuntime(
                configuration, path: options.configurationPath, hostname: hostname, connect: false))
        } catch {
            throw StartFailure("\(error)", .config)
        }
        let replayCache = try makeReplayCache(configuration, identity: identity, logger: logger)
        let splitLedger = try makeSplitLedger(configuration, identity: identity, logger: logger)
        let splitInDoubt = try makeSplitInDoubt(configuration, identity: identity, spool: spool)
        // The broker's CRL: the disk copy now, fetched after the fork (below).
        let revocations = RevocationListCache(stateDirectory: configuration.federation.stateDirectory)
        if let caPath = configuration.federation.brokerCAPath {
            revocations.loadFromDisk(brokerCAPath: caPath, logger: logger)
        }
        let spoolPath = spool.path
        let memorySpoolPath = memorySpool?.path
        let metrics = MilterMetrics()
        metrics.setSpoolDirectories([spoolPath] + (memorySpoolPath.map { [$0] } ?? []))
        metrics.setSplitInDoubt(splitInDoubt)
        let server = MilterServer.Configuration(
            name: FedMailMilterVersion.name,
            requirements: FederationHandler.requirements,
            spoolDirectory: spool.path,
            spoolThreshold: configuration.bodySpoolThreshold,
            makeHandler: {
                FederationHandler(runtime: federation.current, spoolDirectory: spoolPath, replayCache: replayCache, logger: logger,
                                  revocations: revocations, splitLedger: splitLedger, splitInDoubt: splitInDoubt,
                                  memorySpoolDirectory: memorySpoolPath,
                                  metrics: metrics)
            },
            log: { logger.warning("\($0)") })
        do { try MilterServer.register(server) } catch { throw StartFailure("\(error.message)", .software) }
        try openSocket(configuration, identity: identity, spool: spool, footprint: footprint)

        if configuration.background && !options.foreground {
            switch detach() {
            case .parent: _exit(0)  // the child owns the socket, spool and pid file
            case .failed(let message): throw StartFailure(message, .osError)
            case .child: break
            }
        }
        if let path = configuration.pidFile {
            do { footprint.pidFile = try PidFile(writingTo: path) } catch { throw StartFailure(error.message, .cannotCreate) }
        }
        try prepareTokenCacheDirectories(configuration, identity: identity)
        do {
            federation.replace(with: try ConfigurationLoader.federationRuntime(
                configuration, path: options.configurationPath, hostname: hostname, connect: true))
        } catch {
            throw StartFailure("\(error)", .config)
        }
        // After detaching (its thread would not survive the fork), before
        // dropping privileges (a port under 1024 needs them).
        let metricsListener = try startMetricsListener(configuration, metrics: metrics, logger: logger)
        if let identity {
            do { try identity.become() } catch {
                metricsListener?.shutdown()
                throw StartFailure(error.message, error.exitCode)
            }
        }
        // As the UserID user: the in-doubt copies older than their retention go.
        splitInDoubt?.sweep()
        let refresher = RevocationListRefresher(cache: revocations, federation: federation, logger: logger)
        startRevocationRefresh(configuration, refresher: refresher, revocations: revocations, logger: logger)
        let heapTrimmer = HeapTrimmer()
        heapTrimmer.start()
        return Started(federation: federation, refresher: refresher, heapTrimmer: heapTrimmer, hostname: hostname, identity: identity,
                       metrics: metrics, metricsListener: metricsListener)
    }

    /// The replay cache: in StateDirectory (created and handed to the
    /// `UserID` user), else in memory only.
    static func makeReplayCache(_ configuration: MilterConfiguration, identity: UserIdentity?,
                                logger: Logger) throws(StartFailure) -> ReplayCache {
        // A record must outlive every moment its seal still passes the
        // opening policy: MaxMessageAge after a signingTime that may lie up
        // to the allowed clock skew after the delivery.
        let replayAge = ReplayCache.recordLifetime(maxMessageAge: configuration.federation.maxMessageAge)
        let delimiters = configuration.federation.recipientDelimiter
        guard let directory = configuration.federation.stateDirectory else {
            if configuration.federation.mode.opens {
                logger.notice("no StateDirectory: the replay cache is kept in memory only and forgotten at restart")
            }
            return ReplayCache(maxAge: replayAge, recipientDelimiters: delimiters)
        }
        do {
            try Self.prepareStateDirectory(directory, owner: identity)
            let cache = try ReplayCache(directory: directory, maxAge: replayAge, recipientDelimiters: delimiters)
            // lchown: a symbolic link planted there is never followed as root.
            if let identity { _ = lchown(directory + "/replay-cache", identity.uid, identity.gid) }
            return cache
        } catch {
            throw StartFailure("StateDirectory \(directory): \(error)", .cannotCreate)
        }
    }

    /// The split ledger (``SplitID``): in StateDirectory next to the replay
    /// cache, else in memory only (a retry after a restart could then
    /// re-inject a second sealed copy).
    static func makeSplitLedger(_ configuration: MilterConfiguration, identity: UserIdentity?,
                                logger: Logger) throws(StartFailure) -> ReplayCache {
        let retention = FederationHandler.splitLedgerRetention
        guard let directory = configuration.federation.stateDirectory else {
            if configuration.federation.mode.seals && configuration.federation.mixedRecipients != .reject {
                logger.notice("no StateDirectory: the split ledger is kept in memory only; a client retrying a split message after a restart may get a second sealed copy delivered")
            }
            return ReplayCache(maxAge: retention, maxEntries: FederationHandler.splitLedgerCapacity, recipientDelimiters: "")
        }
        do {
            try Self.prepareStateDirectory(directory, owner: identity)
            let ledger = try ReplayCache(directory: directory, fileName: ReplayCache.splitLedgerFileName, maxAge: retention,
                                         maxEntries: FederationHandler.splitLedgerCapacity, recipientDelimiters: "")
            if let identity { _ = lchown(directory + "/" + ReplayCache.splitLedgerFileName, identity.uid, identity.gid) }
            return ledger
        } catch {
            throw StartFailure("StateDirectory \(directory): \(error)", .cannotCreate)
        }
    }

    /// Where sealed copies whose re-injection ended in doubt wait for the
    /// retry (``InDoubtSealedCopies``): StateDirectory/split-in-doubt, else
    /// the private spool (kept until the daemon stops). Nil when the milter
    /// does not seal (a reload may turn `MixedRecipients split` on, so a
    /// sealing milter always has one).
    static func makeSplitInDoubt(_ configuration: MilterConfiguration, identity: UserIdentity?,
                                 spool: PrivateDirectory) throws(StartFailure) -> InDoubtSealedCopies? {
        guard configuration.federation.mode.seals else { return nil }
        let directory = (configuration.federation.stateDirectory ?? spool.path) + "/" + InDoubtSealedCopies.directoryName
        do {
            return try InDoubtSealedCopies(directory: directory, retention: FederationHandler.splitLedgerRetention,
                                           owner: identity.map { ($0.uid, $0.gid) })
        } catch {
            throw StartFailure("\(directory): \(error.message)", .cannotCreate)
        }
    }

    /// Opens the libmilter socket (never over a live one) and hands it and
    /// the spool to the `UserID` user.
    static func openSocket(_ configuration: MilterConfiguration, identity: UserIdentity?, spool: PrivateDirectory,
                           footprint: DaemonFootprint) throws(StartFailure) {
        if let path = configuration.socket.unixPath, UnixSocketProbe.isListening(path: path) {
            throw StartFailure("another process is listening on \(path); not starting", .unavailable)
        }
        do {
            try MilterServer.openSocket(configuration.socket.libmilterAddress, removeStale: true)
            footprint.socketPath = configuration.socket.unixPath
        } catch {
            throw StartFailure("\(error.message)", .unavailable)
        }
        if let identity {
            if let path = configuration.socket.unixPath {
                do { try FileIO.changeSocketOwner(atPath: path, uid: identity.uid, gid: identity.gid) } catch {
                    throw StartFailure("handing the socket to \(identity.user): \(error.message)", .osError)
                }
            }
            do { try spool.changeOwner(uid: identity.uid, gid: identity.gid) } catch {
                throw StartFailure("\(error.message)", .osError)
            }
        }
    }

    /// Starts the CRL refresh when the milter opens mail. Without a copy
    /// from disk it fetches once first (at most BrokerTimeout), so the first
    /// sealed messages are not tempfailed for want of a CRL.
    static func startRevocationRefresh(_ configuration: MilterConfiguration, refresher: RevocationListRefresher,
                                       revocations: RevocationListCache, logger: Logger) {
        if let warning = configuration.scanning.upstreamTrustWarning { logger.warning("\(warning)") }
        guard configuration.federation.mode.opens else { return }
        if revocations.current == nil { refresher.refreshOnce() }
        refresher.start()
        let federation = configuration.federation
        if federation.brokerCAPath != nil, federation.brokerURL == nil, federation.namedBrokers.isEmpty {
            logger.warning("BrokerCA is set but no BrokerURL or Broker to fetch the CRL from: sealed mail from broker-issued signers is tempfailed (revocation-unknown) unless StateDirectory holds a current crl.der")
        }
    }

    /// The libmilter loop on its thread, and signals on this one: SIGUSR1
    /// reloads, SIGTERM/SIGINT drain and stop.
    static func serve(_ started: Started, options: CommandLineOptions, configuration: MilterConfiguration,
                      sink: DaemonLogSink, logger: Logger) throws(StartFailure) -> ExitCode {
        logger.notice("\(FedMailMilterVersion.name) \(FedMailMilterVersion.version) listening on \(configuration.socket)\(started.identity.map { " as \($0.user)" } ?? "")")
        let loopFailed = Atomic<Bool>(false)
        guard let loop = SignalWatcher.startThread({
            do { try MilterServer.run() } catch {
                logger.error("\(error)")
                loopFailed.store(true, ordering: .relaxed)
            }
            SignalWatcher.notifyMainLoopEnded()
        }) else {
            throw StartFailure("cannot start the milter thread", .osError)
        }
        var configurationInForce = configuration
        var stopping = false
        events: while true {
            switch SignalWatcher.next() {
            case .reload:
                let reloaded = reload(path: options.configurationPath, inForce: &configurationInForce, federation: started.federation,
                                      hostname: started.hostname, sink: sink, logger: logger)
                started.metrics.recordReload(succeeded: reloaded)
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
        started.refresher.stop()
        started.metricsListener?.shutdown()
        started.heapTrimmer.stop()
        started.federation.shutdown()
        logger.notice("stopped")
        return loopFailed.load(ordering: .relaxed) ? .software : .ok
    }

    /// `TokenCacheDir` and its directory per named broker, made now (as
    /// root) and handed to the `UserID` user, who writes the cache after
    /// the privilege drop: a directory the broker client made as root
    /// would stay unwritable to it.
    static func prepareTokenCacheDirectories(_ configuration: MilterConfiguration, identity: UserIdentity?) throws(StartFailure) {
        guard let base = configuration.federation.tokenCacheDirectory else { return }
        let named = configuration.federation.namedBrokers.map { base + "/" + $0.name.lowercased() }
        for path in [base] + named {
            do {
                try prepareStateDirectory(path, owner: identity)
            } catch {
                throw StartFailure("TokenCacheDir \(path): \(error)", .cannotCreate)
            }
        }
    }

    /// Re-reads the configuration; a bad one is refused and the old one kept.
    /// Creates `StateDirectory` (0700) when missing and hands it to the
    /// `UserID` user, so the daemon can keep writing there after it drops
    /// its privileges.
    static func prepareStateDirectory(_ path: String, owner: UserIdentity?) throws {
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw FederationLoadError("cannot create: \(String(cString: strerror(errno)))")
        }
        // Checked and handed over through one descriptor, never following
        // a symbolic link (this runs as root).
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw FederationLoadError(errno == ELOOP || errno == ENOTDIR ? "not a directory" : "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FederationLoadError("cannot stat: \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o002 == 0 else { throw FederationLoadError("is writable by anyone; make it 0700 or 0750") }
        if let owner, info.st_uid != owner.uid {
            guard fchown(fd, owner.uid, owner.gid) == 0 else {
                throw FederationLoadError("cannot hand it to \(owner.user): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Whether the new configuration is in force.
    @discardableResult
    static func reload(path: String, inForce: inout MilterConfiguration, federation: FederationRuntimeStore, hostname: String,
                       sink: DaemonLogSink, logger: Logger) -> Bool {
        let old = inForce
        let new: MilterConfiguration
        let runtime: FederationRuntime
        do {
            new = try ConfigurationLoader.load(path: path)
            runtime = try ConfigurationLoader.federationRuntime(new, path: path, hostname: hostname, connect: true)
        } catch {
            logger.error("reload refused, keeping the configuration in force: \(error)")
            return false
        }
        federation.replace(with: runtime)
        let needRestart = new.settingsNeedingRestart(comparedTo: old)
        if !needRestart.isEmpty {
            logger.warning("reload: changes to \(needRestart.joined(separator: ", ")) take effect only after a restart")
        }
        inForce = new
        sink.setLevel(new.logLevel)
        logger.notice("configuration reloaded from \(path)")
        return true
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
    /// The spool on tmpfs for messages under BodySpoolThreshold.
    var memorySpool: PrivateDirectory?
    var pidFile: PidFile?
    /// The Unix socket this daemon opened (never one it found in use).
    var socketPath: String?

    func remove() {
        pidFile?.remove()
        spool?.remove()
        memorySpool?.remove()
        if let socketPath { unlink(socketPath) }
    }
}
