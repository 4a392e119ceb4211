#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemIO

/// A message body as it arrives in chunks: kept in memory up to a threshold,
/// then moved to a private temporary file (mode 0600) so that a large message
/// is never held whole in memory. The file is removed when the body is
/// discarded or released.
public final class SpooledBody {
    /// The size in bytes above which the body moves to a file.
    public let threshold: Int
    /// The directory spool files are created in (should be private, 0700).
    public let directory: String
    /// The number of bytes appended so far.
    public private(set) var count: Int = 0
    /// The spool file, once the body went over the threshold.
    public private(set) var path: String?

    private var memory: [UInt8] = []
    private var descriptor: Int32 = -1

    /// Creates an empty body.
    ///
    /// - Parameters:
    ///   - threshold: bytes kept in memory before spooling to a file.
    ///   - directory: where to create the spool file.
    public init(threshold: Int, directory: String) {
        self.threshold = max(0, threshold)
        self.directory = directory
    }

    deinit { discard() }

    /// Whether the body is in a file rather than in memory.
    public var isSpooled: Bool { descriptor >= 0 }

    /// Appends a chunk.
    ///
    /// - Throws: ``MilterError`` `spoolFailure` when the spool file cannot be
    ///   created or written (for example a full disk).
    public func append(_ chunk: UnsafeRawBufferPointer) throws(MilterError) {
        guard chunk.count > 0 else { return }
        if descriptor < 0, memory.count + chunk.count <= threshold {
            memory.append(contentsOf: chunk)
            count += chunk.count
            return
        }
        if descriptor < 0 {
            try openSpoolFile()
            let buffered = memory
            memory = []
            let result = buffered.withUnsafeBytes { bytes in Result { () throws(MilterError) in try writeAll(bytes) } }
            try result.get()
        }
        try writeAll(chunk)
        count += chunk.count
    }

    /// Appends bytes.
    public func append(contentsOf bytes: some Sequence<UInt8>) throws(MilterError) {
        let array = Array(bytes)
        let result = array.withUnsafeBytes { buffer in Result { () throws(MilterError) in try append(buffer) } }
        try result.get()
    }

    /// Reads the body from the start in chunks of at most `chunkSize` bytes,
    /// without loading it whole.
    ///
    /// - Throws: ``MilterError`` `spoolFailure` on a read error, or whatever
    ///   `body` throws.
    public func forEachChunk(size chunkSize: Int = 65_536,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let size = max(1, chunkSize)
        if descriptor < 0 {
            try memory.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(all.count, offset + size)
                    try body(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
            }
            return
        }
        var buffer = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < count {
            let wanted = min(size, count - offset)
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, wanted, off_t(offset)) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw MilterError(code: .spoolFailure, message: "reading body spool \(path ?? "?"): \(Self.errorText(errno))")
            }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += got
        }
    }

    /// The whole body as bytes. Loads it into memory: only for bodies known
    /// to be small, and for tests.
    public func bytes() throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        try forEachChunk { result.append(contentsOf: $0) }
        return result
    }

    /// Empties the body and removes the spool file.
    public func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if let path {
            RecycledTemporaryFiles.discard(path)
            self.path = nil
        }
        memory = []
        count = 0
    }

    private func openSpoolFile() throws(MilterError) {
        do {
            (descriptor, path) = try PrivateTemporaryFile.create(directory: directory, prefix: "body.")
        } catch {
            throw MilterError(code: .spoolFailure, message: "creating body spool in \(directory): \(error.reason)")
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(MilterError) {
        do { try FileIO.writeAll(descriptor, bytes, name: "body spool \(path ?? "?")") } catch {
            throw MilterError(code: .spoolFailure, message: error.message)
        }
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
