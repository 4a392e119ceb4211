/// One header field of a message as the MTA passed it to the milter.
///
/// Mail is bytes: the field keeps the exact bytes of its name and value
/// (``nameBytes``, ``rawBytes``) as the MTA handed them over, never decoded
/// and re-encoded, so a legacy 8-bit value (`X-Note: caf\xE9`) or a bare CR
/// survives when the field is written out again. ``name``, ``rawValue`` and
/// ``value`` are decoded views for decisions (UTF-8, RFC 6532; an invalid
/// byte reads as U+FFFD) and must not be used to reproduce the field.
public struct MilterHeaderField: Sendable, Hashable {
    /// The exact bytes of the field name, e.g. `Subject`.
    public private(set) var nameBytes: [UInt8]
    /// The exact bytes of the value as received. With raw header values
    /// negotiated they keep the space after the colon; folded lines keep
    /// their line breaks (LF, as Postfix and Sendmail pass them).
    public private(set) var rawBytes: [UInt8]
    /// The decoded views, computed once.
    private var decodedName: String
    private var decodedRawValue: String

    /// A field from the exact bytes of its name and value.
    public init<Name: Sequence<UInt8>, Value: Sequence<UInt8>>(nameBytes: Name, rawBytes: Value) {
        self.nameBytes = Array(nameBytes)
        self.rawBytes = Array(rawBytes)
        decodedName = String(decoding: self.nameBytes, as: UTF8.self)
        decodedRawValue = String(decoding: self.rawBytes, as: UTF8.self)
    }

    /// A field from text: its bytes are the UTF-8 of `name` and `rawValue`.
    public init(name: String, rawValue: String) {
        nameBytes = Array(name.utf8)
        rawBytes = Array(rawValue.utf8)
        decodedName = name
        decodedRawValue = rawValue
    }

    /// The field name decoded, for decisions. Setting it replaces
    /// ``nameBytes`` with the UTF-8 of the new name.
    public var name: String {
        get { decodedName }
        set {
            decodedName = newValue
            nameBytes = Array(newValue.utf8)
        }
    }

    /// The value as received, decoded, for decisions. Setting it replaces
    /// ``rawBytes`` with the UTF-8 of the new value.
    public var rawValue: String {
        get { decodedRawValue }
        set {
            decodedRawValue = newValue
            rawBytes = Array(newValue.utf8)
        }
    }

    /// The value without the leading space after the colon, decoded.
    public var value: String {
        decodedRawValue.first == " " ? String(decodedRawValue.dropFirst()) : decodedRawValue
    }

    /// The exact bytes of the value without the leading space after the colon.
    public var valueBytes: ArraySlice<UInt8> {
        rawBytes.first == UInt8(ascii: " ") ? rawBytes.dropFirst() : rawBytes[...]
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
