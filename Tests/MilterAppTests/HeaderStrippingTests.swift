import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Verdict fields only we may add (Authentication-Results under our
/// authserv-id or a TrustedAuthservIDs one, our inbound scan fields) are
/// removed from every message that reaches a local recipient (DESIGN.md
/// "Sealed message format", last rules; t-authorship.sh through Postfix).
@Suite("header stripping of forged verdicts")
struct HeaderStrippingTests {
    static let forged = [
        "Authentication-Results: mx.b.test; fedmail=pass header.from=a.example",
        "Authentication-Results: other.example; dkim=pass header.d=else.example",
        "Authentication-Results: \"mx.b.test\"; fedmail=pass",
        "Authentication-Results: trusted.b.test; spf=pass",
        "X-Virus-Scanned: clean by mx.b.test",
        "x-spam-scanned: yes",
    ]

    static func names(_ message: MilterMessage) -> [String] {
        message.headers.map { "\($0.name):\($0.value)" }
    }

    @Test("inbound plaintext: Authentication-Results claiming our authserv-id (token or quoted) or a trusted one, and our scan fields, are deleted; others stay")
    func inboundPlaintext() throws {
        let b = try Gateway(org: "b", allowlist: [], settings: ["TrustedAuthservIDs trusted.b.test"])
        let original = Mail.message(from: "x@else.example", sender: "<x@else.example>", extraHeaders: Self.forged)
        let run = try b.receive(original)
        #expect(run.response == .continue)
        let kept = run.result.headers.filter { $0.hasName("Authentication-Results") || $0.hasName("X-Virus-Scanned") || $0.hasName("X-Spam-Scanned") }
        #expect(kept.map(\.value) == ["other.example; dkim=pass header.d=else.example"])
        // Deleted last occurrence first, so the occurrences stay right.
        #expect(run.actions == [
            .deleteHeader(name: "x-spam-scanned", occurrence: 1),
            .deleteHeader(name: "X-Virus-Scanned", occurrence: 1),
            .deleteHeader(name: "Authentication-Results", occurrence: 4),
            .deleteHeader(name: "Authentication-Results", occurrence: 3),
            .deleteHeader(name: "Authentication-Results", occurrence: 1),
        ])
        #expect(run.result.body == original.body)
    }

    @Test("without TrustedAuthservIDs another gateway's Authentication-Results stay")
    func untrustedStay() throws {
        let b = try Gateway(org: "b", allowlist: [])
        let run = try b.receive(Mail.message(from: "x@else.example", sender: "<x@else.example>", extraHeaders: Self.forged))
        #expect(run.result.values(of: "Authentication-Results") == [
            "other.example; dkim=pass header.d=else.example", "trusted.b.test; spf=pass",
        ])
    }

    @Test("a message with nothing forged is left untouched (no action at all)")
    func nothingForged() throws {
        let b = try Gateway(org: "b", allowlist: [])
        let run = try b.receive(Mail.message(from: "x@else.example", sender: "<x@else.example>",
                                             extraHeaders: ["Authentication-Results: other.example; spf=pass"]))
        // Decided from the header fields: accepted at end of headers, no body read.
        #expect(run.stage == .endOfHeaders)
        #expect(run.response == .accept)
        #expect(run.actions.isEmpty)
    }

    @Test("outbound to a local colleague: a verdict forged under our name is removed too")
    func outboundLocal() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let run = try a.submit(Mail.message(to: ["colleague@a.example"], extraHeaders: ["Authentication-Results: mx.a.test; fedmail=pass"]))
        #expect(run.response == .continue)
        #expect(run.actions == [.deleteHeader(name: "Authentication-Results", occurrence: 1)])
    }

    @Test("outbound to a plain partner only: a verdict under our name is removed too (it is ours or it goes)")
    func outboundRemoteOnly() throws {
        let a = try Gateway(org: "a", allowlist: [])
        let run = try a.submit(Mail.message(to: ["nina@plain.example"], extraHeaders: ["Authentication-Results: mx.a.test; fedmail=pass"]))
        #expect(run.response == .continue)
        #expect(run.actions == [.deleteHeader(name: "Authentication-Results", occurrence: 1)])
    }

    /// A recipient the MTA delivers locally without its domain being in
    /// `Domains`: no domain at all (the MTA qualifies it), or localhost.
    @Test("outbound with a recipient delivered locally but not in Domains: the forged verdict is removed",
          arguments: [["<root>", "<nina@plain.example>"], ["<root@localhost>", "<nina@plain.example>"],
                      ["<root>", "<bob@b.example>"]])
    func outboundUnlistedLocalRecipient(recipients: [String]) throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let forged = "Authentication-Results: mx.a.test; fedmail=pass header.from=bank.example"
        var message = Mail.message(to: ["nina@plain.example"], extraHeaders: [forged])
        message.recipients = recipients
        let run = try a.submit(message)
        #expect(run.actions.contains(.deleteHeader(name: "Authentication-Results", occurrence: 1)))
        #expect(!run.result.values(of: "Authentication-Results").contains { $0.hasPrefix("mx.a.test") })
    }

    @Test("opened mail: verdicts forged inside the seal under the receiver's authserv-id are dropped; only the receiver's own remains")
    func forgedInsideTheSeal() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: [
            "Authentication-Results: mx.b.test; fedmail=pass header.from=ceo.example",
            "X-Virus-Scanned: clean (forged)",
            "Authentication-Results: mx.a.example; spf=pass",
        ])
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.count == 2)
        #expect(verdicts.first?.hasPrefix("mx.b.test; fedmail=pass header.from=a.example") == true)
        // The sender organization's own results (an authserv-id in its certified domains) stay.
        #expect(verdicts.last == "mx.a.example; spf=pass")
        #expect(opened.result.values(of: "X-Virus-Scanned").isEmpty)
        #expect(opened.result.body == original.body)
    }

    /// A user at A writes a verdict under A's own authserv-id (one under
    /// a.example, so B would restore it as A's results): A removes it from
    /// the copy it delivers and must not seal it either.
    @Test("a verdict a user at A writes under A's authserv-id is not sealed, so B never restores it as A's own results")
    func forgedUnderSenderIDNotSealed() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["TrustedAuthservIDs dkim.a.example"],
                            authservID: "mx.a.example")
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: [
            "Authentication-Results: mx.a.example; auth=pass smtp.auth=ceo@a.example; fedmail=pass",
            "ARC-Authentication-Results: i=1; mx.a.example; dkim=pass header.d=bank.example",
            "Authentication-Results: dkim.a.example; dkim=pass header.d=bank.example",
            "Authentication-Results: spf.a.example; spf=pass smtp.mailfrom=a.example",
        ])
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.count == 2)
        #expect(verdicts.first?.hasPrefix("mx.b.test; fedmail=pass header.from=a.example") == true)
        // Another of A's hosts, not A's milter or a trusted id: A's results, restored.
        #expect(verdicts.last == "spf.a.example; spf=pass smtp.mailfrom=a.example")
        #expect(opened.result.values(of: "ARC-Authentication-Results").isEmpty)
        #expect(opened.result.body == original.body)
    }

    @Test("opened mail: a field inside the seal under an authserv-id outside the signer's domains is not restored, whether or not that verifier wrote a field here",
          arguments: [true, false])
    func foreignIDInsideTheSeal(verifierWroteOne: Bool) throws {
        // B's OpenDKIM (auth.b.example) adds no field to an unsigned
        // message by default, so what a verifier wrote on this delivery
        // cannot tell which ids are B's own (second review, 2026-12-07).
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: [
            "Authentication-Results: auth.b.example; dkim=pass header.d=bank.example",
            "Authentication-Results: =?us-ascii?q?auth.b.example?=; dmarc=pass",
            "Authentication-Results: opendkim; dkim=pass",
            "Authentication-Results: mx.a.example.; spf=pass",
            "Authentication-Results: a.example.evil.test; dkim=pass",
            // Read as auth.b.example by OpenDMARC/OpenARC's parser (quotes
            // dropped, a token starting with "(" skipped); third review.
            "Authentication-Results: \"(x.a.example\" auth.b.example; dmarc=pass header.from=bank.example",
            "Authentication-Results: auth.b.example,x.a.example; dmarc=pass",
            "Authentication-Results: (\\) auth.b.example) x.a.example; dmarc=pass",
            "ARC-Authentication-Results: i=1; auth.b.example; dmarc=pass header.from=bank.example",
            "ARC-Authentication-Results: i=1; mx.a.example; spf=pass",
        ])
        var wire = Mail.relayed(try a.submit(original))
        if verifierWroteOne {
            wire.headers.insert(MilterHeaderField(name: "Authentication-Results", rawValue: " auth.b.example; dkim=none"), at: 0)
        }
        let opened = try b.receive(wire)
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.filter { $0.lowercased().contains("auth.b.example") } == (verifierWroteOne ? ["auth.b.example; dkim=none"] : []),
                "\(verdicts)")
        #expect(!verdicts.contains { $0.contains("opendkim") || $0.contains("evil.test") })
        #expect(verdicts.contains("mx.a.example.; spf=pass"))
        #expect(opened.result.values(of: "ARC-Authentication-Results") == ["i=1; mx.a.example; spf=pass"])
        #expect(opened.result.body == original.body)
    }

    @Test("opened mail: a field inside the seal under the authserv-id of a verifier before us on this delivery (OpenDKIM at B) is not restored")
    func verifierIDInsideTheSeal() throws {
        // The verifiers before FedMail at B judged the sealed message, never
        // the original inside, so their RemoveARFrom never saw a field
        // written under their name into the original at A, which FedMail
        // then restored below its own pass (attacker review, 2026-12-07).
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(extraHeaders: [
            "Authentication-Results: auth.b.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example",
            "Authentication-Results: AUTH.B.EXAMPLE. (forged); dmarc=pass",
            "Authentication-Results: mx.a.example; spf=pass",
        ])
        var wire = Mail.relayed(try a.submit(original))
        // What OpenDKIM at B added to the sealed message before FedMail's turn.
        wire.headers.insert(MilterHeaderField(name: "Authentication-Results", rawValue: " auth.b.example; dkim=none"), at: 0)
        let opened = try b.receive(wire)
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.filter { $0.lowercased().contains("auth.b.example") } == ["auth.b.example; dkim=none"], "\(verdicts)")
        #expect(verdicts.contains("mx.a.example; spf=pass"))
        #expect(verdicts.contains { $0.hasPrefix("mx.b.test; fedmail=pass") })
        #expect(opened.result.body == original.body)
    }

    @Test("opened mail: the outer fields are replaced by the inner original, except the outer Received fields, which stay on top")
    func outerReceivedKept() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message()
        var wire = Mail.relayed(try a.submit(original))
        let hop = MilterHeaderField(name: "Received", rawValue: " from mx.a.test by mx.b.test; Mon, 1 Dec 2025 10:00:01 +0000")
        wire.headers.insert(hop, at: 0)
        wire.headers.append(MilterHeaderField(name: "X-Outer-Only", rawValue: " added in transit"))
        let opened = try b.receive(wire)
        #expect(opened.response == .continue)
        let names = opened.result.headers.map(\.name)
        #expect(names.first == "Authentication-Results")
        #expect(Array(opened.result.headers.dropFirst()) == [hop] + original.headers)
        #expect(!names.contains("X-Outer-Only"))
    }

    @Test("opened mail: an outer Received field that hides one of our verdicts after a bare CR is removed, the others stay")
    func outerReceivedHidingAVerdict() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message()
        var wire = Mail.relayed(try a.submit(original))
        let hop = MilterHeaderField(name: "Received", rawValue: " from mx.a.test by mx.b.test; Mon, 1 Dec 2025 10:00:01 +0000")
        let hiding = MilterHeaderField(name: "Received", rawValue: " from x\rAuthentication-Results: mx.b.test; dkim=pass header.d=bank.example")
        wire.headers.insert(contentsOf: [hop, hiding], at: 0)
        let opened = try b.receive(wire)
        #expect(opened.response == .continue)
        #expect(opened.result.values(of: "Received") == [hop.value] + original.values(of: "Received"))
        #expect(!opened.result.headers.contains { $0.value.contains("bank.example") })
    }

    @Test("opened mail: outer Authentication-Results added on arrival by milters before us (OpenDKIM, OpenDMARC) under another authserv-id stay; outer ones under ours or a trusted one are removed")
    func chainVerdictsKept() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], settings: ["TrustedAuthservIDs trusted.b.test"])
        let original = Mail.message()
        var wire = Mail.relayed(try a.submit(original))
        let hop = MilterHeaderField(name: "Received", rawValue: " from mx.a.test by mx.b.test; Mon, 1 Dec 2025 10:00:01 +0000")
        let dkim = MilterHeaderField(name: "Authentication-Results", rawValue: " auth.b.test; dkim=pass header.d=a.example")
        let dmarc = MilterHeaderField(name: "Authentication-Results", rawValue: " auth.b.test; dmarc=pass header.from=a.example")
        wire.headers.insert(contentsOf: [
            dkim, dmarc,
            MilterHeaderField(name: "Authentication-Results", rawValue: " mx.b.test; fedmail=pass (forged outside)"),
            MilterHeaderField(name: "Authentication-Results", rawValue: " trusted.b.test; spf=pass (forged outside)"),
            hop,
        ], at: 0)
        let opened = try b.receive(wire)
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.count == 3)
        #expect(verdicts.first?.hasPrefix("mx.b.test; fedmail=pass header.from=a.example") == true)
        #expect(Array(opened.result.headers.dropFirst()) == [dkim, dmarc, hop] + original.headers)
        #expect(opened.actions.contains(.deleteHeader(name: "Authentication-Results", occurrence: 4)))
        #expect(opened.actions.contains(.deleteHeader(name: "Authentication-Results", occurrence: 3)))
        #expect(opened.result.body == original.body)
    }
}

