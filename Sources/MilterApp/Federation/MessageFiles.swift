import SystemIO
import FedMailCore
import FedMailCrypto
import Milter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private (0600) file in the milter's spool directory, removed when released.
final class SpoolFile {
    let path: String

    /// Reserves a new unique file `directory/prefix.XXXXXX`.
    init(directory: String, prefix: String) throws(MilterError) {
        let (fd, path) = try MessageFiles.spool { () throws(SystemIOError) in
            try PrivateTemporaryFile.create(directory: directory, prefix: prefix + ".")
        }
        FileIO.close(fd)
        self.path = path
    }

    deinit { RecycledTemporaryFiles.discard(path) }
}

/// Writing, reading and substituting whole messages between the milter
/// transaction and files, always in chunks, never the whole body in memory.
enum MessageFiles {
    /// The header field as it arrived: `Name:` + value with CRLF line ends,
    /// from the field's exact bytes (an 8-bit or bare-CR value stays as it
    /// came). The inverse of ``milterValue(of:)``: every LF the MTA passed
    /// (folding) becomes CRLF, and `milterValue` makes each CRLF an LF again.
    static func rawField(_ field: MilterHeaderField, rawValues: Bool) -> [UInt8] {
        var out = field.nameBytes
        out.append(UInt8(ascii: ":"))
        if !rawValues { out.append(UInt8(ascii: " ")) }
        out += crlf(field.rawBytes)
        out += [13, 10]
        return out
    }

