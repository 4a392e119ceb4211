/// The envelope of a re-injected copy: the sender and the recipients with the
/// ESMTP parameters that travel with them, so a split message keeps its
/// delivery status notification requests (RFC 3461: `RET`, `ENVID`,
/// `NOTIFY`, `ORCPT`) and its internationalized envelope (RFC 6531:
/// `SMTPUTF8`). Every other parameter of the original transaction is
/// dropped: `SIZE` and `BODY` describe the original, not the sealed copy (a
/// 7-bit S/MIME entity), and `AUTH` and the like are the client's business
/// with the first hop.
public struct ReinjectionEnvelope: Sendable, Hashable {
    /// One recipient: its address (angle brackets optional) and the
    /// parameters of its `RCPT TO`, as the MTA passed them.
    public struct Recipient: Sendable, Hashable {
        public var address: String
        public var parameters: [String]

        public init(address: String, parameters: [String] = []) {
            self.address = address
            self.parameters = parameters
        }
    }

    /// The `MAIL FROM` address (angle brackets optional; empty for the null sender).
    public var sender: String
    /// The parameters of `MAIL FROM`, as the MTA passed them.
    public var senderParameters: [String]
    public var recipients: [Recipient]

    public init(sender: String, senderParameters: [String] = [], recipients: [Recipient]) {
        self.sender = sender
        self.senderParameters = senderParameters
        self.recipients = recipients
    }

    /// `MAIL FROM` parameters carried to the re-injection service.
    static let carriedSenderKeywords: Set<String> = ["RET", "ENVID", "SMTPUTF8"]
    /// `RCPT TO` parameters carried to the re-injection service.
    static let carriedRecipientKeywords: Set<String> = ["NOTIFY", "ORCPT"]
    /// The parameters that need the service's `DSN` extension.
    static let dsnKeywords: Set<String> = ["RET", "ENVID", "NOTIFY", "ORCPT"]

    /// True when the sender asked for an internationalized envelope.
    public var requiresSMTPUTF8: Bool {
        senderParameters.contains { Self.keyword(of: $0) == "SMTPUTF8" }
    }

    /// The commands of the envelope for a service that offers `extensions`
    /// (the EHLO keywords, upper-cased): the `MAIL FROM` line, the `RCPT TO`
    /// lines, and the parameters that were left out (a DSN request to a
    /// service without DSN, or `SMTPUTF8` for an all-ASCII envelope to a
    /// service without it: the copy still goes, the caller logs it).
    ///
    /// - Throws: ``ReinjectionError`` when a UTF-8 address needs `SMTPUTF8`
    ///   and the service does not offer it (the copy cannot be sent
    ///   faithfully), or an address or parameter holds a control character.
    public func commands(serviceExtensions extensions: Set<String>) throws(ReinjectionError) -> (mail: String, recipients: [String], dropped: [String]) {
        var utf8 = requiresSMTPUTF8
        var dropped: [String] = []
        if utf8 && !extensions.contains("SMTPUTF8") {
            // Only an 8-bit address truly needs it; an ASCII envelope goes without.
            if ([sender] + recipients.map(\.address)).contains(where: { $0.utf8.contains { $0 >= 0x80 } }) {
                throw ReinjectionError("the envelope has a UTF-8 address and the re-injection service does not offer SMTPUTF8")
            }
            utf8 = false
            dropped.append("SMTPUTF8")
        }
        func carried(_ parameters: [String], keywords: Set<String>) throws(ReinjectionError) -> String {
            var out = ""
            for parameter in parameters {
                let keyword = Self.keyword(of: parameter)
                guard keywords.contains(keyword), keyword != "SMTPUTF8" || utf8 else { continue }
                guard Self.isSafe(parameter, allowingUTF8: utf8) else {
                    throw ReinjectionError("refusing to re-inject an ESMTP parameter with a control character, space or 8-bit byte")
                }
                if Self.dsnKeywords.contains(keyword) && !extensions.contains("DSN") {
                    dropped.append(parameter)
                    continue
                }
                out += " " + parameter
            }
            return out
        }
        let sender = try Self.path(sender)
        let mail = "MAIL FROM:<\(sender)>" + (try carried(senderParameters, keywords: Self.carriedSenderKeywords))
        var lines: [String] = []
        for recipient in recipients {
            let address = try Self.path(recipient.address)
            guard !address.isEmpty else { throw ReinjectionError("refusing to re-inject to an empty recipient address") }
            lines.append("RCPT TO:<\(address)>" + (try carried(recipient.parameters, keywords: Self.carriedRecipientKeywords)))
        }
        return (mail, lines, dropped)
    }

    /// The upper-cased keyword of `KEYWORD[=value]`.
    static func keyword(of parameter: String) -> String {
        String(parameter.prefix { $0 != "=" }).uppercased()
    }

    /// The address without its angle brackets; refused when it holds a
    /// control character (a second command must never ride on it). Spaces
    /// and quotes stay inside the brackets, as the MTA accepted them; an
    /// 8-bit address without SMTPUTF8 is the service's to judge, as it was
    /// the first hop's.
    static func path(_ address: String) throws(ReinjectionError) -> String {
        var text = Substring(address)
        if text.hasPrefix("<"), text.hasSuffix(">"), text.count >= 2 { text = text.dropFirst().dropLast() }
        if text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw ReinjectionError("refusing to re-inject an address with a control character")
        }
        return String(text)
    }

    /// A parameter is one word of printable ASCII (8-bit bytes too with SMTPUTF8).
    static func isSafe(_ parameter: String, allowingUTF8: Bool) -> Bool {
        !parameter.isEmpty && parameter.utf8.allSatisfy { byte in
            (byte > 0x20 && byte < 0x7F) || (allowingUTF8 && byte >= 0x80)
        }
    }
}
