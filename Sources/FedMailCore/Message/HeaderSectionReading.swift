extension MessageHeaderSection {
    /// Reads the header section at the start of a message that arrives in
    /// chunks (a file, a socket): asks `nextChunk` for more (an empty chunk
    /// is the end) until the empty line that ends the section has been
    /// read or `limit` bytes were, then parses what was read. Bounded: at
    /// most `limit` plus one chunk is held, and each byte is scanned once.
    public static func read<Failure: Error>(limit: Int, nextChunk: () throws(Failure) -> [UInt8]) throws(Failure) -> MessageHeaderSection {
        var bytes: [UInt8] = []
        var scanned = 0
        while bytes.count < limit {
            let chunk = try nextChunk()
            if chunk.isEmpty { break }
            bytes += chunk
            // An empty line is LF LF or LF CR LF; it may straddle chunks.
            if let _ = firstEmptyLine(in: bytes, from: max(0, scanned - 2)) { break }
            scanned = bytes.count
        }
        return parse(bytes)
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
