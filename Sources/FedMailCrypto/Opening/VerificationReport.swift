import FedMailCore
import Foundation

/// What opening a sealed message verified, for the Authentication-Results
/// field and for operators.
public struct VerificationReport: Sendable, Hashable {
    /// The signer organization (certificate subject O, else CN).
    public var signerOrganization: String
    /// The signer organization's domains (certificate dNSNames).
    public var signerDomains: [String]
    /// The signer certificate subject.
    public var signerSubject: String
    /// SHA-256 of the signer certificate (compare with the token's `scf`).
    public var signerCertificateSHA256: [UInt8]
    /// The signingTime signed attribute.
    public var signingTime: Date
    /// How our organization was addressed: `key-trans`, `key-agree` or `kek`.
    public var recipientKind: CMSRecipientKind
    /// Lower-case hex of that recipientInfo's key identifier.
    public var recipientKeyID: String
    /// The checks that passed, in the order they ran.
    public var checks: [String]
    /// Whether the signer was accepted as a pinned static partner
    /// certificate (``Opener/pinnedSigners``) instead of by its chain to the
    /// broker CA; the caller then checks the pin belongs to the From domain.
    public var signerPinned: Bool = false
    /// SHA-256 of the SignerInfo signature: identifies the seal (replay cache).
    public var sealID: [UInt8]
}

/// A successfully opened sealed message.
public struct OpenedMessage: Sendable {
    /// The verified control flags.
    public var control: ControlFlags
    /// What was verified.
    public var report: VerificationReport
    /// The `FedMail-Token` fields of the sealed message (unsigned: the
    /// caller verifies the tokens and their ids against ``signedTokenIDs``).
    public var tokenHeaders: [FedMailTokenHeader]
    /// The token ids listed in the signed control part.
    public var signedTokenIDs: [String] { control.tokens }
    /// The size of the original message in bytes.
    public var originalSize: Int
    /// What was verified, as the opening policy saw it.
    public var seal: VerifiedSeal
}

/// What can be read from a sealed message without decrypting it.
public struct SealedMessageSummary: Sendable {
    /// One recipientInfo.
    public struct Recipient: Sendable, Hashable {
        /// `key-trans`, `key-agree`, `kek`, or another kind.
        public var kind: CMSRecipientKind
        /// The key identifier (subjectKeyIdentifier, or the KEK id); empty
        /// when the key is named otherwise (issuer and serial number).
        public var keyIdentifier: [UInt8]
        /// Algorithm detail (e.g. `rsaesOaep`, `dhSinglePass-stdDH-sha256kdf-scheme`).
        public var algorithm: String
        /// How the key is named, as reports show it: the identifier in hex
        /// (a KEK id as text), or `issuer-and-serial` for a certificate
        /// named by its issuer and serial number — which FedMail does not
        /// match: recipients are named by subjectKeyIdentifier (DESIGN.md;
        /// `openssl cms -encrypt -keyid`).
        public var keyName: String {
            if kind == .kek { return String(decoding: keyIdentifier, as: UTF8.self) }
            return keyIdentifier.isEmpty && kind != .other ? "issuer-and-serial" : Hex.encode(keyIdentifier)
        }
    }
    /// The CMS content type (`id-smime-ct-authEnvelopedData` when sealed).
    public var contentType: String
    /// Whether the content is authenticated-encrypted (AuthEnvelopedData).
    public var isAEAD: Bool
    /// The recipientInfos.
    public var recipients: [Recipient]
    /// The `FedMail-Token` fields.
    public var tokenHeaders: [FedMailTokenHeader]
    /// The outer header section.
    public var header: MessageHeaderSection
}
