import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// The fields of an opened original go back to the MTA under our verdict,
/// so each must read the same to every reader. A signer (or one of its
/// users) could hide a field inside another's value with a bare CR, which
/// FedMail's parser and Postfix do not take as a line break and some
/// readers do: `Subject: hi<CR>From: CEO <ceo@b.example>` showed a From in
/// B's own domain under `fedmail=pass header.from=a.example`. (Second
/// review, 2026-12-07.)
@Suite("opened originals whose header fields read differently to different readers")
struct OpenedHeaderAmbiguityTests {
    @Test("a bare CR in a header field: the sending gateway rejects it (550 5.6.0) and seals nothing the partner would have to refuse",
          arguments: ["hi\rFrom: CEO <ceo@b.example>\rReply-To: x@evil.example", "trailing\r"])
    func bareCR(subject: String) throws {
        // The opener's own refusal of such an original, sealed by a sender
        // that does not check: UnsealableOriginalTests.ambiguousByteIsRefusedByTheOpener.
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let sealed = try a.submit(Mail.message(subject: subject))
        #expect(sealed.response.status == .reject)
        #expect(sealed.response.replyText?.contains("5.6.0") == true, "\(sealed.response)")
        #expect(!sealed.result.values(of: "Content-Type").contains { $0.contains("pkcs7-mime") })
    }

    @Test("a CR that ends a line with LF (CRLF folding) is not ambiguous: the message opens")
    func crlfFoldingOpens() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: ["X-Folded: first\r\n\tsecond"])
        let opened = try b.receive(Mail.relayed(try a.submit(original)))
        #expect(opened.response == .continue)
        #expect(opened.result.values(of: "Authentication-Results").first?.contains("fedmail=pass") == true)
        #expect(opened.result.body == original.body)
    }

    @Test("the rule: a CR not followed by LF, space or tab, or a NUL, in a field is named; CRLF, bare LF and a CR before white space are not")
    func ambiguousByte() {
        let parse = { (text: [UInt8]) in MessageHeaderSection.parse(text) }
        #expect(parse(Array("Subject: a\rFrom: b\r\n\r\n".utf8)).ambiguousByte?.contains("CR") == true)
        #expect(parse(Array("Subject: a\u{0}b\r\n\r\n".utf8)).ambiguousByte?.contains("NUL") == true)
        #expect(parse(Array("Subject: a\rb\r\n\r\n".utf8)).ambiguousByte?.contains("CR") == true)
        #expect(parse(Array("Subject: a\r\r\nFrom: b\r\n\r\n".utf8)).ambiguousByte?.contains("CR") == true)
        #expect(parse(Array("Subject: a\r\n b\r\nFrom: c\r\n\r\n".utf8)).ambiguousByte == nil)
        // A bare CR before white space is a fold to a reader that breaks there too.
        #expect(parse(Array("Subject: caf\u{e9}\r b\r\n\tc\r\n\r\n".utf8)).ambiguousByte == nil)
        #expect(parse(Array("Subject: a\n b\nFrom: c\n\n".utf8)).ambiguousByte == nil)
    }
}