/// Spellings of our authserv-id that a reader reads as ours and that the
/// first reading of the rule missed. (Second review, 2026-12-07.)
@Suite("header stripping: every reading of the authserv-id")
struct AuthservIDReadingTests {
    static func eml(_ field: [UInt8]) -> [UInt8] {
        Array("Received: from x by mx.b.test; Mon, 1 Dec 2025 10:00:00 +0000\r\nFrom: x@else.example\r\nTo: bob@b.example\r\nSubject: hi\r\n".utf8)
            + field + Array("\r\n\r\nbody\r\n".utf8)
    }

    /// Whether B delivers the field (plaintext inbound): an
    /// Authentication-Results or ARC-Authentication-Results field is left.
    static func kept(_ field: [UInt8], settings: [String] = []) throws -> Bool {
        let b = try Gateway(org: "b", allowlist: [], settings: settings)
        let run = try b.receive(MilterMessage(eml: eml(field), sender: "<x@else.example>", recipients: ["<bob@b.example>"]))
        return run.result.headers.contains { $0.hasName("Authentication-Results") || $0.hasName("ARC-Authentication-Results") }
    }

    /// The parser OpenDMARC, OpenDKIM and OpenARC share (`ares_tokenize`,
    /// `ares_parse`) makes `.` and `;` tokens of their own, drops quote
    /// marks and backslashes, skips comments and joins the labels of an id
    /// again across white space: each of these is `mx.b.test` (ours) or
    /// `trusted.b.test` (a TrustedAuthservIDs id) to it.
    @Test("an id that the ares parser of OpenDMARC/OpenDKIM/OpenARC reads as ours: spaces around dots, quotes, escapes, a comment inside", arguments: [
        "mx . b . test; spf=pass smtp.mailfrom=partner.example; fedmail=pass",
        "mx.b .test; fedmail=pass",
        "\"mx.b\".test; fedmail=pass",
        "mx.\"b.test\"; fedmail=pass",
        "mx.b (x) .test; fedmail=pass",
        "mx\\.b.test; fedmail=pass",
        "trusted . b . test; spf=pass smtp.mailfrom=partner.example",
    ])
    func takenApart(value: String) throws {
        #expect(!(try Self.kept(Array("Authentication-Results: \(value)".utf8), settings: ["TrustedAuthservIDs trusted.b.test"])))
    }

