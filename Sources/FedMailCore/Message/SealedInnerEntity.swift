/// The signed inner entity of a sealed message: a `multipart/mixed` whose
/// part 1 is the exact original (`message/rfc822; forwarded=no`) and part 2
/// the control JSON (`application/vnd.fedmail.control+json`).
///
/// The structure uses CRLF. Part 1 is `Content-Transfer-Encoding: binary`
/// so the original travels byte for byte; the CRLF before the next
/// delimiter belongs to the delimiter (RFC 2046 §5.1.1), so an original
/// without a final newline stays so.
public struct SealedInnerEntity: Sendable, Hashable {
    /// The media type of the control part.
    public static let controlMediaType = "application/vnd.fedmail.control+json"

    /// The multipart boundary (without the leading `--`).
    public var boundary: String

    public init(boundary: String) {
        self.boundary = boundary
    }

    /// The bytes before the original: entity header, delimiter, part 1 header.
    public var prefix: [UInt8] {
        Array((
            "Content-Type: multipart/mixed; boundary=\"\(boundary)\"\r\n" +
            "\r\n" +
            "This is a FedMail sealed message.\r\n" +
            "--\(boundary)\r\n" +
            "Content-Type: message/rfc822; forwarded=no\r\n" +
            "Content-Transfer-Encoding: binary\r\n" +
            "\r\n"
        ).utf8)
    }

    /// The bytes after the original: delimiter, control part, close delimiter.
    public func suffix(controlJSON: [UInt8]) -> [UInt8] {
        Array((
            "\r\n--\(boundary)\r\n" +
            "Content-Type: \(Self.controlMediaType)\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n" +
            "\r\n"
        ).utf8) + controlJSON + Array("\r\n--\(boundary)--\r\n".utf8)
    }

    /// The delimiter that ends part 1, as searched for in the original to make
    /// sure the original cannot end the part early: LF, `--`, boundary.
    public var delimiterPattern: [UInt8] { Array("\n--\(boundary)".utf8) }
}

/// Where the parts of an inner entity are, found from its first bytes.
public struct SealedInnerEntityLayout: Sendable, Hashable {
    /// The boundary of the multipart/mixed.
    public var boundary: String
    /// The offset where the original message (part 1 body) starts.
    public var originalOffset: Int
    /// The Content-Transfer-Encoding of part 1, lower-cased (`binary`, `7bit`, `8bit`, `base64`).
    public var originalTransferEncoding: String

    /// A reason the inner entity does not have the sealed layout.
    public struct LayoutError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses the start of an inner entity.
    ///
    /// - Parameter head: the first bytes of the entity; enough to hold its
    ///   header, the preamble and part 1's header.
    public static func parse(head: [UInt8]) throws(LayoutError) -> SealedInnerEntityLayout {
        let header = MessageHeaderSection.parse(head)
        guard header.hasSeparator else { throw LayoutError(message: "inner entity has no header/body separator") }
        guard let ctField = header.first("Content-Type"), let ct = MIMEContentType.parse(ctField.value),
              ct.mediaType == "multipart/mixed", let boundary = ct.parameters["boundary"], !boundary.isEmpty else {
            throw LayoutError(message: "inner entity is not multipart/mixed with a boundary")
        }
        guard boundary.utf8.count <= maximumBoundaryLength else {
            throw LayoutError(message: "inner entity's boundary is longer than \(maximumBoundaryLength) characters (RFC 2046)")
        }
        let dash = Array("--\(boundary)".utf8)
        // Find the first delimiter line at the start of the body or after an LF.
        var i = header.length
        var found: Int?
        while i + dash.count <= head.count {
            if (i == header.length || head[i - 1] == 10) && head[i..<(i + dash.count)].elementsEqual(dash) {
                found = i
                break
            }
            i += 1
        }
        guard let start = found else { throw LayoutError(message: "inner entity has no first part") }
        // Skip the rest of the delimiter line.
        var partStart = start + dash.count
        while partStart < head.count && head[partStart] != 10 { partStart += 1 }
        partStart += 1
        guard partStart < head.count else { throw LayoutError(message: "inner entity is truncated") }
        let partHeader = MessageHeaderSection.parse(Array(head[partStart...]))
        guard partHeader.hasSeparator else { throw LayoutError(message: "first part has no header/body separator") }
        guard let partCT = partHeader.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }),
              partCT.mediaType == "message/rfc822" else {
            throw LayoutError(message: "first part is not message/rfc822")
        }
        let encoding = MIMETransferEncoding.mechanism(of: partHeader.first("Content-Transfer-Encoding")?.value, default: "7bit") ?? "unreadable"
        guard ["7bit", "8bit", "binary", "base64"].contains(encoding) else {
            throw LayoutError(message: "first part has unsupported transfer encoding \(encoding)")
        }
        return SealedInnerEntityLayout(boundary: boundary, originalOffset: partStart + partHeader.length, originalTransferEncoding: encoding)
    }

    /// The longest boundary accepted (RFC 2046 §5.1.1: 1 to 70 characters).
    public static let maximumBoundaryLength = 70

    /// Parses the control part: `tail` starts right after the `--boundary`
    /// delimiter that ends part 1.
    public static func parseControlPart(tail: [UInt8], boundary: String) throws(LayoutError) -> [UInt8] {
        guard boundary.utf8.count <= maximumBoundaryLength else {
            throw LayoutError(message: "inner entity's boundary is longer than \(maximumBoundaryLength) characters (RFC 2046)")
        }
        var i = 0
        while i < tail.count && tail[i] != 10 { i += 1 }
        if i > 0 && tail[0] == UInt8(ascii: "-") && i >= 2 && tail[1] == UInt8(ascii: "-") {
            throw LayoutError(message: "inner entity has no control part")
        }
        i += 1
        guard i < tail.count else { throw LayoutError(message: "inner entity has no control part") }
        let part = Array(tail[i...])
        let header = MessageHeaderSection.parse(part)
        guard header.hasSeparator, let ct = header.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }),
              ct.mediaType == SealedInnerEntity.controlMediaType else {
            throw LayoutError(message: "second part is not \(SealedInnerEntity.controlMediaType)")
        }
        let encoding = MIMETransferEncoding.mechanism(of: header.first("Content-Transfer-Encoding")?.value, default: "7bit") ?? "unreadable"
        guard ["7bit", "8bit", "binary"].contains(encoding) else {
            throw LayoutError(message: "control part has unsupported transfer encoding \(encoding)")
        }
        let body = Array(part[header.length...])
        let dash = Array("--\(boundary)".utf8)
        var j = 0
        while j + dash.count <= body.count {
            if (j == 0 || body[j - 1] == 10) && body[j..<(j + dash.count)].elementsEqual(dash) {
                var end = j
                if end > 0 && body[end - 1] == 10 { end -= 1 }
                if end > 0 && body[end - 1] == 13 { end -= 1 }
                return Array(body[..<end])
            }
            j += 1
        }
        throw LayoutError(message: "control part is not closed by a delimiter")
    }
}
