/// A `FedMail-Token: v=1; d=<recipient domain>; t=<JWS>` header field of a
/// sealed message: the federation token for one recipient organization.
public struct FedMailTokenHeader: Sendable, Hashable {
    /// The header field name.
    public static let fieldName = "FedMail-Token"

    /// The recipient domain the token was issued for.
    public var domain: String
    /// The compact JWS signed by the broker.
    public var token: String

    public init(domain: String, token: String) {
        self.domain = domain
        self.token = token
    }

    /// The field value, `v=1; d=…; t=…`.
    public var value: String { "v=1; d=\(domain); t=\(token)" }

    /// The `jti` claim of the token, read without verifying the signature
    /// (verification is the broker client's job), or `nil` if unreadable.
    public var unverifiedTokenID: String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])) else { return nil }
        // Tiny search for "jti":"..." to stay free of Foundation.
        let text = String(decoding: payload, as: UTF8.self)
        guard let range = text.firstRange(of: "\"jti\"") else { return nil }
        var rest = text[range.upperBound...].drop { $0 == " " || $0 == ":" }
        guard rest.first == "\"" else { return nil }
        rest = rest.dropFirst()
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    /// The longest field value parsed (UTF-8 bytes, folding included): a
    /// token is a few kilobytes at most; anything longer is refused
    /// unexamined, since it arrives before anything is authenticated.
    public static let maxValueUTF8Bytes = 16 * 1024

    /// Parses a field value. Returns `nil` when `v` is not 1 or `d`/`t` are
    /// missing, or the value is over ``maxValueUTF8Bytes``. One pass over
    /// the value (linear); the domain is not canonicalized here.
    public static func parse(value: String) -> FedMailTokenHeader? {
        guard value.utf8.count <= maxValueUTF8Bytes else { return nil }
        var params: [String: String] = [:]
        for part in value.split(separator: ";") {
            let item = String(part).trimmingASCIIWhitespace()
            guard let eq = item.firstIndex(of: "=") else { continue }
            let key = String(item[..<eq]).trimmingASCIIWhitespace().lowercased()
            let val = String(item[item.index(after: eq)...]).filter { !$0.isWhitespace }
            params[key] = val
        }
        guard params["v"] == "1", let d = params["d"], !d.isEmpty, let t = params["t"], !t.isEmpty else { return nil }
        return FedMailTokenHeader(domain: d.lowercased(), token: t)
    }
}

/// base64url without padding (RFC 4648 §5), as used in JWS.
enum Base64URL {
    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for ch in text.utf8 {
            switch ch {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(ch - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(ch - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(ch - 48 + 52)
            case UInt8(ascii: "-"), UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "_"), UInt8(ascii: "/"): values.append(63)
            case UInt8(ascii: "="): continue
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i + 1 < values.count {
            let a = values[i], b = values[i + 1]
            out.append(a << 2 | b >> 4)
            if i + 2 < values.count { out.append((b & 0x0f) << 4 | values[i + 2] >> 2) }
            if i + 3 < values.count { out.append((values[i + 2] & 0x03) << 6 | values[i + 3]) }
            i += 4
        }
        return out
    }
}
