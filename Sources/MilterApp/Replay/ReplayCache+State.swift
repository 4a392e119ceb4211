import SystemIO
import FedMailCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - State

extension ReplayCache {
    /// A seal and a normalized recipient.
    struct Key: Hashable, Sendable {
        var seal: [UInt8]
        var recipient: String
    }

    /// A recipient reserved by a transaction in flight.
    struct Reservation: Sendable {
        var queueID: String
        var until: Date
        /// The claim that made it (``Claim/owner``).
        var owner: UInt64
    }

    /// The fixed configuration.
    struct Settings: Sendable {
        static let defaultReservationLifetime: TimeInterval = 600
        static let defaultCompactionFloor = 1024
        /// Expired records and lapsed reservations are swept at most this often.
        static let purgeInterval: TimeInterval = 60
        /// After a failed compaction, the next attempt waits this long.
        static let compactionRetryInterval: TimeInterval = 60
        /// Longer lines are malformed (the longest valid one is about 5 KB).
        static let maxLineLength = 8192

        var path: String?
        var directory: String?
        var maxAge: TimeInterval
        var maxEntries: Int
        var reservationLifetime: TimeInterval
        var compactionFloor: Int
        /// The MTA's recipient delimiters (address extensions folded).
        var recipientDelimiters = ReplayCache.defaultRecipientDelimiters

        /// The file's name in its directory.
        var fileName: String {
            path.flatMap { $0.split(separator: "/").last.map(String.init) } ?? ReplayCache.fileName
        }

        init(path: String?, directory: String?, maxAge: TimeInterval, maxEntries: Int,
             reservationLifetime: TimeInterval, compactionFloor: Int) {
            self.path = path
            self.directory = directory
            self.maxAge = max(0, maxAge)
            self.maxEntries = max(1, maxEntries)
            self.reservationLifetime = max(0, reservationLifetime)
            self.compactionFloor = max(1, compactionFloor)
        }
    }

    /// Everything the lock guards.
    struct State: Sendable {
        let settings: Settings
        var entries: [Key: ReplayEntry] = [:]
        var reservations: [Key: Reservation] = [:]
        /// The owner of the last claim.
        var lastOwner: UInt64 = 0
        /// The cache file, opened O_APPEND; -1 in memory.
        var fd: Int32 = -1
        /// Lines in the file (valid ones; a torn line is not counted).
        var fileLines = 0
        /// The last append failed: the file may end in a partial line, and
        /// holds fewer records than memory.
        var appendFailed = false
        var compactionRetry = Date.distantPast
        var nextPurge = Date.distantPast
        var evictions = 0

        init(settings: Settings) {
            self.settings = settings
        }

        // MARK: Operations

        mutating func claim(sealID: [UInt8], recipients: [String], queueID: String, now: Date) -> Claim {
            purgeIfDue(now: now)
            lastOwner += 1
            var claim = Claim(owner: lastOwner)
            for recipient in recipients {
                let key = Key(seal: sealID, recipient: ReplayCache.normalized(recipient, delimiters: settings.recipientDelimiters))
                if let entry = entries[key], entry.expires > now {
                    claim.duplicates.append(Duplicate(recipient: recipient, firstQueueID: entry.firstQueueID))
                } else if let reservation = reservations[key], reservation.until > now {
                    claim.duplicates.append(Duplicate(recipient: recipient, firstQueueID: reservation.queueID,
                                                      pending: true))
                } else {
                    reservations[key] = Reservation(queueID: queueID, until: now + settings.reservationLifetime, owner: lastOwner)
                    claim.fresh.append(recipient)
                }
            }
            return claim
        }

        mutating func commit(sealID: [UInt8], recipients: [String], now: Date) throws(Failure) {
            purgeIfDue(now: now)
            var added: [(key: Key, entry: ReplayEntry)] = []
            for recipient in recipients {
                let key = Key(seal: sealID, recipient: ReplayCache.normalized(recipient, delimiters: settings.recipientDelimiters))
                let reservation = reservations.removeValue(forKey: key)
                if let existing = entries[key] {
                    if existing.expires > now { continue }  // the first delivery's record stays
                } else {
                    makeRoom(now: now)
                }
                let entry = ReplayEntry(firstQueueID: reservation?.queueID ?? "", expires: now + settings.maxAge)
                entries[key] = entry
                added.append((key, entry))
            }
            guard fd >= 0 else { return }
            var appendError: Failure?
            if !added.isEmpty {
                var bytes: [UInt8] = appendFailed ? [UInt8(ascii: "\n")] : []  // ends a torn line
                for record in added { bytes += ReplayCache.line(key: record.key, entry: record.entry) }
                do throws(Failure) {
                    try writeAll(fd: fd, bytes, path: settings.path ?? "")
                    fileLines += added.count
                } catch {
                    appendFailed = true
                    appendError = error
                }
            }
            let oversized = fileLines > 2 * entries.count && fileLines >= settings.compactionFloor
            if (appendFailed || oversized) && now >= compactionRetry {
                do throws(Failure) {
                    try compact(now: now)
                    return  // the compacted file holds everything, this commit included
                } catch {
                    compactionRetry = now + Settings.compactionRetryInterval
                    throw appendError ?? error
                }
            }
            if let appendError { throw appendError }
        }

