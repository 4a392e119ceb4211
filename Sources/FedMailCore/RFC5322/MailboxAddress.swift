/// One mailbox of an address header field (RFC 5322 §3.4), as
/// ``AddressListParser`` reads it.
public struct MailboxAddress: Sendable, Hashable {
    /// The semantic local part: a quoted string's content with its
    /// quoted-pairs resolved and folding removed, comments and other CFWS
    /// removed; the words of an obs-local-part are joined with ".".
    public var localPart: String
    /// Lower-cased, a single trailing dot removed; a domain-literal is kept
    /// as `"[...]"` (white space inside it removed).
    public var domain: String
    /// The display name, `nil` when there is none. Encoded words are not
    /// decoded; quoted strings lose their quotes and quoted-pairs, comments
    /// are dropped, and every run of white space / comments between two
    /// words becomes one space (`"Joe Q. Public"`, `Doe, John`,
    /// `=?utf-8?q?J=C3=B6rg?= Smith`).
    public var displayName: String?

    public init(localPart: String, domain: String, displayName: String? = nil) {
        self.localPart = localPart
        self.domain = domain
        self.displayName = displayName
    }

    /// `localPart@domain`, the local part quoted when it is not a dot-atom.
    public var addrSpec: String {
        Self.isDotAtomText(localPart) ? localPart + "@" + domain : Self.quoted(localPart) + "@" + domain
    }

    static func isDotAtomText(_ text: String) -> Bool {
        var previousWasDot = true // no leading dot
        for scalar in text.unicodeScalars {
            if scalar == "." {
                if previousWasDot { return false }
                previousWasDot = true
            } else if AddressScalar.isAtext(scalar.value) {
                previousWasDot = false
            } else {
                return false
            }
        }
        return !previousWasDot // not empty, no trailing dot
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { result.unicodeScalars.append("\\") }
            result.unicodeScalars.append(scalar)
        }
        result.unicodeScalars.append("\"")
        return result
    }
}

/// Why an address field value was refused.
public struct AddressParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Human readable, e.g. `"unterminated comment"`, `"no mailbox"`.
    public var message: String
    /// Where parsing failed, counted in Unicode scalars from the start of
    /// the value (the value's length when the end was reached).
    public var offset: Int

    public init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at offset \(offset))" }
}