    @Test("ARC-Authentication-Results under our id or a trusted one, or not written plainly, are removed as Authentication-Results are", arguments: [
        "i=1; mx.b.test; fedmail=pass header.from=partner.example",
        "i=1; mx.b.test; spf=pass smtp.mailfrom=partner.example; dkim=pass header.d=partner.example",
        "i=2; trusted.b.test; dkim=pass header.d=partner.example",
        "i=1; mx . b . test; dkim=pass header.d=partner.example",
        "i=1; \"mx.b.test\"; dkim=pass header.d=partner.example",
        "i=1; (c) mx.b.test; dkim=pass header.d=partner.example",
        "(c) i=1; mx.b.test; dkim=pass header.d=partner.example",
        "i=1 (c); mx.b.test; dkim=pass",
        "mx.b.test; dkim=pass header.d=partner.example",
    ])
    func arcResults(value: String) throws {
        #expect(!(try Self.kept(Array("ARC-Authentication-Results: \(value)".utf8), settings: ["TrustedAuthservIDs trusted.b.test"])))
    }

    /// Python's email package (and what is built on it) breaks lines at a
    /// CR that is not followed by LF: a field can carry another inside its
    /// value, which the MTA and this milter see as one field.
    @Test("a verdict of ours hidden after a bare CR inside another field's value removes that field", arguments: [
        "Subject: t\rAuthentication-Results: mx.b.test; fedmail=pass header.from=bank.example",
        "Authentication-Results: other.example; spf=pass\rAuthentication-Results: mx.b.test; fedmail=pass",
        "X-Note: a\rb\rARC-Authentication-Results: i=1; mx.b.test; dkim=pass header.d=bank.example",
        "X-Note: a\rX-Virus-Scanned: clean by mx.b.test",
        "X-Note: a\rAuthentication-Results : mx . b . test; fedmail=pass",
    ])
    func hiddenAfterBareCR(field: String) throws {
        let b = try Gateway(org: "b", allowlist: [])
        let run = try b.receive(MilterMessage(eml: Self.eml(Array(field.utf8)), sender: "<x@else.example>", recipients: ["<bob@b.example>"]))
        let delivered = run.result.headers.filter { !$0.hasName("Received") }.map { "\($0.name): \($0.value)" }
        #expect(!delivered.contains { $0.contains("mx.b.test") || $0.contains("mx . b . test") }, "\(delivered)")
    }

