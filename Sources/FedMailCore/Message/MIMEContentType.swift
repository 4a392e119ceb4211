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
    /// Linear and without recursion: comments (nested, with quoted-pairs)
    /// are skipped in a loop, whatever their number.
    public static func parse(_ value: String) -> MIMEContentType? {
        guard value.utf8.count <= maxValueLength else { return nil }
        let scalars = Array(value.unicodeScalars)
        var index = 0
        func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
        func skipSpace() {
            while index < scalars.count {
                let c = scalars[index]
                if isSpace(c) { index += 1; continue }
                guard c == "(" else { return }
                var depth = 0
                while index < scalars.count {
                    let c = scalars[index]
                    index += 1
                    if c == "\\" { index += 1; continue }
                    if c == "(" { depth += 1 } else if c == ")" { depth -= 1; if depth == 0 { break } }
                }
            }
        }
        func token() -> String {
            var out = String.UnicodeScalarView()
            while index < scalars.count {
                let c = scalars[index]
                if c == ";" || c == "=" || c == "/" || c == "\"" || c == "(" || isSpace(c) { break }
                out.append(c)
                index += 1
            }
            return String(out)
        }
        func peek() -> Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
        skipSpace()
        let type = token().lowercased()
        skipSpace()
        guard peek() == "/" else { return nil }
        index += 1
        skipSpace()
        let subtype = token().lowercased()
        guard !type.isEmpty, !subtype.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            skipSpace()
            guard peek() == ";" else { break }
            index += 1
            skipSpace()
            let name = token().lowercased()
            skipSpace()
            guard peek() == "=" else { if name.isEmpty { continue } else { break } }
            index += 1
            skipSpace()
            var val = String.UnicodeScalarView()
            if peek() == "\"" {
                index += 1
                while index < scalars.count {
                    let c = scalars[index]
                    index += 1
                    if c == "\\", index < scalars.count { val.append(scalars[index]); index += 1; continue }
                    if c == "\"" { break }
                    val.append(c)
                }
            } else {
                val = token().unicodeScalars
            }
            if !name.isEmpty { parameters[name] = String(val) }
        }
        return MIMEContentType(type: type, subtype: subtype, parameters: parameters)
    }
}
