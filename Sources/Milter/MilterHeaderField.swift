/// One header field of a message as the MTA passed it to the milter.
public struct MilterHeaderField: Sendable, Hashable {
    /// The field name, e.g. `Subject`.
    public var name: String
    /// The value as received. With raw header values negotiated it keeps the
    /// space after the colon; folded lines keep their line breaks.
    public var rawValue: String

    public init(name: String, rawValue: String) {
        self.name = name
        self.rawValue = rawValue
    }

    /// The value without the leading space after the colon.
    public var value: String {
        rawValue.first == " " ? String(rawValue.dropFirst()) : rawValue
    }

    /// For deleting `fields` (a message's headers in order) with
    /// `smfi_chgheader`: each field's name and 1-based occurrence among the
    /// fields of that name (names compared case-insensitively), last field
    /// first, so that deleting in this order never shifts an occurrence
    /// still to be deleted.
    public static func deletionOrder(of fields: [MilterHeaderField]) -> [(name: String, occurrence: Int)] {
        var seen: [String: Int] = [:]
        var numbered: [(name: String, occurrence: Int)] = []
        for field in fields {
            let key = field.name.lowercased()
            let occurrence = (seen[key] ?? 0) + 1
            seen[key] = occurrence
            numbered.append((field.name, occurrence))
        }
        return numbered.reversed()
    }
}

extension MilterHeaderField {
    /// Whether the field's name is `name`, compared case-insensitively (as MTAs do).
    public func hasName(_ name: String) -> Bool {
        self.name.lowercased() == name.lowercased()
    }
}
