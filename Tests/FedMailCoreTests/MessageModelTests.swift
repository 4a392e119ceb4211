@testable import FedMailCore
import Foundation
import Testing

@Suite struct MessageHeaderSectionTests {
    @Test func parsesFoldedFieldsKeepingBytes() {
        let text = "From: a@x.example\r\nReferences: <1@x>\r\n <2@x>\r\n\t<3@x>\r\nSubject: hi\r\n\r\nbody\r\n"
        let section = MessageHeaderSection.parse(Array(text.utf8))
        #expect(section.hasSeparator)
        #expect(section.lineEnding == .crlf)
        #expect(section.fields.map(\.name) == ["From", "References", "Subject"])
        #expect(section.first("references")?.raw == Array("References: <1@x>\r\n <2@x>\r\n\t<3@x>\r\n".utf8))
        #expect(section.first("REFERENCES")?.value == "<1@x> <2@x>\t<3@x>")
        #expect(section.length == text.utf8.count - "body\r\n".utf8.count)
    }

    @Test func lfOnlyAndNoBody() {
        let lf = MessageHeaderSection.parse(Array("From: a@x\nTo: b@y\n\nbody".utf8))
        #expect(lf.lineEnding == .lf)
        #expect(lf.hasSeparator)
        #expect(lf.length == 19)
        let noBody = MessageHeaderSection.parse(Array("From: a@x\r\nSubject: s".utf8))
        #expect(!noBody.hasSeparator)
        #expect(noBody.first("Subject")?.value == "s")
    }

    @Test func utf8Values() {
        let section = MessageHeaderSection.parse(Array("Subject: Grüße 件名\r\n\r\n".utf8))
        #expect(section.first("Subject")?.value == "Grüße 件名")
    }
}

/// The cases the old best-effort domain extractor was tested with, now
/// through the strict parser that replaced it (an empty group, which names
/// no author, is now an error).
@Suite struct MailAddressDomainsTests {
    @Test(arguments: [
        ("Alice <alice@Example.COM>", ["example.com"]),
        ("alice@example.com", ["example.com"]),
        ("\"Doe, John <x@evil.example>\" <john@good.example>", ["good.example"]),
        ("(comment @evil.example) bob@b.example (another)", ["b.example"]),
        ("a@one.example, B <b@two.example.>", ["one.example", "two.example"]),
        ("Team: a@t.example, b@t.example;", ["t.example", "t.example"]),
        ("Jürgen <jürgen@bücher.example>", ["bücher.example"]),
    ])
    func domains(value: String, expected: [String]) throws {
        #expect(try AddressListParser.mailboxes(inAddressList: value).map(\.domain) == expected)
    }

    @Test func emptyGroupNamesNoAuthor() {
        #expect(throws: AddressParseError.self) { try AddressListParser.mailboxes(inAddressList: "undisclosed-recipients:;") }
    }
}

@Suite struct MIMEContentTypeTests {
    @Test func parsesParameters() throws {
        let ct = try #require(MIMEContentType.parse("Multipart/Mixed; boundary=\"a b;c\"; charset=utf-8 (comment)"))
        #expect(ct.mediaType == "multipart/mixed")
        #expect(ct.parameters["boundary"] == "a b;c")
        #expect(ct.parameters["charset"] == "utf-8")
        #expect(MIMEContentType.parse("garbage") == nil)
    }
}

@Suite struct SealedMessageHeadersTests {
    let original = MessageHeaderSection.parse(Array(
        "Received: from x\r\nFrom: a@s.example\r\nTo: b@r.example\r\nSubject: secret plans\r\nX-Other: y\r\nDate: now\r\n\r\nbody".utf8))

