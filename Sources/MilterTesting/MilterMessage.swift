import Milter

/// A message as an MTA holds it around a milter: the envelope, the header
/// fields as the milter sees them (exact bytes after the colon, folding as
/// LF + white space) and the body with CRLF line ends.
public struct MilterMessage: Sendable, Hashable {
    /// The envelope sender as given in `MAIL FROM` (e.g. `<alice@a.example>`).
    public var sender: String
    /// The envelope recipients as given in `RCPT TO`, in order.
    public var recipients: [String]
    /// The header fields; `rawBytes` is everything after the colon
    /// (leading space included).
    public var headers: [MilterHeaderField]
    /// The body, CRLF line ends.
    public var body: [UInt8]
    /// The reason given with `smfi_quarantine`, when the message was held.
    public var quarantineReason: String?

    public init(sender: String, recipients: [String], headers: [MilterHeaderField], body: [UInt8]) {
        self.sender = sender
        self.recipients = recipients
        self.headers = headers
        self.body = body
    }

    /// Parses a message file (`.eml`): header fields up to the first empty
    /// line, then the body. Bare LF line ends become CRLF first, as SMTP
    /// carries them, so tests may write messages with either.
    public init(eml: [UInt8], sender: String, recipients: [String]) {
        let bytes = Self.crlf(eml)
        var headers: [MilterHeaderField] = []
        var index = 0
        var current: (name: [UInt8], value: [UInt8])?
        func finish() {
            if let field = current { headers.append(MilterHeaderField(nameBytes: field.name, rawBytes: field.value)) }
            current = nil
        }
        while index < bytes.count {
            // One line, without its CRLF.
            var end = index
            while end + 1 < bytes.count, !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
            let lineEnd = end + 1 < bytes.count ? end : bytes.count
            let line = Array(bytes[index..<lineEnd])
            let next = min(bytes.count, lineEnd + 2)
            if line.isEmpty { index = next; break }
            if let first = line.first, first == 32 || first == 9, current != nil {
                current?.value += [10] + line
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                finish()
                current = (Array(line[..<colon]), Array(line[(colon + 1)...]))
            } else {
                // Not a header line: the header section ends (no separator).
                finish()
                break
            }
            index = next
        }
        finish()
        self.init(sender: sender, recipients: recipients, headers: headers, body: Array(bytes[min(index, bytes.count)...]))
    }

    /// The message as text on the wire: each field `Name:` + its bytes with
    /// LF made CRLF, an empty line, the body.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for field in headers {
            out += field.nameBytes + [UInt8(ascii: ":")] + Self.crlf(field.rawBytes) + [13, 10]
        }
        return out + [13, 10] + body
    }

    /// The values (without the leading space, unfolded lines kept) of the fields called `name`.
    public func values(of name: String) -> [String] {
        headers.filter { $0.hasName(name) }.map(\.value)
    }

    /// The message after `actions`, as Postfix and Sendmail apply them:
    /// - add appends; insert puts the field before the `index`-th field
    ///   (past the end appends);
    /// - change replaces the `occurrence`-th field of that name (names
    ///   compared case-insensitively) and appends when there is none;
    ///   delete removes it, and does nothing when there is none;
    /// - the body is the concatenation of every replacement (an empty one empties it);
    /// - recipients are added, or deleted when the address (angle brackets
    ///   ignored) matches; the sender changes; quarantine records its reason.
    /// With raw header values the value is written verbatim (the actions
    /// added the separating space, see ``MilterActionRules/wireValue(_:rawHeaderValues:)``);
    /// otherwise the MTA writes `Name: value`.
    public func applying(_ actions: [RecordedAction], rawHeaderValues: Bool) -> MilterMessage {
        var result = self
        var newBody: [UInt8]?
        func field(_ name: String, _ value: [UInt8]) -> MilterHeaderField {
            let written = rawHeaderValues ? MilterActionRules.wireValue(value, rawHeaderValues: true) : [32] + value
            return MilterHeaderField(nameBytes: Array(name.utf8), rawBytes: written)
        }
        func position(_ name: String, _ occurrence: Int) -> Int? {
            var seen = 0
            for (index, header) in result.headers.enumerated() where header.hasName(name) {
                seen += 1
                if seen == occurrence { return index }
            }
            return nil
        }
        for action in actions {
            switch action {
            case .addHeader(let name, let value):
                result.headers.append(field(name, value))
            case .insertHeader(let index, let name, let value):
                result.headers.insert(field(name, value), at: min(index, result.headers.count))
            case .changeHeader(let name, let occurrence, let value):
                if let at = position(name, occurrence) { result.headers[at] = field(name, value) } else { result.headers.append(field(name, value)) }
            case .deleteHeader(let name, let occurrence):
                if let at = position(name, occurrence) { result.headers.remove(at: at) }
            case .replaceBody(let bytes, _):
                newBody = (newBody ?? []) + bytes
            case .addRecipient(let address, _):
                result.recipients.append(address)
            case .deleteRecipient(let address):
                result.recipients.removeAll { Self.bare($0) == Self.bare(address) }
            case .changeSender(let address, _):
                result.sender = address
            case .quarantine(let reason):
                result.quarantineReason = reason
            case .progress:
                break
            }
        }
        if let newBody { result.body = newBody }
        return result
    }

    static func bare(_ address: String) -> String {
        if address.hasPrefix("<"), address.hasSuffix(">"), address.count >= 2 { return String(address.dropFirst().dropLast()) }
        return address
    }

    /// Bare LF made CRLF; CRLF and every other byte kept.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 32)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 10, previous != 13 { out.append(13) }
            out.append(byte)
            previous = byte
        }
        return out
    }
}
