/// A mail domain in canonical form: lower case, no trailing dot, every
/// internationalized label in A-label (`xn--`) form.
///
/// Domains from SMTP envelopes, headers, certificates and the allowlist are
/// all compared in this form, so `Partner.Example.`, `partner.example` and
/// `bücher.example` / `xn--bcher-kva.example` match as they should.
public struct DomainName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The canonical ASCII form.
    public let value: String

    /// The most Unicode scalars a name (without its trailing dot) may have:
    /// every scalar costs at least one octet of the canonical form, which
    /// is at most 253 octets.
    static let maxScalars = 253
    /// The most Unicode scalars one label may have (63 octets, as above).
    static let maxLabelScalars = 63

    /// Canonicalizes `text`, or returns `nil` when it is not a valid
    /// host name (empty labels, labels over 63 octets, names over 253,
    /// characters outside letters, digits and hyphen, leading or trailing hyphen).
    ///
    /// Bounded work, since names come from strangers: a text too long to
    /// be a valid name in any form (over 253 scalars plus a trailing dot,
    /// so over 4 × 253 + 1 UTF-8 bytes, or a label over 63 scalars) is
    /// refused before it is lowercased or Punycode-encoded. These limits
    /// refuse nothing valid: a scalar never becomes less than one octet.
    public init?(_ text: some StringProtocol) {
        var text = Substring(text)
        guard text.utf8.count <= 4 * Self.maxScalars + 1 else { return nil }
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty, text.unicodeScalars.count <= Self.maxScalars else { return nil }
        var labels: [String] = []
        for rawLabel in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard rawLabel.unicodeScalars.count <= Self.maxLabelScalars, let label = Self.aLabel(rawLabel) else { return nil }
            labels.append(label)
        }
        let joined = labels.joined(separator: ".")
        guard joined.utf8.count <= 253 else { return nil }
        self.value = joined
    }

    /// A domain the federation can name — one an organization enrolls with
    /// the broker, puts in its CSR, or a gateway lists in its allowlist: a
    /// valid name as ``init(_:)`` accepts it with at least two labels. A
    /// single label (`localhost`, `example`) is never federated.
    public init?(mailDomain text: some StringProtocol) {
        guard let name = DomainName(text), name.value.contains(".") else { return nil }
        self = name
    }

    /// The labels, most specific first.
    public var labels: [Substring] { value.split(separator: ".") }

    /// Whether this domain is `other` or a subdomain of it.
    public func isSubdomain(of other: DomainName) -> Bool {
        value == other.value || value.hasSuffix("." + other.value)
    }

    public var description: String { value }

    public static func < (lhs: DomainName, rhs: DomainName) -> Bool { lhs.value < rhs.value }

    private static func aLabel(_ label: Substring) -> String? {
        guard !label.isEmpty else { return nil }
        let lowered = label.lowercased()
        let ascii: String
        if lowered.unicodeScalars.allSatisfy(\.isASCII) {
            ascii = lowered
        } else {
            guard let encoded = Punycode.encode(Array(lowered.unicodeScalars)) else { return nil }
            ascii = "xn--" + encoded
        }
        guard ascii.utf8.count <= 63,
              ascii.utf8.allSatisfy({ isLetterDigitHyphen($0) }),
              ascii.first != "-", ascii.last != "-" else { return nil }
        return ascii
    }

    private static func isLetterDigitHyphen(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
    }
}

extension DomainName {
    /// The domain part of an address (`user@Example.COM` → `example.com`),
    /// ignoring angle brackets; `nil` when there is no valid domain. An SMTP
    /// path is read as the MTA routes it (``AddressListParser/routedEnvelopePath(_:)``:
    /// `<bob@b.example >` is b.example).
    public init?(ofAddress address: some StringProtocol) {
        guard case .domain(let domain) = RecipientDomain(address: address) else { return nil }
        self = domain
    }
}