    @Test func copiesOnlyListedFieldsAndAddsSMIMEHeaders() {
        let text = String(decoding: SealedMessageHeaders.build(original: original, protectSubject: false, tokens: []), as: UTF8.self)
        #expect(text == "From: a@s.example\r\nTo: b@r.example\r\nSubject: secret plans\r\nDate: now\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    }

    @Test func protectsSubjectAndAddsTokens() {
        let tokens = [FedMailTokenHeader(domain: "r.example", token: "h.p.s"), FedMailTokenHeader(domain: "q.example", token: "h2.p2.s2")]
        let text = String(decoding: SealedMessageHeaders.build(original: original, protectSubject: true, tokens: tokens), as: UTF8.self)
        #expect(text.contains("Subject: [sealed]\r\n"))
        #expect(!text.contains("secret plans"))
        #expect(text.contains("FedMail-Token: v=1; d=r.example; t=h.p.s\r\nFedMail-Token: v=1; d=q.example; t=h2.p2.s2\r\n"))
    }

    @Test("a long token is folded before Content-Type, with the message's line ending, and parses back")
    func longTokensAreFolded() throws {
        let token = "eyJhbGciOiJFUzI1NiJ9." + String(repeating: "QUJDRA", count: 200) + ".c2ln"
        for (text, eol) in [("From: a@s.example\r\n\r\nbody", "\r\n"), ("From: a@s.example\n\nbody", "\n")] {
            let bytes = SealedMessageHeaders.build(original: MessageHeaderSection.parse(Array(text.utf8)), protectSubject: false,
                                                   tokens: [FedMailTokenHeader(domain: "r.example", token: token)])
            let header = MessageHeaderSection.parse(bytes)
            #expect(header.fields.map(\.name) == ["From", "MIME-Version", "FedMail-Token", "Content-Type", "Content-Transfer-Encoding"])
            #expect(eol == "\r\n" || !bytes.contains(13))
            let field = try #require(header.first("FedMail-Token"))
            let lines = String(decoding: field.raw, as: UTF8.self).components(separatedBy: eol).dropLast()
            #expect(lines.count > 10)
            #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "a FedMail-Token line longer than 78 characters")
            #expect(FedMailTokenHeader.parse(value: field.value)?.token == token)
        }
    }

    @Test func lfOriginalGivesLFHeaders() {
        let lf = MessageHeaderSection.parse(Array("From: a@s.example\nSubject: x\n\nbody\n".utf8))
        let bytes = SealedMessageHeaders.build(original: lf, protectSubject: false, tokens: [])
        #expect(!bytes.contains(13))
    }
}

@Suite struct FedMailTokenHeaderTests {
    @Test func roundTripAndJTI() throws {
        // payload {"jti":"abc-123","aud":"r.example"} base64url
        let payload = "eyJqdGkiOiJhYmMtMTIzIiwiYXVkIjoici5leGFtcGxlIn0"
        let header = FedMailTokenHeader(domain: "r.example", token: "eyJhbGciOiJFUzI1NiJ9.\(payload).c2ln")
        let parsed = try #require(FedMailTokenHeader.parse(value: header.value))
        #expect(parsed == header)
        #expect(parsed.unverifiedTokenID == "abc-123")
        #expect(FedMailTokenHeader.parse(value: "v=2; d=x; t=y") == nil)
        #expect(FedMailTokenHeader.parse(value: "v=1; d=x") == nil)
    }
}

@Suite struct SealedInnerEntityTests {
    @Test func layoutRoundTrip() throws {
        let entity = SealedInnerEntity(boundary: "=_b1")
        let original = Array("From: a@b\r\n\r\nno final newline".utf8)
        let bytes = entity.prefix + original + entity.suffix(controlJSON: Array("{\"v\":1}".utf8))
        let layout = try SealedInnerEntityLayout.parse(head: bytes)
        #expect(layout.boundary == "=_b1")
        #expect(layout.originalTransferEncoding == "binary")
        #expect(Array(bytes[layout.originalOffset..<(layout.originalOffset + original.count)]) == original)
        let tailStart = layout.originalOffset + original.count + 2 + 2 + 4
        #expect(try SealedInnerEntityLayout.parseControlPart(tail: Array(bytes[tailStart...]), boundary: "=_b1") == Array("{\"v\":1}".utf8))
    }