    /// Every LF made CRLF; every other byte (a bare CR too) as it is. A
    /// header value from the MTA folds with bare LF, so an LF that already
    /// follows a CR had that CR in the value itself, and keeps it.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        for byte in bytes {
            if byte == 10 { out.append(13) }
            out.append(byte)
        }
        return out
    }

    /// The header section of `transaction` as received, with the empty
    /// line that ends it, without the fields `omitting` names.
    static func headerSection(_ transaction: MilterTransaction, rawValues: Bool,
                              omitting: (MilterHeaderField) -> Bool = { _ in false }) -> [UInt8] {
        var head: [UInt8] = []
        for field in transaction.headers where !omitting(field) { head += rawField(field, rawValues: rawValues) }
        head += [13, 10]
        return head
    }

    /// The message of `transaction` for sealing, scanning or opening, not
    /// written out again: the header section as received (without the
    /// fields `omitting` names), and the body where it is (its spool file,
    /// or memory).
    static func messageInput(_ transaction: MilterTransaction, rawValues: Bool,
                             omitting: (MilterHeaderField) -> Bool = { _ in false }) throws -> MessageInput {
        let head = headerSection(transaction, rawValues: rawValues, omitting: omitting)
        if transaction.body.isSpooled, let path = transaction.body.path { return .parts(header: head, body: .file(path: path, length: transaction.body.count)) }
        return .parts(header: head, body: .bytes(try transaction.body.bytes()))
    }

    /// Reads and parses the header section at the start of a message file.
    static func readHeader(path: String, limit: Int = 8 << 20) throws -> MessageHeaderSection {
        let fd = try spool { () throws(SystemIOError) in try FileIO.openRead(path) }
        defer { FileIO.close(fd) }
        let header = try MessageHeaderSection.read(limit: limit) { () throws(MilterError) in
            try spool { () throws(SystemIOError) in try FileIO.read(fd, count: 65_536, name: path) }
        }
        guard let header else {
            throw MilterError(code: .spoolFailure, message: "the header section of \(path) does not end within \(limit) bytes")
        }
        return header
    }

    /// Streams the bytes of `path` from `offset` to its end.
    static func forEachChunk(path: String, from offset: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = try spool { () throws(SystemIOError) in try FileIO.openRead(path) }
        defer { FileIO.close(fd) }
        try spool { () throws(SystemIOError) in try FileIO.seek(fd, to: offset, name: path) }
        var chunk = [UInt8](repeating: 0, count: MilterActionRules.replacementChunkSize)
        while true {
            let count = try chunk.withUnsafeMutableBytes { raw in
                try spool { () throws(SystemIOError) in try FileIO.readSome(fd, into: raw, name: path) }
            }
            if count == 0 { return }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    /// `smfi_insheader` index past any header: the field goes to the end.
    ///
    /// Used instead of `smfi_addheader` when a whole header section is
    /// rewritten, because Sendmail's `smfi_addheader` does not always
    /// append: a field it has a default for in sendmail.cf (`Date`, `From`,
    /// `Message-Id`, ...) fills that default's slot near the top instead,
    /// so the restored fields would come out reordered. `smfi_insheader`
    /// inserts where it is told; past the end both Sendmail and Postfix append.
    static let appendIndex = Int(Int32.max)

    /// Replaces the message in the MTA by the one at `path`: deletes every
    /// header field of the transaction (except those named in `keeping`),
    /// appends the file's fields in order (except those `skip` returns true
    /// for; see ``appendIndex``) and replaces the body.
    static func replaceMessage(in transaction: MilterTransaction, with path: String, actions: any MilterMessageActions,
                               keeping: Set<String> = [],
                               skip: (MessageHeaderField) -> Bool = { _ in false }) throws {
        let header = try readHeader(path: path)
        try replaceHeaderSection(of: transaction, with: header, actions: actions, keeping: keeping, skip: skip)
        try actions.replaceBody { write in
            try forEachChunk(path: path, from: header.length) { try write($0) }
        }
    }

    /// Replaces the message in the MTA by one whose header section is
    /// `headerPart` (its fields and the empty line that ends it) and whose
    /// body `writeBody` makes as it goes, written to no file: each piece is
    /// sent on at once, then the header fields are replaced as
    /// ``replaceMessage(in:with:actions:keeping:skip:)`` replaces them. A
    /// header part that is not a header section fails before anything is
    /// sent. When `writeBody` fails part-way the MTA has part of a new
    /// body, and the failure must be answered with tempfail
    /// (``MilterMessageActions/hasSentChanges``).
    static func replaceMessage(in transaction: MilterTransaction, actions: any MilterMessageActions, headerPart: [UInt8],
                               writeBody: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let header: MessageHeaderSection
        do { header = try MessageInput.parts(header: headerPart, body: .bytes([])).headerSection() } catch {
            throw MilterError(code: .spoolFailure, message: "the new message's header section: \(error.message)")
        }
        try actions.replaceBody(writeBody)
        try replaceHeaderSection(of: transaction, with: header, actions: actions, keeping: [], skip: { _ in false })
    }

    /// Deletes every header field of the transaction (except those named
    /// in `keeping`) and appends `header`'s fields in order (except those
    /// `skip` returns true for; see ``appendIndex``).
    private static func replaceHeaderSection(of transaction: MilterTransaction, with header: MessageHeaderSection,
                                             actions: any MilterMessageActions, keeping: Set<String>,
                                             skip: (MessageHeaderField) -> Bool) throws {
        try deleteAllHeaders(of: transaction, actions: actions, keeping: keeping)
        for field in header.fields where !field.name.isEmpty && !skip(field) {
            try actions.insertHeader(at: appendIndex, name: field.name, value: milterValue(of: field))
        }
    }

    /// Deletes every header field the milter saw, last occurrence first,
    /// except fields whose lower-cased name is in `keeping`.
    static func deleteAllHeaders(of transaction: MilterTransaction, actions: any MilterMessageActions,
                                 keeping: Set<String> = []) throws {
        var counts: [String: (name: String, count: Int)] = [:]
        for field in transaction.headers {
            let key = field.name.lowercased()
            if keeping.contains(key) { continue }
            counts[key] = (field.name, (counts[key]?.count ?? 0) + 1)
        }
        for (_, entry) in counts.sorted(by: { $0.key < $1.key }) {
            for occurrence in stride(from: entry.count, through: 1, by: -1) {
                try actions.deleteHeader(name: entry.name, occurrence: occurrence)
            }
        }
    }

    /// A field's value as a milter passes it, as the exact bytes of the
    /// file: everything after the colon, the final line end (LF or CRLF)
    /// removed, folding kept as LF + white space (each CRLF made LF, as the
    /// MTA passes folded values and expects them back); any other byte,
    /// 8-bit or a bare CR, unchanged.
    static func milterValue(of field: MessageHeaderField) -> [UInt8] {
        guard let colon = field.raw.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var bytes = field.raw[(colon + 1)...]
        if bytes.last == 10 { bytes.removeLast() }
        if bytes.last == 13 { bytes.removeLast() }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            let next = bytes.index(after: index)
            if byte == 13, next < bytes.endIndex, bytes[next] == 10 {
                index = next
                continue
            }
            out.append(byte)
            index = next
        }
        return out
    }

    /// Runs spool file I/O, mapping its failure once to a ``MilterError`` (`spoolFailure`).
    static func spool<T>(_ body: () throws(SystemIOError) -> T) throws(MilterError) -> T {
        do { return try body() } catch { throw MilterError(code: .spoolFailure, message: error.message) }
    }
}
