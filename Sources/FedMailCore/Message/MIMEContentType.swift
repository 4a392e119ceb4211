/// A parsed MIME `Content-Type` value (RFC 2045): `type/subtype; name=value…`.
public struct MIMEContentType: Sendable, Hashable {
    /// The media type, lower-cased (`multipart`).
    public var type: String
    /// The subtype, lower-cased (`mixed`).
    public var subtype: String
    /// Parameters with lower-cased names; quoted values are unquoted.
    public var parameters: [String: String]

    /// `type/subtype`.
    public var mediaType: String { "\(type)/\(subtype)" }

    public init(type: String, subtype: String, parameters: [String: String] = [:]) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    /// The longest value parsed (a header Postfix passes on is at most
    /// 100 KiB); longer values are not a Content-Type we act on.
    public static let maxValueLength = 128 * 1024

    /// Parses a field value; `nil` when there is no `type/subtype`.
    /// Linear and without recursion (``MIMEValueScanner``).
    public static func parse(_ value: String) -> MIMEContentType? {
        guard value.utf8.count <= maxValueLength else { return nil }
        var scanner = MIMEValueScanner(value)
        scanner.skipSpaceAndComments()
        let type = scanner.token().lowercased()
        scanner.skipSpaceAndComments()
        guard scanner.peek() == "/" else { return nil }
        scanner.advance()
        scanner.skipSpaceAndComments()
        let subtype = scanner.token().lowercased()
        guard !type.isEmpty, !subtype.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            scanner.skipSpaceAndComments()
            guard scanner.peek() == ";" else { break }
            scanner.advance()
            scanner.skipSpaceAndComments()
            let name = scanner.token().lowercased()
            scanner.skipSpaceAndComments()
            guard scanner.peek() == "=" else { if name.isEmpty { continue } else { break } }
            scanner.advance()
            scanner.skipSpaceAndComments()
            var val = String.UnicodeScalarView()
            if scanner.peek() == "\"" {
                scanner.advance()
                while let c = scanner.next() {
                    if c == "\\", let quoted = scanner.next() { val.append(quoted); continue }
                    if c == "\"" { break }
                    val.append(c)
                }
            } else {
                val = scanner.token().unicodeScalars
            }
            if !name.isEmpty { parameters[name] = String(val) }
        }
        return MIMEContentType(type: type, subtype: subtype, parameters: parameters)
    }
}