    @Test func refusesOtherLayouts() {
        #expect(throws: SealedInnerEntityLayout.LayoutError.self) {
            try SealedInnerEntityLayout.parse(head: Array("Content-Type: text/plain\r\n\r\nhello".utf8))
        }
        #expect(throws: SealedInnerEntityLayout.LayoutError.self) {
            try SealedInnerEntityLayout.parse(head: Array("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n".utf8))
        }
    }

    /// A boundary of 100 KB in a 256 KiB head made the delimiter search copy
    /// the boundary at every line start (about 10^10 bytes): RFC 2046 allows 70.
    @Test func boundaryLongerThanRFC2046IsRefused() throws {
        func entity(_ boundary: String) -> [UInt8] {
            let e = SealedInnerEntity(boundary: boundary)
            return e.prefix + Array("From: a@b\r\n\r\nhi\r\n".utf8) + e.suffix(controlJSON: Array("{\"v\":1}".utf8))
        }
        let longest = String(repeating: "b", count: SealedInnerEntityLayout.maximumBoundaryLength)
        #expect(try SealedInnerEntityLayout.parse(head: entity(longest)).boundary == longest)
        #expect(throws: SealedInnerEntityLayout.LayoutError.self) {
            try SealedInnerEntityLayout.parse(head: entity(longest + "b"))
        }
        #expect(throws: SealedInnerEntityLayout.LayoutError.self) {
            try SealedInnerEntityLayout.parseControlPart(tail: Array("\r\n".utf8), boundary: longest + "b")
        }
    }
}

@Suite struct ControlFlagsTests {
    @Test func decodesIgnoringUnknownMembersAndRoundTrips() throws {
        let json = #"{"v":1,"sealedBy":"gw","tokens":["a","b"],"virusScan":{"status":"clean","engine":"ClamAV","at":"2026-11-23T10:00:00Z"},"future":42}"#
        let flags = try JSONDecoder().decode(ControlFlags.self, from: Data(json.utf8))
        #expect(flags == ControlFlags(sealedBy: "gw", tokens: ["a", "b"], virusScan: .init(status: "clean", engine: "ClamAV", at: "2026-11-23T10:00:00Z")))
        let again = try JSONDecoder().decode(ControlFlags.self, from: try JSONEncoder().encode(flags))
        #expect(again == flags)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ControlFlags.self, from: Data(#"{"tokens":[]}"#.utf8)) }
    }
}

@Suite("header section read from chunks")
struct HeaderSectionReadingTests {
    /// Feeds `message` in chunks of `size` bytes, counting how many were asked for.
    private func read(_ message: String, chunk size: Int, limit: Int = 1 << 20) -> (MessageHeaderSection?, Int) {
        let bytes = Array(message.utf8)
        var offset = 0
        var asked = 0
        let section = MessageHeaderSection.read(limit: limit) { () -> [UInt8] in
            asked += 1
            let end = min(bytes.count, offset + size)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
        return (section, asked)
    }

    @Test("stops at the empty line even when it straddles two chunks, LF or CRLF", arguments: [1, 2, 3, 7, 64])
    func straddling(size: Int) {
        for message in ["A: 1\r\nB: 2\r\n\r\n" + String(repeating: "x", count: 500), "A: 1\nB: 2\n\n" + String(repeating: "x", count: 500)] {
            let (read, asked) = read(message, chunk: size)
            guard let section = read else { Issue.record("no section"); continue }
            #expect(section.hasSeparator)
            #expect(section.fields.map(\.name) == ["A", "B"])
            // It did not read the whole 500-byte body to find the end of the header.
            #expect(asked * size < message.utf8.count)
        }
    }

    @Test("an empty header section is found at once; a section without an end stops at the limit")
    func emptyAndUnterminated() {
        let (empty, asked) = read("\r\nbody " + String(repeating: "x", count: 5000), chunk: 16)
        #expect(empty?.hasSeparator == true && empty?.fields.isEmpty == true)
        #expect(asked == 1)
        let (unterminated, askedForever) = read(String(repeating: "X: y\r\n", count: 10_000), chunk: 100, limit: 1000)
        #expect(askedForever == 10)
        // Not the part that was read, as if it were the section: a field past the limit would go unseen.
        #expect(unterminated == nil)
    }

    @Test("a second From past the limit: no section at all, never the first part of one")
    func fieldPastTheLimit() {
        let message = "From: a@a.example\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 100)
            + "From: ceo@b.example\r\n\r\nbody\r\n"
        #expect(read(message, chunk: 64, limit: 1024).0 == nil)
        // With room for the whole section, both fields are there.
        #expect(read(message, chunk: 64, limit: 1 << 20).0?.all("From").count == 2)
    }

    @Test("a message that ends before the limit without an empty line is all header")
    func headerOnly() {
        let (section, _) = read("From: a@a.example\r\nSubject: x\r\n", chunk: 5)
        #expect(section?.hasSeparator == false)
        #expect(section?.fields.map(\.name) == ["From", "Subject"])
    }
}
