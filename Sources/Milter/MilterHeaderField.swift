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
}
