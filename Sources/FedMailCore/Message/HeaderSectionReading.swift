extension MessageHeaderSection {
    /// Reads the header section at the start of a message that arrives in
    /// chunks (a file, a socket): asks `nextChunk` for more (an empty chunk
    /// is the end) until the empty line that ends the section has been
    /// read or `limit` bytes were, then parses what was read. Bounded: at
    /// most `limit` plus one chunk is held, and each byte is scanned once.
    ///
    /// - Returns: the section, or `nil` when `limit` bytes were read
    ///   without the empty line that ends it: the section goes on past
    ///   what was read (or ends exactly there), so no decision may be made
    ///   on the part read — a field further on (a second `From`) would go
    ///   unseen. A message that ends before `limit` without an empty line
    ///   is all header (``hasSeparator`` false).
    public static func read<Failure: Error>(limit: Int, nextChunk: () throws(Failure) -> [UInt8]) throws(Failure) -> MessageHeaderSection? {
        var bytes: [UInt8] = []
        var scanned = 0
        while bytes.count < limit {
            let chunk = try nextChunk()
            if chunk.isEmpty { return parse(bytes) }
            bytes += chunk
            // An empty line is LF LF or LF CR LF; it may straddle chunks.
            if let _ = firstEmptyLine(in: bytes, from: max(0, scanned - 2)) { return parse(bytes) }
            scanned = bytes.count
        }
        return nil
    }

    /// The offset of the first LF that starts an empty line (LF LF or LF CR LF) at or after `from`.
    /// An empty header section (the message starts with its empty line) is found at 0.
    static func firstEmptyLine(in bytes: [UInt8], from: Int) -> Int? {
        if from == 0, bytes.first == 10 || (bytes.count >= 2 && bytes[0] == 13 && bytes[1] == 10) { return 0 }
        var index = from
        while index < bytes.count {
            if bytes[index] == 10 {
                if index + 1 < bytes.count, bytes[index + 1] == 10 { return index }
                if index + 2 < bytes.count, bytes[index + 1] == 13, bytes[index + 2] == 10 { return index }
            }
            index += 1
        }
        return nil
    }
}
