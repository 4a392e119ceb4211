import SystemIO
import FedMailCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One seal's delivery record for one recipient.
public struct ReplayEntry: Sendable, Hashable {
    /// The queue id of the transaction that delivered the seal to the recipient first.
    public var firstQueueID: String
    /// When the record is dropped (delivery time + MaxMessageAge).
    public var expires: Date

    public init(firstQueueID: String, expires: Date) {
        self.firstQueueID = firstQueueID
        self.expires = expires
    }
}

/// The inbound replay cache (DESIGN.md): a sealed message is delivered once
/// per envelope recipient. Keyed by the seal (e.g. the SHA-256 of the CMS
/// SignerInfo signature) and the normalized envelope recipient; records are
/// kept `maxAge` (MaxMessageAge) after delivery.
///
/// A transaction ``claim(sealID:recipients:queueID:now:)``s its recipients:
/// the ones not delivered before are *reserved* (a concurrent transaction with
/// the same seal sees them as duplicates), then ``commit(sealID:recipients:now:)``
/// makes them permanent once the message is accepted, or
/// ``release(sealID:recipients:)`` drops them when it is not (tempfail,
/// reject, error), so a retry is not taken for a duplicate. A reservation
/// that is neither committed nor released lapses after 10 minutes.
///
/// Shared by every libmilter thread: one lock guards all state, file writes
/// included (they go to the page cache and are short; the rare compaction
/// holds the lock while it rewrites the file).
///
/// Persistence (``init(directory:maxAge:maxEntries:now:)``): the file
/// `directory/replay-cache` (mode 0600) holds one line per committed record,
///
///     <expires, unix seconds> <seal id, lower-case hex> <recipient, %-encoded> <queue id or ->\n
///
/// The recipient is the normalized (lower-cased, `<>`-stripped) address with
/// every byte outside `!`…`~` and every `%` written `%XX`; the queue id keeps
/// only `A-Z a-z 0-9 . _` (at most 64 characters) and is `-` when empty.
/// Commits append their lines with one write(2) and no fsync: a restart or
/// crash of the daemon loses nothing (the kernel has the data); an operating
/// system crash or power loss can lose the last seconds of records, which
/// would let a copy delivered just before it be delivered once more. The
/// file is compacted (live records written to a temporary file in the same
/// directory, fsync'ed, renamed over the file, directory fsync'ed) when it is
/// loaded and whenever it holds more than twice the live records (and at
/// least 1024 lines), so it stays within about twice the live size. Only one
/// process may use a directory at a time.
///
/// Memory is bounded by `maxEntries` committed records (about 200 bytes each
/// with a 32-byte seal id and a typical address): when full, the records
/// closest to expiry are evicted first, 1% at a time (a replay of an evicted
/// seal is no longer recognized; ``evictions`` counts them).
public final class ReplayCache: Sendable {
    /// A recipient already delivered (or being delivered) with this seal.
    public struct Duplicate: Sendable, Hashable {
        /// The recipient as the caller spelled it.
        public var recipient: String
        /// The queue id of the first delivery ("" when unknown).
        public var firstQueueID: String
        /// True when that first delivery is still in flight (reserved by a
        /// concurrent transaction, not committed yet): if it fails and is
        /// released, the recipient is fresh again, so a caller that wants to be
        /// sure may tempfail rather than discard.
        public var pending: Bool

        public init(recipient: String, firstQueueID: String, pending: Bool = false) {
            self.recipient = recipient
            self.firstQueueID = firstQueueID
            self.pending = pending
        }
    }

    /// The answer to ``ReplayCache/claim(sealID:recipients:queueID:now:)``.
    public struct Claim: Sendable, Hashable {
        /// Recipients not delivered before with this seal (in input order, original spelling); now reserved.
        public var fresh: [String]
        /// Recipients already delivered with this seal, with the queue id of the first delivery.
        public var duplicates: [Duplicate]

        public init(fresh: [String] = [], duplicates: [Duplicate] = []) {
            self.fresh = fresh
            self.duplicates = duplicates
        }
    }

