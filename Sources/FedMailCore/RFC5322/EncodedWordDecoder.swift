/// RFC 2047 encoded words decoded in place, for ``AddressListParser/domainCandidates(inFieldValue:maxCandidates:)``.
enum EncodedWordDecoder {
    /// `text` with every encoded word decoded, or nil when it has none.
    static func decodeAll(_ text: [Unicode.Scalar]) -> [Unicode.Scalar]? {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var found = false
        var afterWord: Int? // out index just after the last encoded word, while only white space followed
        var i = 0
        while i < text.count {
            if text[i] == "=", i + 1 < text.count, text[i + 1] == "?", let (decoded, next) = decodeWord(text, at: i) {
                if let cut = afterWord { out.removeSubrange(cut...) }
                out.append(contentsOf: decoded)
                afterWord = out.count
                found = true
                i = next
                continue
            }
            let v = text[i].value
            if !(AddressScalar.isWSP(v) || v == 0x0D || v == 0x0A) { afterWord = nil }
            out.append(text[i])
            i += 1
        }
        return found ? out : nil
    }

    /// =?charset?encoding?text?= at `start`: the decoded scalars and the index after it.
    static func decodeWord(_ s: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        func isToken(_ v: UInt32) -> Bool { v > 0x20 && v < 0x7F && v != 0x3F } // printable ASCII but "?"
        var j = start + 2
        while j < s.count && isToken(s[j].value) { j += 1 }
        guard j > start + 2, j < s.count, s[j] == "?" else { return nil }
        var charset = ""
        charset.unicodeScalars.append(contentsOf: s[(start + 2)..<j])
        j += 1
        guard j + 1 < s.count, s[j + 1] == "?" else { return nil }
        let encoding = s[j]
        guard encoding == "q" || encoding == "Q" || encoding == "b" || encoding == "B" else { return nil }
        j += 2
        let textStart = j
        while j < s.count && isToken(s[j].value) { j += 1 }
        guard j + 1 < s.count, s[j] == "?", s[j + 1] == "=" else { return nil }
        let encoded = s[textStart..<j]
        let bytes = (encoding == "q" || encoding == "Q") ? decodeQ(encoded) : decodeB(encoded)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }
        let scalars: [Unicode.Scalar]
        let name = charset.lowercased()
        switch name {
        case "utf-8", "utf8":
            scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        case "utf-7", "utf7", "unicode-1-1-utf-7":
            scalars = decodeUTF7(bytes)
        default:
            if name.hasPrefix("utf-16") || name.hasPrefix("utf16") || name.hasPrefix("ucs-2") || name.hasPrefix("unicode") {
                // Both byte orders (a BOM or the name may lie): what any reader may show.
                scalars = decodeUTF16(bytes, bigEndian: true) + [" "] + decodeUTF16(bytes, bigEndian: false)
            } else if name.hasPrefix("utf-32") || name.hasPrefix("utf32") || name.hasPrefix("ucs-4") {
                scalars = decodeUTF32(bytes, bigEndian: true) + [" "] + decodeUTF32(bytes, bigEndian: false)
            } else {
                // ASCII-compatible charsets (ISO-8859-*, Windows-125x, Shift_JIS,
                // EUC, ISO-2022 in ASCII mode): domain text is ASCII in all of them.
                scalars = bytes.map { Unicode.Scalar($0) }
            }
        }
        return (scalars, j + 2)
    }

    static func decodeUTF16(_ bytes: [UInt8], bigEndian: Bool) -> [Unicode.Scalar] {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var k = 0
        while k + 1 < bytes.count {
            let unit = bigEndian ? UInt16(bytes[k]) << 8 | UInt16(bytes[k + 1]) : UInt16(bytes[k + 1]) << 8 | UInt16(bytes[k])
            if !(k == 0 && (unit == 0xFEFF || unit == 0xFFFE)) { units.append(unit) }
            k += 2
        }
        return Array(String(decoding: units, as: UTF16.self).unicodeScalars)
    }

    static func decodeUTF32(_ bytes: [UInt8], bigEndian: Bool) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var k = 0
        while k + 3 < bytes.count {
            let b = bytes[k..<(k + 4)].map(UInt32.init)
            let value = bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
            if let scalar = Unicode.Scalar(value), value != 0xFEFF { out.append(scalar) }
            k += 4
        }
        return out
    }

    /// RFC 2152: ASCII, with "+<modified base64 of UTF-16BE>[-]" runs ("+-" is "+").
    static func decodeUTF7(_ bytes: [UInt8]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var k = 0
        func sextet(_ b: UInt8) -> UInt32? {
            switch b {
            case 0x41...0x5A: return UInt32(b - 0x41)
            case 0x61...0x7A: return UInt32(b - 0x61 + 26)
            case 0x30...0x39: return UInt32(b - 0x30 + 52)
            case 0x2B: return 62
            case 0x2F: return 63
            default: return nil
            }
        }
        while k < bytes.count {
            let b = bytes[k]
            guard b == 0x2B else { out.append(Unicode.Scalar(b)); k += 1; continue }
            k += 1
            if k < bytes.count, bytes[k] == 0x2D { out.append("+"); k += 1; continue }
            var buffer: UInt32 = 0
            var bits = 0
            var units: [UInt16] = []
            while k < bytes.count, let value = sextet(bytes[k]) {
                buffer = (buffer << 6 | value) & 0xFFFFFF
                bits += 6
                if bits >= 16 {
                    bits -= 16
                    units.append(UInt16(truncatingIfNeeded: buffer >> UInt32(bits)))
                }
                k += 1
            }
            out += String(decoding: units, as: UTF16.self).unicodeScalars
            if k < bytes.count, bytes[k] == 0x2D { k += 1 }
        }
        return out
    }

    static func hexValue(_ scalar: Unicode.Scalar) -> UInt8? {
        switch scalar.value {
        case 0x30...0x39: return UInt8(scalar.value - 0x30)
        case 0x41...0x46: return UInt8(scalar.value - 0x41 + 10)
        case 0x61...0x66: return UInt8(scalar.value - 0x61 + 10)
        default: return nil
        }
    }

    static func decodeQ(_ text: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        var k = text.startIndex
        while k < text.endIndex {
            let scalar = text[k]
            if scalar == "_" {
                bytes.append(0x20)
            } else if scalar == "=", k + 2 < text.endIndex, let high = hexValue(text[k + 1]), let low = hexValue(text[k + 2]) {
                bytes.append(high << 4 | low)
                k += 3
                continue
            } else {
                bytes.append(UInt8(truncatingIfNeeded: scalar.value))
            }
            k += 1
        }
        return bytes
    }

    static func decodeB(_ text: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for scalar in text {
            let v = scalar.value
            let sextet: UInt32
            switch v {
            case 0x41...0x5A: sextet = v - 0x41
            case 0x61...0x7A: sextet = v - 0x61 + 26
            case 0x30...0x39: sextet = v - 0x30 + 52
            case 0x2B: sextet = 62
            case 0x2F: sextet = 63
            default: continue
            }
            buffer = (buffer << 6 | sextet) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return bytes
    }
}
