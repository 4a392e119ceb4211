/// A custom SMTP reply sent to the client with a reject or tempfail
/// (`smfi_setreply`, or `smfi_setmlreply` for several lines).
public struct SMTPReply: Sendable, Hashable {
    /// The three-digit reply code, `4xx` or `5xx`.
    public let code: String
    /// The enhanced status code (RFC 3463) such as `5.7.1`, whose class
    /// matches the first digit of ``code``; `nil` lets the MTA choose.
    public let enhancedCode: String?
    /// The text lines; more than one gives a multi-line reply.
    public let lines: [String]

    /// The most lines libmilter accepts in one reply.
    public static let maximumLines = 32

    /// Creates a reply after checking it is one the MTA will send.
    ///
    /// - Throws: ``MilterError`` `invalidArgument` when the code is not
    ///   `4xx`/`5xx`, the enhanced code does not match it, there are no lines
    ///   or more than ``maximumLines``, or a line contains CR, LF or NUL.
    public init(code: String, enhancedCode: String? = nil, lines: [String]) throws(MilterError) {
        let digits = Array(code.utf8)
        guard digits.count == 3, digits[0] == UInt8(ascii: "4") || digits[0] == UInt8(ascii: "5"),
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw MilterError(code: .invalidArgument, message: "SMTP reply code must be 4xx or 5xx, not '\(code)'")
        }
        if let enhancedCode {
            let parts = enhancedCode.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].utf8.first == digits[0], parts[0].count == 1,
                  parts.dropFirst().allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
                throw MilterError(code: .invalidArgument,
                                  message: "enhanced status code '\(enhancedCode)' does not match reply code \(code)")
            }
        }
        guard !lines.isEmpty, lines.count <= Self.maximumLines else {
            throw MilterError(code: .invalidArgument, message: "SMTP reply needs 1 to \(Self.maximumLines) lines, not \(lines.count)")
        }
        // Bytes, not Characters: "\r\n" is one Character equal to neither.
        for line in lines where line.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
            throw MilterError(code: .invalidArgument, message: "SMTP reply line contains CR, LF or NUL")
        }
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }

    /// A reply known valid at compile time (constants of the bridge).
    init(uncheckedCode code: String, enhancedCode: String?, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }
}