    /// A cache file that cannot be opened, read or written.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        public init(message: String) {
            self.message = message
        }
    }

    /// The file's name inside the state directory.
    public static let fileName = "replay-cache"

    /// The cache file's path, nil for an in-memory cache.
    public var path: String? { settings.path }
    /// How long a record is kept (seconds).
    public var maxAge: TimeInterval { settings.maxAge }
    /// The most committed records held.
    public var maxEntries: Int { settings.maxEntries }
    /// Lines of the file skipped on load because they were malformed (a
    /// truncated last line included).
    public let malformedLines: Int

    private let settings: Settings
    private let state: Mutex<State>

    /// Opens (creating it with mode 0600) the file `directory/replay-cache` and
    /// loads its unexpired records, then compacts it.
    ///
    /// - Parameters:
    ///   - directory: an existing directory writable by the process (the
    ///     compaction creates a file next to the cache file).
    ///   - maxAge: how long a record is kept (MaxMessageAge, seconds).
    ///   - maxEntries: the most records held; when full the ones closest to
    ///     expiry are evicted first.
    ///   - now: the current time (tests).
    /// - Throws: ``Failure`` when the file is a symbolic link, not a regular
    ///   file, group- or world-writable, or cannot be opened, read or compacted.
    public convenience init(directory: String, maxAge: TimeInterval, maxEntries: Int = 1_000_000,
                            recipientDelimiters: String = defaultRecipientDelimiters, now: Date = Date()) throws(Failure) {
        try self.init(directory: directory, maxAge: maxAge, maxEntries: maxEntries, now: now,
                      reservationLifetime: Settings.defaultReservationLifetime,
                      compactionFloor: Settings.defaultCompactionFloor, recipientDelimiters: recipientDelimiters)
    }

    /// An in-memory cache (no file), for tests and for configurations
    /// without a state directory: a restart forgets every record.
    public convenience init(maxAge: TimeInterval, maxEntries: Int = 1_000_000,
                            recipientDelimiters: String = defaultRecipientDelimiters) {
        var settings = Settings(path: nil, directory: nil, maxAge: maxAge, maxEntries: maxEntries,
                                reservationLifetime: Settings.defaultReservationLifetime,
                                compactionFloor: Settings.defaultCompactionFloor)
        settings.recipientDelimiters = recipientDelimiters
        self.init(settings: settings, state: nil, malformedLines: 0)
    }

    /// The file-backed initializer with the internal tunables exposed (tests).
    convenience init(directory: String, maxAge: TimeInterval, maxEntries: Int, now: Date,
                     reservationLifetime: TimeInterval, compactionFloor: Int,
                     recipientDelimiters: String = defaultRecipientDelimiters) throws(Failure) {
        var settings = Settings(path: directory + "/" + Self.fileName, directory: directory, maxAge: maxAge,
                                maxEntries: maxEntries, reservationLifetime: reservationLifetime,
                                compactionFloor: compactionFloor)
        settings.recipientDelimiters = recipientDelimiters
        let (state, malformed) = try State.load(settings: settings, now: now)
        self.init(settings: settings, state: state, malformedLines: malformed)
    }

    /// An in-memory cache with the internal tunables exposed (tests).
    convenience init(maxAge: TimeInterval, maxEntries: Int, reservationLifetime: TimeInterval) {
        self.init(settings: Settings(path: nil, directory: nil, maxAge: maxAge, maxEntries: maxEntries,
                                     reservationLifetime: reservationLifetime,
                                     compactionFloor: Settings.defaultCompactionFloor),
                  state: nil, malformedLines: 0)
    }

    private init(settings: Settings, state: State?, malformedLines: Int) {
        self.settings = settings
        self.state = Mutex(state ?? State(settings: settings))
        self.malformedLines = malformedLines
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 {
                close(state.fd)
                state.fd = -1
            }
        }
    }

    /// Atomically: which of `recipients` were already delivered with seal
    /// `sealID`, and reserves the fresh ones under `queueID` (a concurrent
    /// claim of the same seal and recipient sees them as duplicates).
    /// Recipients are compared case-insensitively, surrounding `<>` stripped;
    /// a recipient listed twice is fresh once and a (pending) duplicate after.
    /// Expired records never count.
    public func claim(sealID: [UInt8], recipients: [String], queueID: String, now: Date = Date()) -> Claim {
        let queueID = Self.sanitizedQueueID(queueID)
        return state.withLock { state in
            state.claim(sealID: sealID, recipients: recipients, queueID: queueID, now: now)
        }
    }

    /// Makes the reserved recipients of `sealID` permanent (kept `maxAge`
    /// from `now`) and appends them to the file. A recipient already
    /// committed keeps its first record; one that was not reserved (its
    /// reservation lapsed and was swept) is recorded with an unknown ("") queue id.
    ///
    /// - Throws: ``Failure`` when the file cannot be written; the records are
    ///   committed in memory all the same (and written by the next compaction).
    public func commit(sealID: [UInt8], recipients: [String], now: Date = Date()) throws(Failure) {
        try state.withLock { (state) throws(Failure) -> Void in
            try state.commit(sealID: sealID, recipients: recipients, now: now)
        }
    }

    /// Drops the reservations of `recipients` with `sealID` (the message was
    /// not delivered), so a retry is fresh. Committed records are untouched.
    public func release(sealID: [UInt8], recipients: [String]) {
        state.withLock { state in
            for recipient in recipients {
                state.reservations.removeValue(forKey: Key(seal: sealID, recipient: Self.normalized(recipient, delimiters: settings.recipientDelimiters)))
            }
        }
    }

    /// The committed records held (expired ones are purged at the next claim
    /// or commit at least a minute after the previous purge).
    public var count: Int {
        state.withLock { $0.entries.count }
    }

    /// Live records evicted because the cache was full.
    public var evictions: Int {
        state.withLock { $0.evictions }
    }

    /// Lines in the file (tests).
    var fileLineCount: Int {
        state.withLock { $0.fileLines }
    }

    /// Reservations held (tests).
    var reservationCount: Int {
        state.withLock { $0.reservations.count }
    }

    /// How long a delivery is remembered for `MaxMessageAge`: longer than
    /// every moment its seal still passes the opening policy, which accepts
    /// a signingTime up to the clock skew after the delivery and then for
    /// MaxMessageAge.
    public static func recordLifetime(maxMessageAge: Int) -> TimeInterval {
        TimeInterval(maxMessageAge) + 2 * TimeInterval(OpeningPolicy.defaultAllowedClockSkew)
    }

    // MARK: - Normalization and encoding

    /// Postfix's `recipient_delimiter` as Debian ships it.
    public static let defaultRecipientDelimiters = "+"

    /// A recipient as the cache compares it: the mailbox the MTA delivers
    /// to, whatever the spelling — parsed as an SMTP path (quoted local
    /// part unquoted, source route dropped, the address extension after a
    /// `delimiters` character dropped, domain canonical without a trailing
    /// dot), lower-cased; what does not parse: surrounding blanks and one
    /// pair of angle brackets removed, lower-cased.
    static func normalized(_ recipient: String, delimiters: String = defaultRecipientDelimiters) -> String {
        if let mailbox = try? AddressListParser.envelopePath(recipient) {
            let domain = DomainName(mailbox.domain)?.value ?? mailbox.domain.lowercased()
            // The address extension (bob+news@) reaches bob's mailbox: it is bob.
            var local = Substring(mailbox.localPart)
            if let cut = local.firstIndex(where: { delimiters.contains($0) }) { local = local[..<cut] }
            return (local + "@" + domain).lowercased()
        }
        var text = Substring(recipient)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        if text.count >= 2, text.first == "<", text.last == ">" {
            text = text.dropFirst().dropLast()
        }
        return text.lowercased()
    }

    /// A queue id reduced to `A-Z a-z 0-9 . _`, at most 64 characters.
    static func sanitizedQueueID(_ queueID: String) -> String {
        var bytes: [UInt8] = []
        for byte in queueID.utf8 where bytes.count < 64 {
            if isQueueIDByte(byte) { bytes.append(byte) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isQueueIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// One file line for a record (with its newline).
    static func line(key: Key, entry: ReplayEntry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(40 + key.seal.count * 2 + key.recipient.utf8.count + entry.firstQueueID.utf8.count)
        let seconds = entry.expires.timeIntervalSince1970.rounded(.up)
        let expires = seconds.isFinite ? Int64(max(0, min(seconds, 999_999_999_999))) : 0
        out.append(contentsOf: String(expires).utf8)
        out.append(UInt8(ascii: " "))
        for byte in key.seal {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        out.append(UInt8(ascii: " "))
        for byte in key.recipient.utf8 {
            if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigitsUpper[Int(byte >> 4)])
                out.append(hexDigitsUpper[Int(byte & 0x0F)])
            }
        }
        out.append(UInt8(ascii: " "))
        if entry.firstQueueID.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            out.append(contentsOf: entry.firstQueueID.utf8)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Parses one line (without its newline); nil when malformed.
    static func parse(line: ArraySlice<UInt8>, delimiters: String = defaultRecipientDelimiters) -> (key: Key, entry: ReplayEntry)? {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        // Expiry: 1–12 decimal digits.
        let expiresField = fields[0]
        guard (1...12).contains(expiresField.count),
              expiresField.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let expires = expiresField.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        // Seal id: 1–512 bytes of hex.
        let sealField = fields[1]
        guard sealField.count % 2 == 0, (2...1024).contains(sealField.count) else { return nil }
        var seal: [UInt8] = []
        seal.reserveCapacity(sealField.count / 2)
        var index = sealField.startIndex
        while index < sealField.endIndex {
            guard let high = hexValue(sealField[index]), let low = hexValue(sealField[index + 1]) else { return nil }
            seal.append(high << 4 | low)
            index += 2
        }
        // Recipient: strict %XX decoding, valid UTF-8.
        let recipientField = fields[2]
        guard !recipientField.isEmpty, recipientField.count <= 4096 else { return nil }
        var recipientBytes: [UInt8] = []
        recipientBytes.reserveCapacity(recipientField.count)
        index = recipientField.startIndex
        while index < recipientField.endIndex {
            let byte = recipientField[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < recipientField.endIndex,
                      let high = hexValue(recipientField[index + 1]),
                      let low = hexValue(recipientField[index + 2]) else { return nil }
                recipientBytes.append(high << 4 | low)
                index += 3
            } else {
                guard byte > 0x20, byte < 0x7F else { return nil }
                recipientBytes.append(byte)
                index += 1
            }
        }
        guard let recipient = String(validating: recipientBytes, as: UTF8.self) else { return nil }
        // Queue id: "-" (unknown) or 1–64 sanitized characters.
        let queueField = fields[3]
        let queueID: String
        if queueField.elementsEqual([UInt8(ascii: "-")]) {
            queueID = ""
        } else {
            guard (1...64).contains(queueField.count), queueField.allSatisfy(isQueueIDByte) else { return nil }
            queueID = String(decoding: queueField, as: UTF8.self)
        }
        return (Key(seal: seal, recipient: normalized(recipient, delimiters: delimiters)),
                ReplayEntry(firstQueueID: queueID, expires: Date(timeIntervalSince1970: TimeInterval(expires))))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let hexDigitsUpper = Array("0123456789ABCDEF".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}

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
            var claim = Claim()
            for recipient in recipients {
                let key = Key(seal: sealID, recipient: ReplayCache.normalized(recipient, delimiters: settings.recipientDelimiters))
                if let entry = entries[key], entry.expires > now {
                    claim.duplicates.append(Duplicate(recipient: recipient, firstQueueID: entry.firstQueueID))
                } else if let reservation = reservations[key], reservation.until > now {
                    claim.duplicates.append(Duplicate(recipient: recipient, firstQueueID: reservation.queueID,
                                                      pending: true))
                } else {
                    reservations[key] = Reservation(queueID: queueID, until: now + settings.reservationLifetime)
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
            removeStaleTemporaryFiles(directory: directory)
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
                (temporaryFD, temporaryPath) = try PrivateTemporaryFile.create(directory: directory, prefix: ReplayCache.fileName + ".tmp.")
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

        /// Removes `replay-cache.tmp.*` left by a compaction that was interrupted.
        static func removeStaleTemporaryFiles(directory: String) {
            guard let dir = opendir(directory) else { return }
            let prefix = ReplayCache.fileName + ".tmp."
            var stale: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name.hasPrefix(prefix) { stale.append(name) }
            }
            closedir(dir)
            for name in stale { unlink(directory + "/" + name) }
        }
    }
}

/// Writes all of `bytes` to the replay cache file.
private func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(ReplayCache.Failure) {
    do { try FileIO.writeAll(fd, bytes, name: "replay cache \(path)") } catch {
        throw ReplayCache.Failure(message: "cannot write \(error.message)")
    }
}
