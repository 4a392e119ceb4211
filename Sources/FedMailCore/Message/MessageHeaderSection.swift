/// One header field of an RFC 5322 message, keeping its exact bytes.
public struct MessageHeaderField: Sendable, Hashable {
    /// The field name as written (case preserved).
    public var name: String
    /// The exact bytes of the field: name, colon, value and every
    /// continuation line, each with the line ending it had.
    public var raw: [UInt8]

    /// The field value unfolded (line breaks of folding removed) and
    /// trimmed, decoded as UTF-8 (RFC 6532) with invalid bytes replaced.
    public var value: String {
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return "" }
        let valueBytes = raw[(colon + 1)...].filter { $0 != 13 && $0 != 10 }
        return String(decoding: valueBytes, as: UTF8.self).trimmingASCIIWhitespace()
    }

    /// Whether the field's name is `other`, compared case-insensitively.
    public func hasName(_ other: String) -> Bool {
        name.lowercased() == other.lowercased()
    }

    public init(name: String, raw: [UInt8]) {
        self.name = name
        self.raw = raw
    }
}

/// The header section of an RFC 5322 message: its fields with their
/// exact bytes and where the body starts.
///
/// Parsing is pure and tolerant: it never changes a byte, accepts CRLF and
/// bare LF, folded lines and 8-bit field values (UTF-8 or a legacy charset:
/// ``MessageHeaderField/raw`` keeps them, ``MessageHeaderField/name`` and
/// ``MessageHeaderField/value`` are decoded views for decisions), and treats
/// a message without an empty line as all header (empty body).
public struct MessageHeaderSection: Sendable, Hashable {
    /// The fields, in order.
    public var fields: [MessageHeaderField]
    /// The number of bytes from the start of the message to the start of the
    /// body, including the empty line that separates them (if any).
    public var length: Int
    /// Whether an empty line ending the header section was found.
    public var hasSeparator: Bool
    /// The line ending of the first line of the message.
    public var lineEnding: MessageLineEnding

    /// The first field named `name` (case-insensitive), if any.
    public func first(_ name: String) -> MessageHeaderField? {
        fields.first { $0.hasName(name) }
    }

    /// Every field named `name` (case-insensitive), in order.
    public func all(_ name: String) -> [MessageHeaderField] {
        fields.filter { $0.hasName(name) }
    }

    public init(fields: [MessageHeaderField], length: Int, hasSeparator: Bool, lineEnding: MessageLineEnding) {
        self.fields = fields
        self.length = length
        self.hasSeparator = hasSeparator
        self.lineEnding = lineEnding
    }

    /// Parses the header section at the start of `bytes`.
    ///
    /// - Parameter bytes: the beginning of a message; it must contain the
    ///   whole header section (the caller reads enough of a large file).
    /// - Returns: the parsed section; ``hasSeparator`` is `false` when the
    ///   bytes end before an empty line was found.
    public static func parse(_ bytes: [UInt8]) -> MessageHeaderSection {
        let lineEnding = MessageLineEnding.detect(in: bytes.prefix(64 * 1024))
        var fields: [MessageHeaderField] = []
        var index = 0
        var current: (start: Int, name: String)?
        func close(at end: Int) {
            if let open = current {
                fields.append(MessageHeaderField(name: open.name, raw: Array(bytes[open.start..<end])))
                current = nil
            }
        }
        while index < bytes.count {
            // Find the end of this line (after its LF) or end of data.
            var lineEnd = index
            while lineEnd < bytes.count && bytes[lineEnd] != 10 { lineEnd += 1 }
            let nextLine = lineEnd < bytes.count ? lineEnd + 1 : lineEnd
            let isEmptyLine = (lineEnd == index) || (lineEnd == index + 1 && bytes[index] == 13)
            if isEmptyLine && lineEnd < bytes.count {
                close(at: index)
                return MessageHeaderSection(fields: fields, length: nextLine, hasSeparator: true, lineEnding: lineEnding)
            }
            let first = bytes[index]
            if (first == 32 || first == 9), current != nil {
                // continuation line: stays part of the open field
            } else {
                close(at: index)
                if let colon = bytes[index..<lineEnd].firstIndex(of: UInt8(ascii: ":")) {
                    let name = String(decoding: bytes[index..<colon], as: UTF8.self).trimmingASCIIWhitespace()
                    current = (index, name)
                } else {
                    // Not a header line: RFC 5322 has no such thing; keep the
                    // bytes as a nameless field so nothing is lost.
                    current = (index, "")
                }
            }
            index = nextLine
        }
        close(at: bytes.count)
        return MessageHeaderSection(fields: fields, length: bytes.count, hasSeparator: false, lineEnding: lineEnding)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs, CR and LF.
    func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        func isSpace(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\t" || s == "\r" || s == "\n" }
        while start < end, isSpace(scalars[start]) { start = scalars.index(after: start) }
        while end > start, isSpace(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }
}

extension MessageHeaderSection {
    /// What in these fields a reader may take apart differently from this
    /// parser, which breaks lines at LF only: a CR that is neither part of
    /// a CRLF nor followed by a space or tab (some readers break the line
    /// at a bare CR, so one field can hide another inside its value,
    /// `Subject: hi<CR>From: ceo@b.example`, or end the header section
    /// early; followed by white space it is a fold to either reader), or a
    /// NUL (C strings, libmilter's among them, end there); nil when there
    /// is none.
    public var ambiguousByte: String? {
        for field in fields {
            let name = field.name.isEmpty ? "header" : field.name
            for (index, byte) in field.raw.enumerated() {
                if byte == 0 { return "a NUL byte in the \(name) field" }
                guard byte == 13 else { continue }
                if HiddenHeaderFields.crBreaksLine(before: index + 1 < field.raw.count ? UInt32(field.raw[index + 1]) : nil) {
                    return "a CR that may start a new line (not followed by LF, space or tab) in the \(name) field"
                }
            }
        }
        return nil
    }
}
