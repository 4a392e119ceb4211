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
/// ``release(sealID:claim:)`` drops them when it is not (tempfail,
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
        /// Which claim holds the reservations of ``fresh`` (unique per
        /// cache): ``ReplayCache/release(sealID:claim:)`` drops only its own.
        public var owner: UInt64

        public init(fresh: [String] = [], duplicates: [Duplicate] = [], owner: UInt64 = 0) {
            self.fresh = fresh
            self.duplicates = duplicates
            self.owner = owner
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
    /// The split ledger's file name inside the state directory: the same
    /// record format, keyed by split id instead of seal (``SplitID``).
    public static let splitLedgerFileName = "split-ledger"

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
    private let state: BlockingMutex<State>

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
    ///   - fileName: the file's name in `directory` (``fileName`` for the
    ///     replay cache, ``splitLedgerFileName`` for the split ledger).
    public convenience init(directory: String, fileName: String = ReplayCache.fileName, maxAge: TimeInterval,
                            maxEntries: Int = 1_000_000,
                            recipientDelimiters: String = defaultRecipientDelimiters, now: Date = Date()) throws(Failure) {
        try self.init(directory: directory, fileName: fileName, maxAge: maxAge, maxEntries: maxEntries, now: now,
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
    convenience init(directory: String, fileName: String = ReplayCache.fileName, maxAge: TimeInterval, maxEntries: Int, now: Date,
                     reservationLifetime: TimeInterval, compactionFloor: Int,
                     recipientDelimiters: String = defaultRecipientDelimiters) throws(Failure) {
        var settings = Settings(path: directory + "/" + fileName, directory: directory, maxAge: maxAge,
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
        self.state = BlockingMutex(state ?? State(settings: settings))
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

    /// Drops the reservations `claim` made for its fresh recipients with
    /// `sealID` (the message was not delivered), so a retry is fresh.
    /// Committed records are untouched, and so is a reservation another
    /// claim holds now (this one's expired and was taken over: dropping it
    /// would let a third copy through).
    public func release(sealID: [UInt8], claim: Claim) {
        state.withLock { state in
            for recipient in claim.fresh {
                let key = Key(seal: sealID, recipient: Self.normalized(recipient, delimiters: settings.recipientDelimiters))
                if state.reservations[key]?.owner == claim.owner { state.reservations.removeValue(forKey: key) }
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
}
