import Foundation
import Testing
@testable import Milter
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's resident memory comes back down after a burst of messages:
/// what a connection thread freed is returned to the kernel, not kept.
@Suite("heap trimmer")
struct HeapTrimmerTests {
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// On a thread of its own (its own glibc arena, as a libmilter
    /// connection thread has), allocates and touches `megabytes` in 64 KB
    /// blocks, then frees all but the last (which keeps the arena from
    /// shrinking by itself); returns that last block for the caller to free.
    static func burst(megabytes: Int) -> UnsafeMutableRawPointer? {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var kept: UnsafeMutableRawPointer?
        let thread = Thread {
            let size = 64 * 1024
            var blocks: [UnsafeMutableRawPointer] = []
            for _ in 0..<(megabytes * 16) {
                guard let block = malloc(size) else { break }
                memset(block, 0x5A, size)
                blocks.append(block)
            }
            kept = blocks.popLast()
            for block in blocks { free(block) }
            done.signal()
        }
        thread.start()
        done.wait()
        return kept
    }

    @Test("releaseFreeMemory gives a thread's freed heap back to the kernel")
    func releasesFreedHeap() throws {
        let kept = Self.burst(megabytes: 96)
        defer { free(kept) }
        let before = Self.residentBytes()
        #expect(HeapTrimmer.releaseFreeMemory())
        let after = Self.residentBytes()
        // 96 MB were freed but kept by the allocator; most of it must go.
        #expect(before - after > 48 * 1024 * 1024, "RSS \(before / 1_048_576) MB -> \(after / 1_048_576) MB")
    }
}
