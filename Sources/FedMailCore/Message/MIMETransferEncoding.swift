/// A MIME `Content-Transfer-Encoding` value (RFC 2045 §6.1): one token,
/// compared case-insensitively, with white space and comments around it
/// as in any structured field (`base64 (sealed)`).
public enum MIMETransferEncoding {
    /// The mechanism, lower-cased, with white space and comments removed;
    /// `default` when `value` is nil (no such field); nil when the value
    /// is not a single token (`base64 x`, an unclosed comment).
    public static func mechanism(of value: String?, default defaultMechanism: String) -> String? {
        guard let value else { return defaultMechanism }
        var scanner = MIMEValueScanner(value)
        scanner.skipSpaceAndComments()
        let token = scanner.token()
        scanner.skipSpaceAndComments()
        guard !token.isEmpty, scanner.isAtEnd, !scanner.unclosedComment else { return nil }
        return token.lowercased()
    }
}
