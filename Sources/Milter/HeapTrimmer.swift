internal import CMilter
import Foundation
import Synchronization

/// Gives the C heap's free memory back to the kernel after messages were
/// handled.
///
/// Every message allocates and frees buffers of up to a few megabytes on
/// one of libmilter's many connection threads, and glibc keeps what was
/// freed in per-thread arenas for reuse: the daemon's resident memory then
/// climbs to the highest level any mix of concurrent messages ever reached
/// and stays there, which looks like a leak to an operator watching it.
/// Every `interval` seconds, when at least one message ended since the last
/// round, this asks glibc (`malloc_trim`) to return the free pages; memory
/// in use is untouched. A round costs a few milliseconds of arena locking.
public final class HeapTrimmer: Sendable {
    /// Seconds between rounds.
    public let interval: Double
    private let stopping = Atomic<Bool>(false)
    private let rounds = Atomic<Int>(0)

    public init(interval: Double = 30) {
        self.interval = max(1, interval)
    }

    /// Returns the C heap's free memory to the kernel now; true when some was released.
    @discardableResult
    public static func releaseFreeMemory() -> Bool {
        fedmail_release_free_heap() == 1
    }

    /// Rounds that released memory so far (tests, diagnostics).
    public var trims: Int { rounds.load(ordering: .relaxed) }

    /// Starts the thread (after any fork).
    public func start() {
        let thread = Thread { [self] in
            var lastEnded = MilterRegistry.shared.endedTransactions.load(ordering: .relaxed)
            while !stopping.load(ordering: .relaxed) {
                var slept = 0.0
                while slept < interval, !stopping.load(ordering: .relaxed) {
                    Thread.sleep(forTimeInterval: min(1, interval - slept))
                    slept += 1
                }
                let ended = MilterRegistry.shared.endedTransactions.load(ordering: .relaxed)
                guard ended != lastEnded, !stopping.load(ordering: .relaxed) else { continue }
                lastEnded = ended
                if Self.releaseFreeMemory() { rounds.add(1, ordering: .relaxed) }
            }
        }
        thread.name = "fedmail-heap"
        thread.start()
    }

    /// Asks the thread to end (within a second).
    public func stop() {
        stopping.store(true, ordering: .relaxed)
    }
}
