#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon's signals, taken with `sigwait` on the main thread while the
/// libmilter main loop runs on another: SIGUSR1 reloads, SIGTERM, SIGINT and
/// SIGHUP stop gracefully, SIGUSR2 is the internal "main loop ended" note.
///
/// The signals are blocked in every thread before any thread starts, so they
/// are only taken by `sigwait`. libmilter starts its own `sigwait` thread for
/// SIGTERM, SIGINT and SIGHUP that stops at once; Linux hands a signal sent
/// to the process to its main thread first when that thread waits for it, so
/// the graceful path here wins.
public enum SignalWatcher {
    /// What a received signal means.
    public enum Event: Sendable, Equatable {
        case reload
        case stop(signal: Int32)
        case mainLoopEnded
    }

    /// The signals the daemon takes with `sigwait`.
    static var watched: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the watched signals in the calling thread (and the threads it
    /// starts later) and ignores SIGPIPE. Call before any thread starts.
    public static func blockSignals() {
        var set = watched
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Waits for the next watched signal.
    public static func next() -> Event {
        var set = watched
        while true {
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            switch received {
            case SIGUSR1: return .reload
            case SIGUSR2: return .mainLoopEnded
            default: return .stop(signal: received)
            }
        }
    }

    /// Tells the main thread that the libmilter main loop returned.
    public static func notifyMainLoopEnded() {
        kill(getpid(), SIGUSR2)
    }

    /// Runs `body` on a new thread.
    ///
    /// - Returns: the thread, for `pthread_join`, or `nil` when it could not start.
    public static func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue().body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            return nil
        }
        return thread
    }

    private final class ThreadBody: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
