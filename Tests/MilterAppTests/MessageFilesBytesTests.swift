import FedMailCore
import Foundation
import Milter
import Testing
@testable import MilterApp

/// Header fields are bytes from the MTA to the spool file (rawField), into
/// the seal (SealedMessageHeaders) and back to the MTA (milterValue):
/// nothing decoded or re-encoded.
@Suite("message files keep header bytes")
struct MessageFilesBytesTests {
    static let highBytes: [UInt8] = Array(0x80...0xFF)

    /// Milter values (as Postfix passes them with raw header values: the
    /// space after the colon, folding as LF + white space).
    static let values: [(String, [UInt8])] = [
        ("Latin-1", Array(" caf".utf8) + [0xE9]),
        ("every 8-bit byte", [0x20] + highBytes),
        ("8-bit without the leading space", highBytes),
        ("UTF-8", Array(" Grüße, naïve café — 日本語".utf8)),
        ("bare CR inside", Array(" before\rafter".utf8)),
        ("bare CR at the end", Array(" trailing\r".utf8)),
        ("CR before a folding LF", Array(" one\r\n\ttwo".utf8)),
        ("folded", Array(" Hello\n\tworld".utf8)),
        ("folded 8-bit", [0x20, 0xE9, 0x0A, 0x09, 0xFF, 0x0A, 0x20, 0x80]),
        ("one 950-byte line", [0x20] + Array(repeating: UInt8(ascii: "x"), count: 950)),
        ("long folded lines", Array((" " + (0..<40).map { "word-\($0)-" + String(repeating: "y", count: 60) }.joined(separator: "\n\t")).utf8)),
        ("empty", []),
    ]

    @Test("rawField writes the exact bytes of name and value, folding LF as CRLF")
    func rawFieldBytes() {
        let field = MilterHeaderField(nameBytes: Array("X-Note".utf8), rawBytes: Array(" caf".utf8) + [0xE9])
        #expect(MessageFiles.rawField(field, rawValues: true) == Array("X-Note: caf".utf8) + [0xE9, 13, 10])
        let unspaced = MilterHeaderField(nameBytes: Array("X-Note".utf8), rawBytes: [0xE9])
        #expect(MessageFiles.rawField(unspaced, rawValues: false) == Array("X-Note: ".utf8) + [0xE9, 13, 10])
        let high = MilterHeaderField(nameBytes: Array("Subject".utf8), rawBytes: [0x20] + Self.highBytes)
        #expect(MessageFiles.rawField(high, rawValues: true) == Array("Subject: ".utf8) + Self.highBytes + [13, 10])
        let cr = MilterHeaderField(nameBytes: Array("X-CR".utf8), rawBytes: Array(" a\rb\n\tc".utf8))
        #expect(MessageFiles.rawField(cr, rawValues: true) == Array("X-CR: a\rb\r\n\tc\r\n".utf8))
    }

    @Test("milter value -> spool file -> milter value is exact", arguments: values)
    func roundTrip(label: String, value: [UInt8]) {
        for rawValues in [true, false] {
            let field = MilterHeaderField(nameBytes: Array("X-Test".utf8), rawBytes: value)
            let head = Array("Received: by mx.a.test\r\n".utf8) + MessageFiles.rawField(field, rawValues: rawValues)
                + Array("To: b@b.example\r\n\r\nbody\r\n".utf8)
            let section = MessageHeaderSection.parse(head)
            #expect(section.hasSeparator, "\(label)")
            #expect(section.fields.map(\.name) == ["Received", "X-Test", "To"], "\(label)")
            let parsed = section.fields[1]
            let expected = rawValues ? value : [0x20] + value
            #expect(MessageFiles.milterValue(of: parsed) == expected, "\(label), raw values \(rawValues)")
            #expect(MessageFiles.milterValue(of: section.fields[2]) == Array(" b@b.example".utf8))
        }
    }

    @Test("milterValue of a file field: final line end removed, CRLF and LF folding as LF, 8-bit and bare CR kept")
    func milterValueOfFileFields() {
        func value(_ raw: [UInt8]) -> [UInt8] {
            MessageFiles.milterValue(of: MessageHeaderField(name: "X", raw: raw))
        }
        #expect(value(Array("X: caf".utf8) + [0xE9, 13, 10]) == Array(" caf".utf8) + [0xE9])
        #expect(value(Array("X: caf".utf8) + [0xE9, 10]) == Array(" caf".utf8) + [0xE9])
        #expect(value(Array("X: caf".utf8) + [0xE9]) == Array(" caf".utf8) + [0xE9])
        #expect(value(Array("X: a\r\n\tb\r\n".utf8)) == Array(" a\n\tb".utf8))
        #expect(value(Array("X: a\n\tb\n".utf8)) == Array(" a\n\tb".utf8))
        #expect(value(Array("X: a\rb\r\n".utf8)) == Array(" a\rb".utf8))
        #expect(value(Array("X: a\r\r\n".utf8)) == Array(" a\r".utf8))
        #expect(value(Array("X:\r\n".utf8)) == [])
        #expect(value(Array("no colon\r\n".utf8)) == [])
    }

    @Test("the sealed message's outer header copies the original's fields as bytes")
    func sealedOuterHeader() {
        let from = Array("From: Ren".utf8) + [0xE9] + Array(" <rene@a.example>\r\n".utf8)
        let to = Array("To: ".utf8) + [0xC3, 0xA9] + Array(" <bob@b.example>\r\n".utf8)
        let subject = Array("Subject: ".utf8) + Self.highBytes + [13, 10]
        let date = Array("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n".utf8)
        let original = from + to + subject + Array("X-Note: caf".utf8) + [0xE9, 13, 10] + date + [13, 10]
        let section = MessageHeaderSection.parse(original + Array("body\r\n".utf8))
        let token = FedMailTokenHeader(domain: "b.example", token: "abc.def.ghi")
        let clear = SealedMessageHeaders.build(original: section, protectSubject: false, tokens: [token])
        #expect(clear.starts(with: from + to + subject + date))
        let sealed = SealedMessageHeaders.build(original: section, protectSubject: true, tokens: [token])
        #expect(sealed.starts(with: from + to + Array("Subject: [sealed]\r\n".utf8) + date))
        #expect(!sealed.contains(0xFF))
        let outer = MessageHeaderSection.parse(sealed)
        #expect(outer.first("X-Note") == nil)
        #expect(outer.first("From")?.raw == from)
    }
}
