/// JSON string literals (RFC 8259) for the little JSON the core writes by
/// hand (it imports no encoder): quotes, backslash and control characters
/// escaped, everything else as UTF-8.
public enum JSONText {
    /// `text` as a quoted JSON string.
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON string, or `null` for nil.
    public static func optional(_ text: String?) -> String {
        text.map(string) ?? "null"
    }
}
