/// Reads the tokens of a MIME structured field value (RFC 2045 §5.1,
/// RFC 822 lexical rules): white space and comments (nested, with
/// quoted-pairs) between them are skipped in a loop, without recursion,
/// whatever their number. Used by ``MIMEContentType`` and
/// ``MIMETransferEncoding``.
struct MIMEValueScanner {
    private let scalars: [Unicode.Scalar]
    private(set) var index = 0
    /// A comment was still open at the end of the value.
    private(set) var unclosedComment = false

    init(_ value: String) {
        scalars = Array(value.unicodeScalars)
    }

    var isAtEnd: Bool { index >= scalars.count }

    /// The next scalar, nil at the end.
    func peek() -> Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    mutating func advance() { index += 1 }

    /// Takes the next scalar, nil at the end.
    mutating func next() -> Unicode.Scalar? {
        guard index < scalars.count else { return nil }
        defer { index += 1 }
        return scalars[index]
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }

    mutating func skipSpaceAndComments() {
        while index < scalars.count {
            let c = scalars[index]
            if Self.isSpace(c) { index += 1; continue }
            guard c == "(" else { return }
            var depth = 0
            while index < scalars.count {
                let c = scalars[index]
                index += 1
                if c == "\\" { index += 1; continue }
                if c == "(" { depth += 1 } else if c == ")" { depth -= 1; if depth == 0 { break } }
            }
            if depth > 0 { unclosedComment = true }
        }
    }

    /// The scalars up to the next `;`, `=`, `/`, `"`, `(` or white space.
    mutating func token() -> String {
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let c = scalars[index]
            if c == ";" || c == "=" || c == "/" || c == "\"" || c == "(" || Self.isSpace(c) { break }
            out.append(c)
            index += 1
        }
        return String(out)
    }
}
