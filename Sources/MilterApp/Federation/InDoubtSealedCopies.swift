import Crypto
import FedMailCore
import Foundation
import SystemIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sealed copies of split messages whose re-injection is, or may be, in
/// doubt (RFC 1047): once the end of data is sent, the re-injection service
/// may queue the copy and its reply never arrive — a Postfix smtpd
/// terminated between the queue file's commit and its `250` does exactly
/// that, and so does this milter killed while it waits for the reply. So a
/// split's sealed copy is kept here before it is re-injected and removed
/// once the service's answer is known (queued: after the split ledger
/// records it; refused: at once). When the client retries a message whose
/// copy is still here, the milter re-sends these very bytes instead of
/// sealing again: if both copies travel, they carry one seal, and the
/// receiving gateway's replay cache delivers it once per recipient and
/// discards the other. Sealing again would make a second, different seal,
/// delivered twice.
///
/// One file per split, its unconfirmed recipients and the keys it was
/// sealed with, named `<key>.<size>.<digest>` (``key(split:recipients:sealedWith:)``:
/// 64 hex digits; the size in bytes and the first 32 hex digits of the
/// content's SHA-256, so a copy cut short or garbled by a system crash is
/// never re-sent), mode 0600 in a 0700 directory, written to a temporary
/// name and renamed into place. It is written without fsync (it survives a killed milter; the
/// page cache has it) and fsync'ed when its re-injection actually ended in
/// doubt. A copy is re-used only while it is young enough for the partner
/// to open it (``copy(for:youngerThan:now:)``); files older than
/// `retention`, and temporary files left by a crash, are removed when the
/// store is swept and whenever a copy is kept. At most `capacity` copies
/// and `maxBytes` bytes are kept: past that a split goes without (a retry
/// after a doubt then seals again: a possible second copy, never a lost
/// one).
///
/// The copies are sealed (encrypted to the partner), so they hold no
/// plaintext; they stay in StateDirectory so a restart of the milter
/// between the attempts keeps the promise.
public final class InDoubtSealedCopies: Sendable {
    public let directory: String
    let retention: TimeInterval
    let capacity: Int
    let maxBytes: Int
    /// The name of the directory under StateDirectory.
    public static let directoryName = "split-in-doubt"

    /// Opens `directory`, creating it 0700 when missing. `owner`: the
    /// `UserID` the daemon will run as, given the directory with
    /// `fchown` on a descriptor opened without following a symbolic link
    /// (the daemon still runs as root here, in a StateDirectory that user
    /// owns). A directory open to group or others is made 0700. Nothing is
    /// swept here: ``sweep(now:)`` runs when a copy is kept, as the daemon's
    /// user, and once by the caller after the privilege drop.
    public init(directory: String, retention: TimeInterval, capacity: Int = 1_000, maxBytes: Int = 1 << 30,
                owner: (uid: uid_t, gid: gid_t)? = nil) throws(SystemIOError) {
        self.directory = directory
        self.retention = retention
        self.capacity = capacity
        self.maxBytes = maxBytes
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            let code = errno
            throw SystemIOError(.io, "cannot create \(directory): \(String(cString: strerror(code)))", errorNumber: code)
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw SystemIOError(.io, "\(directory) is not a directory (or is a symbolic link): \(String(cString: strerror(code)))", errorNumber: code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw SystemIOError(.io, "\(directory) is not a directory")
        }
        if info.st_mode & 0o077 != 0 {
            guard fchmod(fd, 0o700) == 0 else {
                throw SystemIOError(.io, "\(directory) is open to group or others (mode \(String(info.st_mode & 0o777, radix: 8))) and cannot be made 0700")
            }
        }
        if let owner, info.st_uid != owner.uid || info.st_gid != owner.gid {
            guard fchown(fd, owner.uid, owner.gid) == 0 else {
                let code = errno
                throw SystemIOError(.io, "cannot hand \(directory) to uid \(owner.uid): \(String(cString: strerror(code)))", errorNumber: code)
            }
        }
    }