    @Test("a bare CR with no field of ours after it changes nothing")
    func bareCRAlone() throws {
        let b = try Gateway(org: "b", allowlist: [])
        let run = try b.receive(MilterMessage(eml: Self.eml(Array("X-Note: a\rb: c\rAuthentication-Results: other.example; spf=pass".utf8)),
                                              sender: "<x@else.example>", recipients: ["<bob@b.example>"]))
        #expect(run.actions.isEmpty)
        #expect(run.result.values(of: "X-Note").count == 1)
    }

    @Test("a field whose id is not written plainly goes, whichever id it names: readers take such ids apart in different ways")
    func notPlainGoes() throws {
        #expect(!(try Self.kept(Array("Authentication-Results: =?us-ascii?q?other.example?=; spf=pass".utf8))))
        #expect(!(try Self.kept(Array("Authentication-Results: (c) other.example; spf=pass".utf8))))
        #expect(!(try Self.kept(Array("Authentication-Results: \"other.example\"; spf=pass".utf8))))
    }

    @Test("a comment of any length before the id (once cut at 4,096 characters: a shortened id, not ours)")
    func longComment() throws {
        for n in [4075, 4085, 4092, 4095, 10_000] {
            let value = "(" + String(repeating: "c", count: n) + ") mx.b.test; fedmail=pass header.from=a.example"
            #expect(!(try Self.kept(Array("Authentication-Results: \(value)".utf8))), "kept with a comment of \(n)")
        }
        var folded = "Authentication-Results:"
        for _ in 0..<58 { folded += "\r\n\t(" + String(repeating: "x", count: 66) + ")" }
        for pad in [23, 27, 30] {
            let field = folded + "\r\n\t(" + String(repeating: "y", count: pad) + ") mx.b.test; fedmail=pass"
            #expect(!(try Self.kept(Array(field.utf8))), "kept with folded comments and a pad of \(pad)")
        }
    }

