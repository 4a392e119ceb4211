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
        // Over bytes, not Characters: a combining mark after "=" or ";"
        // must not hide the separator (a header must parse back from its value).
        func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        var params: [String: [UInt8]] = [:]
        for part in value.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false) {
            guard let eq = part.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: part[..<eq].filter { !isBlank($0) }, as: UTF8.self).lowercased()
            params[key] = part[part.index(after: eq)...].filter { !isBlank($0) }
        }
        guard let v = params["v"], v == Array("1".utf8), let d = params["d"], !d.isEmpty,
              let t = params["t"], !t.isEmpty, t.allSatisfy({ $0 < 0x80 }) else { return nil }
        // The domain: as the sealer writes it (an A-label name), or refused.
        guard d.allSatisfy({ $0 < 0x80 && $0 > 0x20 }) else { return nil }
        return FedMailTokenHeader(domain: String(decoding: d, as: UTF8.self).lowercased(), token: String(decoding: t, as: UTF8.self))
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
