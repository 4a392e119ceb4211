import Crypto
import FedMailCore
import Milter

/// The identity of a split (`MixedRecipients split`): which message went to
/// which sealed recipients. A client that retries a transaction sends the
/// same message to the same recipients, so the retry has the same split id
/// and the split ledger (a ``ReplayCache`` in `StateDirectory/split-ledger`)
/// tells the milter the sealed copy is already queued: the retry removes the
/// sealed recipients again but does not re-inject a second copy.
///
/// SHA-256 over a version label, the envelope sender, the sealed recipients
/// (normalized as the ledger compares them, sorted, de-duplicated), the
/// number of header fields and each but `Received` (the MTA's own trace
/// field differs per attempt: queue id, time) with its exact bytes, a body
/// label and the body; every item but the body is length-prefixed, so two
/// different messages never give the same input. The queue id is not part of it: each attempt
/// gets a new one. Only a message with one Message-ID is recorded
/// (``identifiesMessage(_:)``).
struct SplitID: Hashable, Sendable {
    let bytes: [UInt8]

    init(transaction: MilterTransaction, sealedRecipients: [String]) throws {
        var hash = SHA256()
        // Each item length-prefixed; the counts and the body label keep
        // headers and body apart.
        func field(_ bytes: [UInt8]) {
            hash.update(data: Array(String(bytes.count).utf8) + [0x3A] + bytes)
        }
        field(Array("fedmail-split-v2".utf8))
        field(Array((transaction.senderMailbox ?? "").utf8))
        let recipients = Set(sealedRecipients.map(Self.normalized)).sorted()
        field(Array(String(recipients.count).utf8))
        for recipient in recipients { field(Array(recipient.utf8)) }
        let headers = transaction.headers.filter { !$0.hasName("Received") }
        field(Array(String(headers.count).utf8))
        for header in headers {
            field(header.nameBytes)
            field(header.rawBytes)
        }
        field(Array("body".utf8))
        try transaction.body.forEachChunk { chunk in hash.update(data: chunk) }
        bytes = Array(hash.finalize())
    }

    /// Whether the split id names one message: it has exactly one non-empty
    /// Message-ID field. Without one, two different messages with the same
    /// text, sender and recipients (an alert sent twice by a program that
    /// writes no Message-ID and no Date) would hash alike, and the second
    /// one's sealed recipients would be dropped as a retry of the first; so
    /// such splits are not recorded (a retry may then deliver a second copy,
    /// never lose one).
    static func identifiesMessage(_ transaction: MilterTransaction) -> Bool {
        let fields = transaction.headers.filter { $0.hasName("Message-ID") }
        guard fields.count == 1, let field = fields.first else { return false }
        return field.rawBytes.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }
    }

    /// A recipient as the split ledger compares it: the replay cache's
    /// normalization (case-insensitive, `<>`, quotes, source routes, a
    /// trailing dot and IDNs folded) without folding address extensions.
    static func normalized(_ address: String) -> String {
        ReplayCache.normalized(address, delimiters: "")
    }

    /// The first 16 hex digits, for logs.
    var shortHex: String { Hex.encode(bytes.prefix(8)) }
}