    @Test("an RFC 2047 encoded word (mail libraries decode it in any field)", arguments: [
        "=?us-ascii?q?mx.b.test?= ; fedmail=pass header.from=a.example",
        "=?utf-8?b?bXguYi50ZXN0?=; fedmail=pass header.from=a.example",
    ])
    func encodedWord(value: String) throws {
        #expect(!(try Self.kept(Array("Authentication-Results: \(value)".utf8))))
    }

    @Test("a byte that is not UTF-8 read as a space (Latin-1 0xA0) before an authres-version")
    func latin1Space() throws {
        #expect(!(try Self.kept(Array("Authentication-Results: mx.b.test".utf8) + [0xA0] + Array("1; fedmail=pass".utf8))))
        #expect(!(try Self.kept(Array("Authentication-Results: mx.b.test\u{00A0}1; fedmail=pass".utf8))))
    }

    @Test("a compatibility spelling that NFKC and IDNA map to ours", arguments: [
        "\u{FF4D}\u{FF58}.\u{FF42}.\u{FF54}\u{FF45}\u{FF53}\u{FF54}; fedmail=pass",
        "mx\u{3002}b\u{3002}test; fedmail=pass",
        "mx\u{FF61}b\u{FF0E}test; fedmail=pass",
        "mx.b.te\u{017F}t; fedmail=pass",
    ])
    func compatibility(value: String) throws {
        #expect(!(try Self.kept(Array("Authentication-Results: \(value)".utf8))))
    }

    @Test("still kept: another gateway's field written plainly, with or without a version, ours only as a property, and another's ARC field")
    func othersKept() throws {
        #expect(try Self.kept(Array("Authentication-Results: other.example; dkim=pass header.i=@mx.b.test".utf8)))
        #expect(try Self.kept(Array("Authentication-Results: other.example 1; spf=pass".utf8)))
        #expect(try Self.kept(Array("Authentication-Results: mx.b.test.other.example; spf=pass".utf8)))
        #expect(try Self.kept(Array("ARC-Authentication-Results: i=1; other.example; dkim=pass header.d=mx.b.test".utf8)))
    }

    @Test("opened mail: an encoded-word verdict forged inside the seal is dropped; only the receiver's own remains")
    func insideTheSeal() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let forged = "Authentication-Results: =?us-ascii?q?mx.b.test?= ; fedmail=pass header.from=b.example policy.signer=CEO"
        let sealed = try a.submit(Mail.message(extraHeaders: [forged]))
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        let verdicts = opened.result.values(of: "Authentication-Results")
        #expect(verdicts.count == 1)
        #expect(verdicts.first?.hasPrefix("mx.b.test; fedmail=pass header.from=a.example") == true)
    }
}

