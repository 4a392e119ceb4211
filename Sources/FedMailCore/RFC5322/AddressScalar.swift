enum AddressScalar {
    static func isWSP(_ v: UInt32) -> Bool { v == 0x20 || v == 0x09 }

    /// Controls refused everywhere (CR, LF and HTAB are handled before this).
    static func isForbidden(_ v: UInt32) -> Bool {
        v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x2028 || v == 0x2029
    }

    static func isNonASCII(_ v: UInt32) -> Bool { v >= 0x80 && !isForbidden(v) }

    static func isAtext(_ v: UInt32) -> Bool {
        switch v {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        // ! # $ % & ' * + - / = ? ^ _ ` { | } ~
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2F, 0x3D, 0x3F, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E:
            return true
        default: return isNonASCII(v)
        }
    }

    /// What may follow a backslash in a quoted-pair: VCHAR, WSP, non-ASCII.
    static func isQuotable(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x7E) || isWSP(v) || isNonASCII(v) }
    static func isQtext(_ v: UInt32) -> Bool { v == 0x21 || (v >= 0x23 && v <= 0x5B) || (v >= 0x5D && v <= 0x7E) || isNonASCII(v) }
    static func isCtext(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x27) || (v >= 0x2A && v <= 0x5B) || (v >= 0x5D && v <= 0x7E) || isNonASCII(v) }
    static func isDtext(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x5A) || (v >= 0x5E && v <= 0x7E) || isNonASCII(v) }

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func forbiddenMessage(_ v: UInt32) -> String {
        v == 0 ? "NUL character" : "control character \(hex(v))"
    }
}

// MARK: - Lexer
