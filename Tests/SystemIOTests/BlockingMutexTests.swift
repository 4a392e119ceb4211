import Foundation
@testable import SystemIO
import Testing

/// The lock libmilter's threads share per message: mutual exclusion holds
/// under more threads than cores, and a failure thrown inside leaves it
/// unlocked with the value as the body left it.
@Suite struct BlockingMutexTests {
    @Test func incrementsFromManyThreadsAreNeverLost() {
        let counter = BlockingMutex(0)
        let threads = 16, rounds = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<rounds {
                // Read, yield now and then, write: torn without the lock.
                counter.withLock { value in
                    let seen = value
                    if seen % 997 == 0 { sched_yield() }
                    value = seen + 1
                }
            }
        }
        #expect(counter.withLock { $0 } == threads * rounds)
    }

    struct Refused: Error {}

    @Test func aThrowingBodyReleasesTheLock() {
        let state = BlockingMutex([Int]())
        #expect(throws: Refused.self) {
            try state.withLock { (value: inout [Int]) throws(Refused) in
                value.append(1)
                throw Refused()
            }
        }
        // Not deadlocked: the lock is free again, and the change stands.
        #expect(state.withLock { $0 } == [1])
    }
}