        // MARK: Expiry and eviction

        mutating func purgeIfDue(now: Date) {
            // Also when the clock went back a long way.
            guard now >= nextPurge || now + 2 * Settings.purgeInterval < nextPurge else { return }
            purgeExpired(now: now)
        }

        mutating func purgeExpired(now: Date) {
            nextPurge = now + Settings.purgeInterval
            let expired = entries.compactMap { $0.value.expires <= now ? $0.key : nil }
            for key in expired { entries.removeValue(forKey: key) }
            let lapsed = reservations.compactMap { $0.value.until <= now ? $0.key : nil }
            for key in lapsed { reservations.removeValue(forKey: key) }
        }

        /// Before adding a record: when full, drops expired records, then
        /// evicts the 1% (at least one) closest to expiry.
        mutating func makeRoom(now: Date) {
            guard entries.count >= settings.maxEntries else { return }
            purgeExpired(now: now)
            guard entries.count >= settings.maxEntries else { return }
            let excess = entries.count - settings.maxEntries + 1
            evictions += evict(max(excess, settings.maxEntries / 100))
        }

        /// Removes the `count` records closest to expiry; returns how many were removed.
        mutating func evict(_ count: Int) -> Int {
            let count = min(count, entries.count)
            guard count > 0 else { return 0 }
            let sorted = entries.values.map(\.expires).sorted()
            let threshold = sorted[count - 1]
            var atThreshold = count - sorted[..<count].lazy.filter { $0 < threshold }.count
            var victims: [Key] = []
            victims.reserveCapacity(count)
            for (key, entry) in entries where entry.expires <= threshold {
                if entry.expires < threshold {
                    victims.append(key)
                } else if atThreshold > 0 {
                    victims.append(key)
                    atThreshold -= 1
                }
            }
            for key in victims { entries.removeValue(forKey: key) }
            return victims.count
        }

        // MARK: File

        /// Opens, checks and reads the cache file, then compacts it.
        static func load(settings: Settings, now: Date) throws(Failure) -> (State, Int) {
            guard let path = settings.path, let directory = settings.directory else {
                return (State(settings: settings), 0)
            }
            removeStaleTemporaryFiles(directory: directory, fileName: settings.fileName)
            let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
            guard fd >= 0 else {
                let code = errno
                if code == ELOOP {
                    throw Failure(message: "replay cache \(path) is a symbolic link")
                }
                throw Failure(message: "cannot open replay cache \(path): \(ReplayCache.errorText(code))")
            }
            var status = stat()
            guard fstat(fd, &status) == 0 else {
                let code = errno
                close(fd)
                throw Failure(message: "cannot stat replay cache \(path): \(ReplayCache.errorText(code))")
            }
            guard status.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw Failure(message: "replay cache \(path) is not a regular file")
            }
            guard status.st_mode & 0o022 == 0 else {
                close(fd)
                throw Failure(message: "replay cache \(path) is group- or world-writable (mode \(String(status.st_mode & 0o7777, radix: 8)))")
            }
            var state = State(settings: settings)
            state.fd = fd
            let malformed: Int
            do throws(Failure) {
                malformed = try state.readFile(now: now)
                state.purgeExpired(now: now)
                if state.entries.count > settings.maxEntries {
                    state.evictions += state.evict(state.entries.count - settings.maxEntries)
                }
                try state.compact(now: now)
            } catch {
                // `state` owns the descriptor (compact may have replaced it).
                close(state.fd)
                throw error
            }
            return (state, malformed)
        }