    /// The file name for a split's sealed copy to `recipients` (the ledger's
    /// fresh claim: the same on every attempt until one is confirmed),
    /// sealed with `sealedWith` (the recipient organizations' keys and our
    /// signing certificate): when a partner's key or ours changes between
    /// attempts, the kept copy is not re-sent, the message is sealed again.
    static func key(split: SplitID, recipients: [String], sealedWith: [String] = []) -> String {
        var bytes = split.bytes
        func item(_ text: String) { bytes += Array(String(text.utf8.count).utf8) + [0x3A] + Array(text.utf8) }
        let distinct = Set(recipients.map(SplitID.normalized)).sorted()
        item(String(distinct.count))
        distinct.forEach(item)
        item(String(sealedWith.count))
        sealedWith.sorted().forEach(item)
        return Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// The kept copy for `key`, when there is one made less than `maxAge`
    /// ago and whole; an older or shorter one is removed (the partner might
    /// no longer open it) and nil returned.
    func copy(for key: String, youngerThan maxAge: TimeInterval, now: Date = Date()) -> String? {
        var found: String?
        for file in files(for: key) {
            let path = directory + "/" + file.name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let age = now.timeIntervalSince1970 - TimeInterval(info.st_mtim.tv_sec)
            if found == nil, age < maxAge, Int(info.st_size) == file.size, Self.digest(ofFileAt: path).map({ $0[...] }) == file.digest {
                found = path
            } else {
                unlink(path)
            }
        }
        return found
    }

    /// The first 32 hex digits of the SHA-256 of the file's content; nil
    /// when it cannot be read.
    static func digest(ofFileAt path: String) -> String? {
        guard let fd = try? FileIO.openRead(path) else { return nil }
        defer { FileIO.close(fd) }
        var hash = SHA256()
        while true {
            guard let chunk = try? FileIO.read(fd, count: 65_536, name: path) else { return nil }
            if chunk.isEmpty { break }
            hash.update(data: chunk)
        }
        return String(Hex.encode(Array(hash.finalize())).prefix(32))
    }

    /// Keeps a copy of the sealed message at `path` under `key`; `durable`
    /// fsyncs it first.
    /// - Throws: when it cannot be written or the store is full.
    func keep(sealedAt path: String, for key: String, durable: Bool = false, now: Date = Date()) throws(SystemIOError) {
        let kept = sweep(now: now)
        let size = FileIO.size(of: path) ?? 0
        guard kept.count < capacity, kept.bytes + size <= maxBytes else {
            throw SystemIOError(.io, "\(directory) already holds \(kept.count) copies of \(kept.bytes) bytes (at most \(capacity) and \(maxBytes) bytes)")
        }
        let input = try FileIO.openRead(path)
        defer { FileIO.close(input) }
        let (output, temporary) = try PrivateTemporaryFile.create(directory: directory, prefix: ".keep.")
        var renamed = false
        defer {
            FileIO.close(output)
            if !renamed { unlink(temporary) }
        }
        var hash = SHA256()
        var written = 0
        while true {
            let chunk = try FileIO.read(input, count: 65_536, name: path)
            if chunk.isEmpty { break }
            hash.update(data: chunk)
            try FileIO.writeAll(output, chunk, name: temporary)
            written += chunk.count
        }
        if durable { try Self.sync(output, name: temporary) }
        let digest = Hex.encode(Array(hash.finalize())).prefix(32)
        remove(key)
        guard rename(temporary, "\(directory)/\(key).\(written).\(digest)") == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot rename \(temporary): \(String(cString: strerror(code)))", errorNumber: code)
        }
        renamed = true
    }

    /// Writes the copy for `key` through to the disk: its re-injection
    /// ended in doubt, and the retry may come after a system crash.
    func makeDurable(_ key: String) throws(SystemIOError) {
        for file in files(for: key) {
            let path = directory + "/" + file.name
            let fd = try FileIO.openRead(path)
            defer { FileIO.close(fd) }
            try Self.sync(fd, name: path)
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Forgets the copy for `key` (its re-injection was answered).
    func remove(_ key: String) {
        for file in files(for: key) { unlink(directory + "/" + file.name) }
    }

    /// How many copies there are.
    public var count: Int { usage.copies }

    /// The copies kept now and their bytes, temporary files aside; only
    /// looked at, nothing removed (the metrics read it at each scrape).
    public var usage: (copies: Int, bytes: Int) {
        var usage = (copies: 0, bytes: 0)
        for name in names() where !name.hasPrefix(".") {
            guard let size = FileIO.regularFileSize(directory + "/" + name) else { continue }
            usage.copies += 1
            usage.bytes += size
        }
        return usage
    }

    /// Removes copies older than `retention`, and temporary files older
    /// than a minute; returns how many copies remain and their bytes.
    @discardableResult
    func sweep(now: Date = Date()) -> (count: Int, bytes: Int) {
        var remaining = (count: 0, bytes: 0)
        for name in names() {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let age = now.timeIntervalSince1970 - TimeInterval(info.st_mtim.tv_sec)
            if name.hasPrefix(".") {
                if age > 60 { unlink(path) }
            } else if age >= retention || info.st_mode & S_IFMT != S_IFREG {
                unlink(path)
            } else {
                remaining.count += 1
                remaining.bytes += Int(info.st_size)
            }
        }
        return remaining
    }

    /// The files named `<key>.<size>.<digest>`, with what their name records.
    private func files(for key: String) -> [(name: String, size: Int, digest: Substring)] {
        let prefix = key + "."
        return names().compactMap { name in
            guard name.hasPrefix(prefix) else { return nil }
            let parts = name.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let size = Int(parts[0]) else { return nil }
            return (name, size, parts[1])
        }
    }

    private static func sync(_ fd: Int32, name: String) throws(SystemIOError) {
        guard fsync(fd) == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot write \(name): \(String(cString: strerror(code)))", errorNumber: code)
        }
    }

    private func names() -> [String] { FileIO.names(in: directory) }
}
