/// Recognizes a message that is already sealed (DESIGN.md "Sealed message
/// format"), so that it is opened inbound and never sealed a second time
/// outbound (for example a sealed copy coming back through the milter).
public enum SealedMessageDetection {
    /// Whether a header section with these fields (name, unfolded value)
    /// is a FedMail-sealed message: an `application/pkcs7-mime` Content-Type
    /// with `smime-type=authEnveloped-data`, or any `FedMail-Token` field.
    public static func isSealed(fields: [(name: String, value: String)]) -> Bool {
        for field in fields {
            let name = field.name.lowercased()
            if name == FedMailTokenHeader.fieldName.lowercased() { return true }
            if name == "content-type" {
                let value = field.value.lowercased().filter { !$0.isWhitespace }
                if value.hasPrefix("application/pkcs7-mime") || value.hasPrefix("application/x-pkcs7-mime"),
                   value.contains("smime-type=authenveloped-data") || value.contains("smime-type=\"authenveloped-data\"") {
                    return true
                }
            }
        }
        return false
    }
}