        /// Reads every line of the file into `entries`; returns the number of
        /// malformed lines. Records expiring later than `now + maxAge` (the
        /// clock went back, or MaxMessageAge was lowered) are clamped to it.
        mutating func readFile(now: Date) throws(Failure) -> Int {
            let latest = now + settings.maxAge
            var malformed = 0
            var lines = 0
            var pending: [UInt8] = []
            var overlong = false
            var chunk = [UInt8](repeating: 0, count: 65536)

            func take(_ line: ArraySlice<UInt8>) {
                if line.isEmpty { return }  // the end of a torn line, or a blank line
                lines += 1
                guard var record = ReplayCache.parse(line: line, delimiters: settings.recipientDelimiters) else {
                    malformed += 1
                    return
                }
                guard record.entry.expires > now else { return }
                if record.entry.expires > latest { record.entry.expires = latest }
                if let existing = entries[record.key], existing.expires >= record.entry.expires { return }
                entries[record.key] = record.entry
            }

            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    throw Failure(message: "cannot read replay cache \(settings.path ?? ""): \(ReplayCache.errorText())")
                }
                if count == 0 { break }
                var start = 0
                while start < count {
                    let newline = chunk[start..<count].firstIndex(of: UInt8(ascii: "\n"))
                    let end = newline ?? count
                    if !overlong {
                        if pending.count + (end - start) > Settings.maxLineLength {
                            overlong = true
                            pending.removeAll(keepingCapacity: true)
                        } else {
                            pending.append(contentsOf: chunk[start..<end])
                        }
                    }
                    if newline != nil {
                        if overlong {
                            lines += 1
                            malformed += 1
                        } else {
                            take(pending[...])
                        }
                        pending.removeAll(keepingCapacity: true)
                        overlong = false
                    }
                    start = end + 1
                }
            }
            if overlong || !pending.isEmpty {  // a last line without its newline: truncated
                lines += 1
                malformed += 1
            }
            fileLines = lines
            return malformed
        }

        /// Writes the live records to a temporary file in the same directory,
        /// fsyncs it, renames it over the cache file and fsyncs the directory;
        /// the new file becomes the one commits append to.
        mutating func compact(now: Date) throws(Failure) {
            guard let path = settings.path, let directory = settings.directory else { return }
            purgeExpired(now: now)
            let temporaryFD: Int32
            let temporaryPath: String
            do {
                (temporaryFD, temporaryPath) = try PrivateTemporaryFile.create(directory: directory, prefix: settings.fileName + ".tmp.")
            } catch {
                throw Failure(message: "cannot create a file in \(directory) to compact the replay cache: \(error.message)")
            }
            func fail(_ what: String, _ code: Int32) -> Failure {
                close(temporaryFD)
                unlink(temporaryPath)
                return Failure(message: "compacting the replay cache: \(what) \(temporaryPath): \(ReplayCache.errorText(code))")
            }
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            do throws(Failure) {
                for (key, entry) in entries {
                    buffer += ReplayCache.line(key: key, entry: entry)
                    if buffer.count >= 1 << 20 {
                        try writeAll(fd: temporaryFD, buffer, path: temporaryPath)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                try writeAll(fd: temporaryFD, buffer, path: temporaryPath)
            } catch {
                close(temporaryFD)
                unlink(temporaryPath)
                throw Failure(message: "compacting the replay cache: \(error.message)")
            }
            guard fsync(temporaryFD) == 0 else { throw fail("fsync", errno) }
            let flags = fcntl(temporaryFD, F_GETFL)
            guard flags >= 0, fcntl(temporaryFD, F_SETFL, flags | O_APPEND) == 0 else { throw fail("fcntl", errno) }
            guard rename(temporaryPath, path) == 0 else { throw fail("rename to \(path)", errno) }
            let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directoryFD >= 0 {
                _ = fsync(directoryFD)
                close(directoryFD)
            }
            if fd >= 0 { close(fd) }
            fd = temporaryFD
            fileLines = entries.count
            appendFailed = false
        }

        /// Removes `NAME.tmp.*` (NAME: the file's name, e.g. `replay-cache`)
        /// left by a compaction that was interrupted.
        static func removeStaleTemporaryFiles(directory: String, fileName: String) {
            let prefix = fileName + ".tmp."
            for name in FileIO.names(in: directory) where name.hasPrefix(prefix) { unlink(directory + "/" + name) }
        }
    }
}

/// Writes all of `bytes` to the replay cache file.
private func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(ReplayCache.Failure) {
    do { try FileIO.writeAll(fd, bytes, name: "replay cache \(path)") } catch {
        throw ReplayCache.Failure(message: "cannot write \(error.message)")
    }
}
