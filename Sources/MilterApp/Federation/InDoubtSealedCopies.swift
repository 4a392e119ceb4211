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
/// One file per split and its unconfirmed recipients, named
/// `<key>.<size>` (``key(split:recipients:)``: 64 hex digits; the size in
/// bytes, so a copy cut short by a system crash is never re-sent), mode
/// 0600 in a 0700 directory, written to a temporary name and renamed into
/// place. It is written without fsync (it survives a killed milter; the
/// page cache has it) and fsync'ed when its re-injection actually ended in
/// doubt. A copy is re-used only while it is young enough for the partner
/// to open it (``copy(for:youngerThan:now:)``); files older than
/// `retention`, and temporary files left by a crash, are removed when the
/// store opens and whenever a copy is kept. At most `capacity` copies are
/// kept: past that a split goes without (a retry after a doubt then seals
/// again: a possible second copy, never a lost one).
///
/// The copies are sealed (encrypted to the partner), so they hold no
/// plaintext; they stay in StateDirectory so a restart of the milter
/// between the attempts keeps the promise.
public final class InDoubtSealedCopies: Sendable {
    public let directory: String
    let retention: TimeInterval
    let capacity: Int
    /// The name of the directory under StateDirectory.
    public static let directoryName = "split-in-doubt"

    /// Opens (creates, 0700) `directory` and removes stale files.
    public init(directory: String, retention: TimeInterval, capacity: Int = 1_000, now: Date = Date()) throws(SystemIOError) {
        self.directory = directory
        self.retention = retention
        self.capacity = capacity
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            let code = errno
            throw SystemIOError(.io, "cannot create \(directory): \(String(cString: strerror(code)))", errorNumber: code)
        }
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw SystemIOError(.io, "\(directory) is not a directory")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SystemIOError(.io, "\(directory) is open to group or others (mode \(String(info.st_mode & 0o777, radix: 8))); make it 0700")
        }
        _ = sweep(now: now)
    }

    /// The file name for a split's sealed copy to `recipients` (the ledger's
    /// fresh claim: the same on every attempt until one is confirmed).
    static func key(split: SplitID, recipients: [String]) -> String {
        var bytes = split.bytes
        for recipient in Set(recipients.map(SplitID.normalized)).sorted() {
            bytes += Array(String(recipient.utf8.count).utf8) + [0x3A] + Array(recipient.utf8)
        }
        return Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// The kept copy for `key`, when there is one made less than `maxAge`
    /// ago and whole; an older or shorter one is removed (the partner might
    /// no longer open it) and nil returned.
    func copy(for key: String, youngerThan maxAge: TimeInterval, now: Date = Date()) -> String? {
        var found: String?
        for (name, size) in files(for: key) {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let age = now.timeIntervalSince1970 - TimeInterval(info.st_mtim.tv_sec)
            if found == nil, age < maxAge, Int(info.st_size) == size {
                found = path
            } else {
                unlink(path)
            }
        }
        return found
    }

    /// Keeps a copy of the sealed message at `path` under `key`; `durable`
    /// fsyncs it first.
    /// - Throws: when it cannot be written or the store is full.
    func keep(sealedAt path: String, for key: String, durable: Bool = false, now: Date = Date()) throws(SystemIOError) {
        let kept = sweep(now: now)
        guard kept < capacity else {
            throw SystemIOError(.io, "\(directory) already holds \(kept) copies (at most \(capacity))")
        }
        let input = try FileIO.openRead(path)
        defer { FileIO.close(input) }
        let (output, temporary) = try PrivateTemporaryFile.create(directory: directory, prefix: ".keep.")
        var renamed = false
        defer {
            FileIO.close(output)
            if !renamed { unlink(temporary) }
        }
        try FileIO.copy(from: input, offset: 0, length: nil, to: output, name: temporary)
        if durable { try Self.sync(output, name: temporary) }
        let size = FileIO.size(of: output)
        remove(key)
        guard rename(temporary, "\(directory)/\(key).\(size)") == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot rename \(temporary): \(String(cString: strerror(code)))", errorNumber: code)
        }
        renamed = true
    }

    /// Writes the copy for `key` through to the disk: its re-injection
    /// ended in doubt, and the retry may come after a system crash.
    func makeDurable(_ key: String) throws(SystemIOError) {
        for (name, _) in files(for: key) {
            let path = directory + "/" + name
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
        for (name, _) in files(for: key) { unlink(directory + "/" + name) }
    }

    /// How many copies there are.
    public var count: Int { names().filter { !$0.hasPrefix(".") }.count }

    /// Removes copies older than `retention` and temporary files older than
    /// a minute; returns how many copies remain.
    @discardableResult
    func sweep(now: Date = Date()) -> Int {
        var remaining = 0
        for name in names() {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let age = now.timeIntervalSince1970 - TimeInterval(info.st_mtim.tv_sec)
            if name.hasPrefix(".") {
                if age > 60 { unlink(path) }
            } else if age >= retention {
                unlink(path)
            } else {
                remaining += 1
            }
        }
        return remaining
    }

    /// The files named `<key>.<size>`, with the size their name records.
    private func files(for key: String) -> [(name: String, size: Int)] {
        let prefix = key + "."
        return names().compactMap { name in
            guard name.hasPrefix(prefix), let size = Int(name.dropFirst(prefix.count)) else { return nil }
            return (name, size)
        }
    }

    private static func sync(_ fd: Int32, name: String) throws(SystemIOError) {
        guard fsync(fd) == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot write \(name): \(String(cString: strerror(code)))", errorNumber: code)
        }
    }

    private func names() -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
