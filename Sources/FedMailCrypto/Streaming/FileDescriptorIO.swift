import Foundation
import SystemIO

/// FedMailCrypto's file I/O: SystemIO's ``FileIO``, with its failures
/// mapped here, once, to ``CryptoError`` (`io`).
enum FileDescriptorIO {
    static let chunkSize = FileIO.chunkSize

    /// Runs `body`, mapping a ``SystemIOError`` to ``CryptoError``.
    static func mapped<T>(_ body: () throws(SystemIOError) -> T) throws(CryptoError) -> T {
        do { return try body() } catch { throw CryptoError(code: .io, message: error.message) }
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], name: String) throws(CryptoError) {
        try mapped { () throws(SystemIOError) in try FileIO.writeAll(fd, bytes, name: name) }
    }

    static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer, name: String) throws(CryptoError) {
        try mapped { () throws(SystemIOError) in try FileIO.writeAll(fd, raw, name: name) }
    }

    /// Writes the first `count` bytes of `bytes`.
    static func writeAll(fd: Int32, _ bytes: [UInt8], count: Int, name: String) throws(CryptoError) {
        var failure: CryptoError?
        bytes.withUnsafeBytes { raw in
            do throws(CryptoError) {
                try writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: raw[..<min(count, raw.count)]), name: name)
            } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads up to `count` bytes (fewer only at end of file).
    static func read(fd: Int32, count: Int, name: String) throws(CryptoError) -> [UInt8] {
        try mapped { () throws(SystemIOError) in try FileIO.read(fd, count: count, name: name) }
    }

    static func openRead(_ path: String) throws(CryptoError) -> Int32 {
        try mapped { () throws(SystemIOError) in try FileIO.openRead(path) }
    }

    static func close(_ fd: Int32) { FileIO.close(fd) }

    static func openWrite(_ path: String, mode: mode_t = 0o600) throws(CryptoError) -> Int32 {
        try mapped { () throws(SystemIOError) in try FileIO.openWrite(path, mode: mode) }
    }

    /// Copies `length` bytes (or to end of file when nil) from `offset` of `source` to `fd`.
    static func copy(from source: Int32, offset: Int, length: Int?, to fd: Int32, name: String) throws(CryptoError) {
        try mapped { () throws(SystemIOError) in try FileIO.copy(from: source, offset: offset, length: length, to: fd, name: name) }
    }

    /// Moves the offset of `fd` to `offset` from the start.
    static func seek(_ fd: Int32, to offset: Int, name: String) throws(CryptoError) {
        try mapped { () throws(SystemIOError) in try FileIO.seek(fd, to: offset, name: name) }
    }

    /// The size of the open file `fd` (0 when it cannot be known, e.g. a pipe).
    static func size(of fd: Int32) -> Int { FileIO.size(of: fd) }

    static func size(of path: String) -> Int? { FileIO.size(of: path) }
}

extension PrivateTemporaryFile {
    /// A private temporary file, failing with ``CryptoError``.
    static func make(directory: String?, prefix: String) throws(CryptoError) -> PrivateTemporaryFile {
        try FileDescriptorIO.mapped { () throws(SystemIOError) in try PrivateTemporaryFile(directory: directory, prefix: prefix) }
    }
}
