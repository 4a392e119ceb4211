/// A virus verdict an earlier scanner in the chain wrote into a header,
/// such as clamav-milter's `X-Virus-Status: Clean` or
/// `X-Virus-Status: Infected (Win.Test.EICAR_HDB-1)`.
public enum UpstreamVirusVerdict: Sendable, Hashable {
    /// The scanner found nothing.
    case clean
    /// The scanner found a signature (named when the header names it).
    case infected(signature: String?)

    /// Reads a status field value (case-insensitive): `Clean`, `Infected`,
    /// `Infected (SIGNATURE)`.
    /// - Returns: `nil` for anything else (e.g. `Not scanned`, garbage):
    ///   an unknown verdict is no verdict.
    public init?(statusValue value: String) {
        let text = value.trimmingASCIIWhitespace()
        let lower = text.lowercased()
        if lower == "clean" {
            self = .clean
            return
        }
        guard lower.hasPrefix("infected") else { return nil }
        let rest = text.dropFirst("infected".count).trimmingPrefixSpaces()
        if rest.isEmpty {
            self = .infected(signature: nil)
            return
        }
        guard rest.hasPrefix("("), rest.hasSuffix(")"), rest.count > 2 else { return nil }
        let signature = String(rest.dropFirst().dropLast()).trimmingASCIIWhitespace()
        self = .infected(signature: signature.isEmpty ? nil : signature)
    }
}

extension Substring {
    /// The substring without leading spaces and tabs.
    func trimmingPrefixSpaces() -> Substring {
        var rest = self
        while let first = rest.first, first == " " || first == "\t" { rest = rest.dropFirst() }
        return rest
    }
}
