/// Recognizes, from its header fields alone, a message that may be sealed
/// (DESIGN.md "Sealed message format"). Only a hint: whether it is ours to
/// open is decided by a FedMail-Token for our domains or a recipientInfo
/// for our keys, and "already sealed" outbound by a token for every
/// recipient domain on an AuthEnvelopedData body.
public enum SealedMessageDetection {
    /// Whether the fields carry an S/MIME enveloped Content-Type
    /// (`application/pkcs7-mime`, smime-type absent, enveloped-data or
    /// authEnveloped-data) or any `FedMail-Token` field.
    public static func mayBeSealed(fields: [(name: String, value: String)]) -> Bool {
        for field in fields {
            let name = field.name.lowercased()
            if name == FedMailTokenHeader.fieldName.lowercased() { return true }
            if name == "content-type", let type = MIMEContentType.parse(field.value),
               type.type == "application", type.subtype == "pkcs7-mime" || type.subtype == "x-pkcs7-mime" {
                let smime = type.parameters["smime-type"]?.lowercased()
                if smime == nil || smime == "authenveloped-data" || smime == "enveloped-data" { return true }
            }
        }
        return false
    }

    /// Whether the (first) Content-Type is FedMail's: `application/pkcs7-mime`
    /// with `smime-type=authEnveloped-data`.
    public static func hasSealedContentType(fields: [(name: String, value: String)]) -> Bool {
        guard let field = fields.first(where: { $0.name.lowercased() == "content-type" }),
              let type = MIMEContentType.parse(field.value) else { return false }
        return type.type == "application" && (type.subtype == "pkcs7-mime" || type.subtype == "x-pkcs7-mime")
            && type.parameters["smime-type"]?.lowercased() == "authenveloped-data"
    }
}
