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

    /// Parses a field value; `nil` when there is no `type/subtype`.
    public static func parse(_ value: String) -> MIMEContentType? {
        var chars = Substring(value)
        func skipSpace() {
            while let c = chars.first, c == " " || c == "\t" || c == "\r" || c == "\n" { chars.removeFirst() }
            if chars.first == "(" { // comment
                var depth = 0
                while let c = chars.first {
                    chars.removeFirst()
                    if c == "(" { depth += 1 } else if c == ")" { depth -= 1; if depth == 0 { break } }
                }
                skipSpace()
            }
        }
        func token() -> String {
            var out = ""
            while let c = chars.first, !(c == ";" || c == "=" || c == "/" || c == " " || c == "\t" || c == "\"" || c == "(" || c == "\r" || c == "\n") {
                out.append(c); chars.removeFirst()
            }
            return out
        }
        skipSpace()
        let type = token().lowercased()
        skipSpace()
        guard chars.first == "/" else { return nil }
        chars.removeFirst()
        skipSpace()
        let subtype = token().lowercased()
        guard !type.isEmpty, !subtype.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            skipSpace()
            guard chars.first == ";" else { break }
            chars.removeFirst()
            skipSpace()
            let name = token().lowercased()
            skipSpace()
            guard chars.first == "=" else { if name.isEmpty { continue } else { break } }
            chars.removeFirst()
            skipSpace()
            var val = ""
            if chars.first == "\"" {
                chars.removeFirst()
                while let c = chars.first {
                    chars.removeFirst()
                    if c == "\\", let n = chars.first { val.append(n); chars.removeFirst(); continue }
                    if c == "\"" { break }
                    val.append(c)
                }
            } else {
                val = token()
            }
            if !name.isEmpty { parameters[name] = val }
        }
        return MIMEContentType(type: type, subtype: subtype, parameters: parameters)
    }
}
