import Foundation
import Synchronization
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func replayTestDirectory() -> String {
    let path = NSTemporaryDirectory() + "fedmail-replay-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func seal(_ byte: UInt8) -> [UInt8] {
    (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(byte)) }
}

private func fileLines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        .dropLast().map(String.init)
}

private let t0 = Date(timeIntervalSince1970: 1_750_000_000)
private let fiveDays: TimeInterval = 5 * 86_400

/// Results collected from several threads.
private final class Results: Sendable {
    private let fresh = Mutex<[Int: Int]>([:])
    func add(_ index: Int, _ count: Int) { fresh.withLock { $0[index] = count } }
    var values: [Int: Int] { fresh.withLock { $0 } }
}

@Suite("replay cache")
struct ReplayCacheTests {
    @Test("the split ledger lives in its own file beside the replay cache and survives a restart")
    func splitLedgerFile() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let replay = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        let ledger = try ReplayCache(directory: dir, fileName: ReplayCache.splitLedgerFileName, maxAge: fiveDays,
                                     recipientDelimiters: "", now: t0)
        _ = ledger.claim(sealID: seal(1), recipients: ["bob+x@b.example"], queueID: "Q1", now: t0)
        try ledger.commit(sealID: seal(1), recipients: ["bob+x@b.example"], now: t0)
        #expect(replay.count == 0)
        #expect(try fileLines(dir + "/split-ledger").count == 1)
        #expect(try fileLines(dir + "/replay-cache").isEmpty)
        let reopened = try ReplayCache(directory: dir, fileName: ReplayCache.splitLedgerFileName, maxAge: fiveDays,
                                       recipientDelimiters: "", now: t0 + 60)
        // No address extension folding in the ledger: bob is another recipient than bob+x.
        let claim = reopened.claim(sealID: seal(1), recipients: ["bob+x@b.example", "bob@b.example"], queueID: "Q2", now: t0 + 60)
        #expect(claim.duplicates.map(\.recipient) == ["bob+x@b.example"])
        #expect(claim.fresh == ["bob@b.example"])
    }

    @Test("the first delivery is fresh, the second a duplicate naming the first queue id")
    func firstThenDuplicate() throws {
        let cache = ReplayCache(maxAge: fiveDays)
        let first = cache.claim(sealID: seal(1), recipients: ["alice@example.org"], queueID: "4AbC1", now: t0)
        #expect(first.fresh == ["alice@example.org"] && first.duplicates.isEmpty)
        try cache.commit(sealID: seal(1), recipients: first.fresh, now: t0)
        #expect(cache.count == 1)
        let second = cache.claim(sealID: seal(1), recipients: ["alice@example.org"], queueID: "5DeF2", now: t0 + 10)
        #expect(second.fresh.isEmpty)
        #expect(second.duplicates == [ReplayCache.Duplicate(recipient: "alice@example.org", firstQueueID: "4AbC1")])
        // Another seal to the same recipient is another message.
        #expect(cache.claim(sealID: seal(2), recipients: ["alice@example.org"], queueID: "Q3", now: t0 + 10).fresh
            == ["alice@example.org"])
    }

    @Test("a recipient list split over two transactions is fresh in both; a replay of either is a duplicate")
    func splitRecipients() throws {
        let cache = ReplayCache(maxAge: fiveDays)
        let a = cache.claim(sealID: seal(1), recipients: ["a@x.example", "b@x.example"], queueID: "QA", now: t0)
        #expect(a.fresh == ["a@x.example", "b@x.example"])
        let b = cache.claim(sealID: seal(1), recipients: ["c@x.example"], queueID: "QB", now: t0 + 1)
        #expect(b.fresh == ["c@x.example"] && b.duplicates.isEmpty)
        try cache.commit(sealID: seal(1), recipients: a.fresh, now: t0 + 2)
        try cache.commit(sealID: seal(1), recipients: b.fresh, now: t0 + 2)
        let replay = cache.claim(sealID: seal(1), recipients: ["c@x.example", "a@x.example", "b@x.example"],
                                 queueID: "QR", now: t0 + 3)
        #expect(replay.fresh.isEmpty)
        #expect(replay.duplicates == [
            .init(recipient: "c@x.example", firstQueueID: "QB"),
            .init(recipient: "a@x.example", firstQueueID: "QA"),
            .init(recipient: "b@x.example", firstQueueID: "QA"),
        ])
        // A replay that adds a new recipient delivers to that one only.
        let mixed = cache.claim(sealID: seal(1), recipients: ["a@x.example", "d@x.example"], queueID: "QM", now: t0 + 4)
        #expect(mixed.fresh == ["d@x.example"])
        #expect(mixed.duplicates.map(\.recipient) == ["a@x.example"])
    }

    @Test("recipients compare case-insensitively and without angle brackets; the caller's spelling comes back")
    func normalization() throws {
        let cache = ReplayCache(maxAge: fiveDays)
        let first = cache.claim(sealID: seal(1), recipients: ["<Bob@Example.ORG>"], queueID: "Q1", now: t0)
        #expect(first.fresh == ["<Bob@Example.ORG>"])
        try cache.commit(sealID: seal(1), recipients: first.fresh, now: t0)
        let second = cache.claim(sealID: seal(1), recipients: ["bob@example.org", "<BOB@EXAMPLE.ORG>", " <bob@example.org> "],
                                 queueID: "Q2", now: t0 + 1)
        #expect(second.fresh.isEmpty)
        #expect(second.duplicates.map(\.recipient) == ["bob@example.org", "<BOB@EXAMPLE.ORG>", " <bob@example.org> "])
        #expect(ReplayCache.normalized("<>") == "")
        #expect(ReplayCache.normalized("<Ünïcode@Example>") == "ünïcode@example")
        // Committing with another spelling does not add a record.
        try cache.commit(sealID: seal(1), recipients: ["BOB@example.org"], now: t0 + 2)
        #expect(cache.count == 1)
    }

    @Test("a recipient listed twice in one transaction is fresh once")
    func repeatedRecipient() {
        let cache = ReplayCache(maxAge: fiveDays)
        let claim = cache.claim(sealID: seal(1), recipients: ["a@x.example", "<A@x.example>"], queueID: "Q1", now: t0)
        #expect(claim.fresh == ["a@x.example"])
        #expect(claim.duplicates == [.init(recipient: "<A@x.example>", firstQueueID: "Q1", pending: true)])
    }

    @Test("expired records never count as duplicates")
    func expiry() throws {
        let cache = ReplayCache(maxAge: 100)
        _ = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q1", now: t0)
        try cache.commit(sealID: seal(1), recipients: ["a@x.example"], now: t0)
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q2", now: t0 + 99).duplicates.count == 1)
        let late = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q3", now: t0 + 101)
        #expect(late.fresh == ["a@x.example"])
        try cache.commit(sealID: seal(1), recipients: late.fresh, now: t0 + 101)
        // The new record carries the new delivery's queue id and expiry.
        let again = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q4", now: t0 + 150)
        #expect(again.duplicates == [.init(recipient: "a@x.example", firstQueueID: "Q3")])
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q5", now: t0 + 202).fresh.count == 1)
        // Expired records are purged from memory.
        _ = cache.claim(sealID: seal(9), recipients: ["z@x.example"], queueID: "Q6", now: t0 + 1_000)
        #expect(cache.count == 0)
    }

    @Test("a released reservation makes a retry fresh")
    func release() throws {
        let cache = ReplayCache(maxAge: fiveDays)
        let first = cache.claim(sealID: seal(1), recipients: ["a@x.example", "b@x.example"], queueID: "Q1", now: t0)
        #expect(first.fresh.count == 2)
        cache.release(sealID: seal(1), claim: first)
        #expect(cache.reservationCount == 0)
        let retry = cache.claim(sealID: seal(1), recipients: ["a@x.example", "b@x.example"], queueID: "Q2", now: t0 + 60)
        #expect(retry.fresh == ["a@x.example", "b@x.example"])
        try cache.commit(sealID: seal(1), recipients: retry.fresh, now: t0 + 61)
        // Release never drops a committed record.
        cache.release(sealID: seal(1), claim: retry)
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q3", now: t0 + 62).duplicates
            == [.init(recipient: "a@x.example", firstQueueID: "Q2")])
    }

    @Test("a claim whose reservation lapsed and was taken over releases nothing of the new owner's")
    func releaseAfterTakeover() throws {
        let cache = ReplayCache(maxAge: fiveDays, maxEntries: 100, reservationLifetime: 600)
        let slow = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q1", now: t0)
        #expect(slow.fresh == ["a@x.example"])
        // Q1 is still working when its reservation lapses; Q2 takes it over.
        let takeover = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q2", now: t0 + 601)
        #expect(takeover.fresh == ["a@x.example"])
        // Q1 fails and releases: Q2's reservation stays, so a third copy is held back.
        cache.release(sealID: seal(1), claim: slow)
        let third = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q3", now: t0 + 602)
        #expect(third.fresh.isEmpty)
        #expect(third.duplicates == [.init(recipient: "a@x.example", firstQueueID: "Q2", pending: true)])
        // Q2's own release does drop it.
        cache.release(sealID: seal(1), claim: takeover)
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q4", now: t0 + 603).fresh == ["a@x.example"])
    }

    @Test("a reservation is a (pending) duplicate for a concurrent claim, and lapses when abandoned")
    func reservation() throws {
        let cache = ReplayCache(maxAge: fiveDays, maxEntries: 100, reservationLifetime: 600)
        let first = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q1", now: t0)
        #expect(first.fresh == ["a@x.example"])
        let concurrent = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q2", now: t0 + 1)
        #expect(concurrent.fresh.isEmpty)
        #expect(concurrent.duplicates == [.init(recipient: "a@x.example", firstQueueID: "Q1", pending: true)])
        #expect(cache.count == 0)
        // Never committed nor released: gone after 10 minutes.
        let later = cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q3", now: t0 + 601)
        #expect(later.fresh == ["a@x.example"])
        // A late commit records the live reservation's queue id.
        try cache.commit(sealID: seal(1), recipients: ["a@x.example"], now: t0 + 602)
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example"], queueID: "Q4", now: t0 + 603).duplicates
            == [.init(recipient: "a@x.example", firstQueueID: "Q3")])
        // Lapsed reservations are swept from memory.
        _ = cache.claim(sealID: seal(2), recipients: ["b@x.example"], queueID: "Q5", now: t0 + 2_000)
        _ = cache.claim(sealID: seal(3), recipients: ["c@x.example"], queueID: "Q6", now: t0 + 4_000)
        #expect(cache.reservationCount == 1)
    }

    @Test("committed records survive a new instance on the same directory; reservations do not")
    func persistence() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let cache = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
            #expect(cache.path == dir + "/replay-cache")
            let claim = cache.claim(sealID: seal(1), recipients: ["a@x.example", "<Odd Name%@Ex.ample>", "ü@x.example"],
                                    queueID: "4XyZ 9!", now: t0)
            try cache.commit(sealID: seal(1), recipients: claim.fresh, now: t0)
            _ = cache.claim(sealID: seal(2), recipients: ["b@x.example"], queueID: "Q2", now: t0)  // never committed
            let lines = try fileLines(dir + "/replay-cache")
            #expect(lines.count == 3)
            let expires = Int(t0.timeIntervalSince1970 + fiveDays)
            let hex = seal(1).map { String(format: "%02x", $0) }.joined()
            #expect(lines.contains("\(expires) \(hex) a@x.example 4XyZ9"))
            // White space outside quotes goes, as the MTA routes the address.
            #expect(lines.contains("\(expires) \(hex) oddname%25@ex.ample 4XyZ9"))
            #expect(lines.contains("\(expires) \(hex) %C3%BC@x.example 4XyZ9"))
        }
        let reopened = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0 + 3_600)
        #expect(reopened.count == 3)
        #expect(reopened.malformedLines == 0)
        let replay = reopened.claim(sealID: seal(1), recipients: ["A@X.example", "odd name%@ex.ample", "Ü@x.example"],
                                    queueID: "Q9", now: t0 + 3_600)
        #expect(replay.fresh.isEmpty)
        #expect(replay.duplicates.map(\.firstQueueID) == ["4XyZ9", "4XyZ9", "4XyZ9"])
        #expect(reopened.claim(sealID: seal(2), recipients: ["b@x.example"], queueID: "Q3", now: t0 + 3_600).fresh.count == 1)
        // Loading after MaxMessageAge: nothing left, and the file is compacted to nothing.
        let expired = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0 + fiveDays + 1)
        #expect(expired.count == 0)
        #expect(try fileLines(dir + "/replay-cache").isEmpty)
    }

    @Test("malformed and truncated lines are skipped and counted, and the file is rewritten clean")
    func corruptedFile() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hex = seal(1).map { String(format: "%02x", $0) }.joined()
        let good = Int(t0.timeIntervalSince1970) + 1_000
        var text = ""
        text += "\(good) \(hex) a@x.example Q1\n"
        text += "garbage\n"
        text += "\n"                                         // blank: ignored, not counted
        text += "\(good) \(hex) b@x.example\n"               // three fields
        text += "\(good) \(hex) c@x.example Q1 extra\n"      // five fields
        text += "-5 \(hex) d@x.example Q1\n"                 // bad expiry
        text += "\(good) abc e@x.example Q1\n"               // odd hex
        text += "\(good) zz f@x.example Q1\n"                // not hex
        text += "\(good) \(hex) g%2@x.example Q1\n"          // bad %-escape
        text += "\(good) \(hex) %FF%FE@x.example Q1\n"       // not UTF-8
        text += "\(good) \(hex) h@x.example Q/1\n"           // bad queue id
        text += "\(good)  \(hex) i@x.example Q1\n"           // empty field
        text += "\(good) \(hex) j@x.example -\n"             // unknown queue id: fine
        text += "\(Int(t0.timeIntervalSince1970) - 5) \(hex) k@x.example Q1\n"  // expired: dropped, not malformed
        text += String(repeating: "x", count: 20_000) + "\n" // overlong
        var bytes = Array(text.utf8)
        bytes += [0, 0xFF, 0x0A]                             // binary
        bytes += Array("\(good) \(hex) l@x.exa".utf8)        // truncated last line
        _ = FileManager.default.createFile(atPath: dir + "/replay-cache", contents: Data(bytes),
                                       attributes: [.posixPermissions: 0o600])
        let cache = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        #expect(cache.count == 2)
        #expect(cache.malformedLines == 13)
        #expect(cache.claim(sealID: seal(1), recipients: ["a@x.example", "j@x.example", "l@x.example"], queueID: "Q2",
                            now: t0).duplicates == [.init(recipient: "a@x.example", firstQueueID: "Q1"),
                                                    .init(recipient: "j@x.example", firstQueueID: "")])
        #expect(try fileLines(dir + "/replay-cache").count == 2)
        let clean = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        #expect(clean.malformedLines == 0 && clean.count == 2)
        // A stale temporary file of an interrupted compaction is removed.
        _ = FileManager.default.createFile(atPath: dir + "/replay-cache.tmp.AbC123", contents: Data("x\n".utf8))
        _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/replay-cache.tmp.AbC123"))
    }

    @Test("the file is created with mode 0600; a symbolic link, a non-regular or writable-by-others file is refused")
    func fileChecks() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/replay-cache"
        _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFREG)
        #expect(info.st_mode & 0o777 == 0o600)

        // A symbolic link, even to a good file.
        unlink(path)
        _ = FileManager.default.createFile(atPath: dir + "/target", contents: Data(), attributes: [.posixPermissions: 0o600])
        #expect(symlink(dir + "/target", path) == 0)
        #expect(throws: ReplayCache.Failure.self) { _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0) }
        do {
            _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        } catch {
            #expect(error.message.contains("symbolic link"))
        }
        // A dangling one is not followed to create a file either.
        unlink(dir + "/target")
        #expect(throws: ReplayCache.Failure.self) { _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0) }
        #expect(access(dir + "/target", F_OK) != 0)

        // Group- or world-writable.
        unlink(path)
        for mode: mode_t in [0o620, 0o602] {
            _ = FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: Int(mode)])
            #expect(chmod(path, mode) == 0)
            #expect(throws: ReplayCache.Failure.self) { _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0) }
            unlink(path)
        }

        // Not a regular file.
        #expect(mkfifo(path, 0o600) == 0)
        #expect(throws: ReplayCache.Failure.self) { _ = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0) }
        unlink(path)

        // A missing directory.
        #expect(throws: ReplayCache.Failure.self) {
            _ = try ReplayCache(directory: dir + "/missing", maxAge: fiveDays, now: t0)
        }
    }

    #if os(Linux)
    @Test("a failed write throws, keeps the records in memory, and a later compaction writes them")
    func writeFailure() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/replay-cache"
        let cache = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        try cache.commit(sealID: seal(1), recipients: ["a@x.example"], now: t0)
        // Find the cache's descriptor and make it read-only; take the directory away so compaction fails too.
        let entries = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        let fd = try #require(entries.compactMap(Int32.init).first {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path
        })
        let readOnly = open("/dev/null", O_RDONLY)
        #expect(dup2(readOnly, fd) == fd)
        close(readOnly)
        try FileManager.default.removeItem(atPath: dir)
        let claim = cache.claim(sealID: seal(1), recipients: ["b@x.example"], queueID: "QB", now: t0 + 1)
        #expect(throws: ReplayCache.Failure.self) {
            try cache.commit(sealID: seal(1), recipients: claim.fresh, now: t0 + 1)
        }
        // Committed in memory all the same.
        #expect(cache.count == 2)
        #expect(cache.claim(sealID: seal(1), recipients: ["b@x.example"], queueID: "QC", now: t0 + 2).duplicates
            == [.init(recipient: "b@x.example", firstQueueID: "QB")])
        // The directory is back: the next commit (after the retry delay) rewrites everything.
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try cache.commit(sealID: seal(1), recipients: ["c@x.example"], now: t0 + 120)
        #expect(try fileLines(path).count == 3)
        let reopened = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0 + 200)
        #expect(reopened.count == 3 && reopened.malformedLines == 0)
    }
    #endif

    @Test("when full, the records closest to expiry are evicted first")
    func eviction() throws {
        let cache = ReplayCache(maxAge: fiveDays, maxEntries: 3)
        for (index, recipient) in ["a", "b", "c", "d"].enumerated() {
            let now = t0 + TimeInterval(index)
            let claim = cache.claim(sealID: seal(1), recipients: [recipient + "@x.example"], queueID: "Q\(index)", now: now)
            try cache.commit(sealID: seal(1), recipients: claim.fresh, now: now)
        }
        #expect(cache.count == 3)
        #expect(cache.evictions == 1)
        let check = cache.claim(sealID: seal(1), recipients: ["a@x.example", "b@x.example", "c@x.example", "d@x.example"],
                                queueID: "QX", now: t0 + 10)
        #expect(check.fresh == ["a@x.example"])
        #expect(check.duplicates.map(\.firstQueueID) == ["Q1", "Q2", "Q3"])
        // Expired records make room before anything live is evicted.
        let aging = ReplayCache(maxAge: 100, maxEntries: 2)
        try aging.commit(sealID: seal(1), recipients: ["old@x.example"], now: t0)
        try aging.commit(sealID: seal(1), recipients: ["mid@x.example"], now: t0 + 50)
        try aging.commit(sealID: seal(1), recipients: ["new@x.example"], now: t0 + 101)
        #expect(aging.evictions == 0 && aging.count == 2)
    }

    @Test("a file with more than maxEntries records is cut down on load, closest to expiry first")
    func evictionOnLoad() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let cache = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
            for index in 0..<10 {
                try cache.commit(sealID: seal(UInt8(index)), recipients: ["r@x.example"], now: t0 + TimeInterval(index))
            }
        }
        let small = try ReplayCache(directory: dir, maxAge: fiveDays, maxEntries: 4, now: t0 + 20)
        #expect(small.count == 4)
        #expect(try fileLines(dir + "/replay-cache").count == 4)
        let fresh = (0..<10).filter {
            !small.claim(sealID: seal(UInt8($0)), recipients: ["r@x.example"], queueID: "Q", now: t0 + 20).fresh.isEmpty
        }
        #expect(fresh == [0, 1, 2, 3, 4, 5])
    }

    @Test("compaction keeps the file within about twice the live records")
    func compaction() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/replay-cache"
        let cache = try ReplayCache(directory: dir, maxAge: 1_000, maxEntries: 10, now: t0,
                                    reservationLifetime: 600, compactionFloor: 8)
        var largest = 0
        for index in 0..<500 {
            let now = t0 + TimeInterval(index)
            try cache.commit(sealID: seal(UInt8(index % 256)), recipients: ["r\(index)@x.example"], now: now)
            let lines = try fileLines(path).count
            #expect(lines == cache.fileLineCount)
            largest = max(largest, lines)
            #expect(lines <= max(2 * cache.count, 8))
        }
        #expect(cache.count == 10)
        #expect(largest <= 20)
        // Everything expires: the next commit compacts the file to its one live record.
        try cache.commit(sealID: seal(1), recipients: ["late@x.example"], now: t0 + 10_000)
        // 11 or more lines for 1 live record, above the floor of 8: compacted.
        #expect(try fileLines(path).count == 1)
        let reopened = try ReplayCache(directory: dir, maxAge: 1_000, now: t0 + 10_000)
        #expect(reopened.count == 1)
    }

    @Test("many threads claiming the same seal and recipient: exactly one gets it fresh")
    func concurrentClaims() throws {
        let dir = replayTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try ReplayCache(directory: dir, maxAge: fiveDays, now: t0)
        let results = Results()
        let recipients = ["a@x.example", "b@x.example", "c@x.example"]
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let claim = cache.claim(sealID: seal(7), recipients: index % 2 == 0 ? recipients : recipients.reversed(),
                                    queueID: "Q\(index)", now: t0)
            do {
                try cache.commit(sealID: seal(7), recipients: claim.fresh, now: t0)
            } catch {
                Issue.record("commit failed: \(error)")
            }
            // Unrelated seals in parallel.
            let own = cache.claim(sealID: seal(UInt8(100 + index)), recipients: ["a@x.example"], queueID: "O\(index)", now: t0)
            if own.fresh.count == 1 {
                cache.release(sealID: seal(UInt8(100 + index)), claim: own)
            }
            results.add(index, claim.fresh.count)
        }
        let counts = results.values
        #expect(counts.count == 64)
        #expect(counts.values.reduce(0, +) == 3)
        #expect(cache.count == 3)
        #expect(try fileLines(dir + "/replay-cache").count == 3)

        // The same seal and one recipient, all at once, no commit in between.
        let once = ReplayCache(maxAge: fiveDays)
        let winners = Results()
        DispatchQueue.concurrentPerform(iterations: 200) { index in
            winners.add(index, once.claim(sealID: seal(9), recipients: ["<Z@x.example>"], queueID: "Q\(index)", now: t0).fresh.count)
        }
        #expect(winners.values.values.reduce(0, +) == 1)
    }
}
