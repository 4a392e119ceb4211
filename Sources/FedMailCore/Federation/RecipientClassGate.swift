/// `MixedRecipients defer` at RCPT time: the first recipient of a message
/// fixes its class (federated or traditional); a recipient of the other
/// class is answered `452 4.5.3` so the client sends it in a separate
/// transaction.
public struct RecipientClassGate: Sendable, Hashable {
    /// The class of the first accepted recipient, once there is one.
    public private(set) var firstClass: RecipientClass?

    public init() {}

    /// Whether a recipient of class `recipientClass` may join the message;
    /// the first one always may and fixes the class.
    public mutating func admits(_ recipientClass: RecipientClass) -> Bool {
        guard let firstClass else {
            self.firstClass = recipientClass
            return true
        }
        return firstClass == recipientClass
    }
}
