/// The header fields a reader that breaks lines at a bare CR (Python's
/// `email` package and what is built on it) finds inside one field's value,
/// where the MTA, this milter and most readers see a single field:
/// `Subject: hi<CR>Authentication-Results: mx.b.example; fedmail=pass` is
/// two fields to such a reader. A CR breaks the line unless LF, a space or
/// a tab follows it (then it is part of a line end or a fold to every
/// reader), the same rule as ``MessageHeaderSection/ambiguousByte``.
public enum HiddenHeaderFields {
    /// Each `name: value` such a reader would read after a line-breaking CR
    /// in `value` (a name of printable ASCII without `:`, white space
    /// before the colon allowed), in order; empty when there is none.
    public static func inValue(_ value: String) -> [(name: String, value: String)] {
        let scalars = Array(value.unicodeScalars)
        guard scalars.contains("\r") else { return [] }
        var lines: [ArraySlice<Unicode.Scalar>] = []
        var start: Int?
        for index in scalars.indices where scalars[index] == "\r" {
            guard crBreaksLine(before: index + 1 < scalars.count ? scalars[index + 1].value : nil) else { continue }
            if let start { lines.append(scalars[start..<index]) }
            start = index + 1
        }
        if let start { lines.append(scalars[start...]) }
        return lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            var name = line[line.startIndex..<colon]
            while let last = name.last, last == " " || last == "\t" { name = name.dropLast() }
            guard !name.isEmpty, name.allSatisfy({ $0.value > 32 && $0.value < 127 }) else { return nil }
            return (String(String.UnicodeScalarView(name)), String(String.UnicodeScalarView(line[line.index(after: colon)...])))
        }
    }

    /// Whether a CR followed by `next` (a byte or scalar value; nil at the
    /// end) starts a new line to a reader that breaks lines at a bare CR:
    /// unless LF, a space or a tab follows it.
    public static func crBreaksLine(before next: UInt32?) -> Bool {
        next != 10 && next != 32 && next != 9
    }
}
