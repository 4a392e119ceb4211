import SystemIO
import FedMailCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ReplayCache {
    /// Postfix's `recipient_delimiter` as Debian ships it.
    public static let defaultRecipientDelimiters = "+"

    /// A recipient as the cache compares it: the mailbox the MTA delivers
    /// to, whatever the spelling — parsed as an SMTP path (quoted local
    /// part unquoted, source route dropped, the address extension after a
    /// `delimiters` character dropped, domain canonical without a trailing
    /// dot), lower-cased; what does not parse: surrounding blanks and one
    /// pair of angle brackets removed, lower-cased.
    static func normalized(_ recipient: String, delimiters: String = defaultRecipientDelimiters) -> String {
        // The address extension (bob+news@) reaches bob's mailbox: it is bob.
        if let mailbox = AddressListParser.deliveredMailbox(recipient, cuttingExtensionAt: delimiters) { return mailbox }
        var text = Substring(recipient)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        if text.count >= 2, text.first == "<", text.last == ">" {
            text = text.dropFirst().dropLast()
        }
        return text.lowercased()
    }

    /// A queue id reduced to `A-Z a-z 0-9 . _`, at most 64 characters.
    static func sanitizedQueueID(_ queueID: String) -> String {
        var bytes: [UInt8] = []
        for byte in queueID.utf8 where bytes.count < 64 {
            if isQueueIDByte(byte) { bytes.append(byte) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isQueueIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// One file line for a record (with its newline).
    static func line(key: Key, entry: ReplayEntry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(40 + key.seal.count * 2 + key.recipient.utf8.count + entry.firstQueueID.utf8.count)
        let seconds = entry.expires.timeIntervalSince1970.rounded(.up)
        let expires = seconds.isFinite ? Int64(max(0, min(seconds, 999_999_999_999))) : 0
        out.append(contentsOf: String(expires).utf8)
        out.append(UInt8(ascii: " "))
        for byte in key.seal {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        out.append(UInt8(ascii: " "))
        for byte in key.recipient.utf8 {
            if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigitsUpper[Int(byte >> 4)])
                out.append(hexDigitsUpper[Int(byte & 0x0F)])
            }
        }
        out.append(UInt8(ascii: " "))
        if entry.firstQueueID.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            out.append(contentsOf: entry.firstQueueID.utf8)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Parses one line (without its newline); nil when malformed.
    static func parse(line: ArraySlice<UInt8>, delimiters: String = defaultRecipientDelimiters) -> (key: Key, entry: ReplayEntry)? {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        // Expiry: 1–12 decimal digits.
        let expiresField = fields[0]
        guard (1...12).contains(expiresField.count),
              expiresField.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let expires = expiresField.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        // Seal id: 1–512 bytes of hex.
        let sealField = fields[1]
        guard sealField.count % 2 == 0, (2...1024).contains(sealField.count) else { return nil }
        var seal: [UInt8] = []
        seal.reserveCapacity(sealField.count / 2)
        var index = sealField.startIndex
        while index < sealField.endIndex {
            guard let high = hexValue(sealField[index]), let low = hexValue(sealField[index + 1]) else { return nil }
            seal.append(high << 4 | low)
            index += 2
        }
        // Recipient: strict %XX decoding, valid UTF-8.
        let recipientField = fields[2]
        guard !recipientField.isEmpty, recipientField.count <= 4096 else { return nil }
        var recipientBytes: [UInt8] = []
        recipientBytes.reserveCapacity(recipientField.count)
        index = recipientField.startIndex
        while index < recipientField.endIndex {
            let byte = recipientField[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < recipientField.endIndex,
                      let high = hexValue(recipientField[index + 1]),
                      let low = hexValue(recipientField[index + 2]) else { return nil }
                recipientBytes.append(high << 4 | low)
                index += 3
            } else {
                guard byte > 0x20, byte < 0x7F else { return nil }
                recipientBytes.append(byte)
                index += 1
            }
        }
        guard let recipient = String(validating: recipientBytes, as: UTF8.self) else { return nil }
        // Queue id: "-" (unknown) or 1–64 sanitized characters.
        let queueField = fields[3]
        let queueID: String
        if queueField.elementsEqual([UInt8(ascii: "-")]) {
            queueID = ""
        } else {
            guard (1...64).contains(queueField.count), queueField.allSatisfy(isQueueIDByte) else { return nil }
            queueID = String(decoding: queueField, as: UTF8.self)
        }
        return (Key(seal: seal, recipient: normalized(recipient, delimiters: delimiters)),
                ReplayEntry(firstQueueID: queueID, expires: Date(timeIntervalSince1970: TimeInterval(expires))))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let hexDigitsUpper = Array("0123456789ABCDEF".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
