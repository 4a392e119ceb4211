import Crypto
import FedMailCore
import Foundation

/// The envelope recipients a message is sealed for, bound into its signed
/// control part (``ControlFlags/Recipient/addresses``), so that a sealed
/// copy taken off the wire cannot be sent again to another mailbox of the
/// recipient organization and be opened there under `fedmail=pass`: the
/// receiving gateway opens it only for the recipients listed.
///
/// Each recipient is listed as a digest, not in clear: one sealed copy
/// goes to every recipient organization, and none is to read who the
/// others' recipients were (Bcc). The salt is readable by all of them, so
/// a digest resists reading, not guessing: an organization can test a
/// guessed address against another's list (README). The digest is the first 16 bytes of
/// SHA-256 over the message's salt (16 random bytes), a zero byte and the
/// canonical mailbox, in lower-case hex. The canonical mailbox is the one
/// the MTA routes the RCPT TO argument to (``AddressListParser/routedEnvelopePath(_:)``:
/// `<bob@b.example >` and `<bob @ b.example>` are bob@b.example), the
/// local part lower-cased (mail systems treat `Bob@` and `bob@` as one
/// mailbox) and the domain in its ASCII form (``canonicalMailbox(_:)``).
public enum RecipientAddressBinding {
    /// A new salt: base64url of 16 random bytes.
    public static func newSalt() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode(Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }

    /// The canonical mailbox of an envelope recipient: the address in NFC,
    /// then ``AddressListParser/deliveredMailbox(_:cuttingExtensionAt:)``
    /// with no extension cut (the sender cannot know the receiver's
    /// delimiter), the rule the replay cache and the split ledger compare
    /// by, so a hop that converts `bücher.example` to
    /// `xn--bcher-kva.example` changes nothing; nil when it has no domain
    /// or does not parse.
    public static func canonicalMailbox(_ address: String) -> String? {
        // NFC first: a decomposed `bu\u{308}cher` is the same name.
        guard let mailbox = AddressListParser.deliveredMailbox(address.precomposedStringWithCanonicalMapping),
              !mailbox.hasSuffix("@") else { return nil }
        return mailbox
    }

    /// The digest of `address` under `salt` (``ControlFlags/addressSalt``;
    /// nil or undecodable counts as empty); nil when the address has no
    /// canonical mailbox.
    public static func digest(of address: String, salt: String?) -> String? {
        guard let mailbox = canonicalMailbox(address) else { return nil }
        let saltBytes = salt.flatMap { Base64URL.decode($0) }.map { [UInt8]($0) } ?? []
        let hash = SHA256.hash(data: saltBytes + [0] + Array(mailbox.utf8))
        return Hex.encode(Array(hash.prefix(16)))
    }

    /// The recipients of a transaction as the opening policy checks them.
    public static func bound(_ addresses: [String], salt: String?) -> [OpeningFacts.EnvelopeRecipient] {
        addresses.map { OpeningFacts.EnvelopeRecipient(address: $0, digest: digest(of: $0, salt: salt)) }
    }
}
