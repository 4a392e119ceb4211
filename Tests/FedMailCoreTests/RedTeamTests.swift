import Foundation
import Testing
@testable import FedMailCore

// Red-team findings against the promise of `Authentication-Results: <id>; fedmail=pass`.
// Each test is an attack that worked against the code as first reviewed, and is fixed.
// (The milter-level attacks are in /tmp/redteam/t-redteam.sh and
// Tests/MilterAppTests/RedTeamReplayTests.swift.)

@Suite("red team: verdict fields under our authserv-id that survive")
struct RedTeamVerdictTests {
    // RFC 8601 consumers (Python `str.strip()`/`re` `\s`, JavaScript `trim()`/`\s`, as in
    // Thunderbird add-ons and webmail plugins) treat U+00A0, U+FEFF, U+3000 as white
    // space and read the authserv-id `mx.b.test` here. Postfix passes the 8-bit value
    // through untouched (t-redteam.sh R2: delivered to the mailbox).
    @Test("a Unicode space before (or after) the authserv-id hides it from us, not from readers")
    func unicodeSpaceAroundAuthservID() {
        for value in ["\u{00A0}mx.b.test; fedmail=pass header.from=a.example",
                      "\u{FEFF}mx.b.test; fedmail=pass header.from=a.example",
                      "\u{3000}mx.b.test; fedmail=pass header.from=a.example",
                      "mx.b.test\u{00A0}; fedmail=pass header.from=a.example"] {
            #expect(AuthenticationResults.fieldValue(value, claims: "mx.b.test"),
                    "kept: \(value.unicodeScalars.map { $0.value < 128 ? String($0) : "U+\(String($0.value, radix: 16))" }.joined())")
        }
    }

    // Invisible characters inside or around the authserv-id, and bytes
    // that are not UTF-8 (a Latin-1 reader sees 0xA0 as a space and 0xAD as
    // nothing), hid it from us and not from readers: the reading stopped at
    // the invisible character, and the fallback for unreadable values
    // searched the raw text. (Second review, 2026-12-07.)
    @Test("an invisible character or a byte that is not UTF-8 inside or around the authserv-id does not hide it")
    func invisibleInsideAuthservID() {
        let latin1 = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        let values = [
            " mx.b\u{200B}.test; fedmail=pass",
            "mx.b\u{00AD}.test; fedmail=pass",
            "\u{2060}mx.b.test\u{2060}; fedmail=pass",
            "(" + String(repeating: "c", count: 5000) + ") mx.b\u{200B}.test; fedmail=pass",
            "\"mx.b\u{200B}.test; fedmail=pass",
            "\"mx.b\u{200B}.test\"; fedmail=pass",
            latin1(Array("mx.b.test".utf8) + [0xA0] + Array("; fedmail=pass".utf8)),
            latin1([0xA0] + Array("mx.b.test; fedmail=pass".utf8)),
            latin1(Array("mx.b".utf8) + [0xAD] + Array(".test; fedmail=pass".utf8)),
        ]
        for value in values {
            #expect(AuthenticationResults.fieldValue(value, claims: "mx.b.test"),
                    "kept: \(value.unicodeScalars.prefix(40).map { $0.value < 128 ? String($0) : "U+\(String($0.value, radix: 16))" }.joined())")
        }
        // Still not ours: another id, or ours only as a property.
        #expect(!AuthenticationResults.fieldValue("mx.b.test.evil; fedmail=pass", claims: "mx.b.test"))
        #expect(!AuthenticationResults.fieldValue("other.example; dkim=pass header.i=@mx.b.test", claims: "mx.b.test"))
        #expect(!AuthenticationResults.fieldValue("mx.b\u{200B}.test.evil; fedmail=pass", claims: "mx.b.test"))
    }

    // `mx.b.test.` is the same host name (fully qualified); a reader that
    // normalizes host names, or a human, takes it for ours. Delivered (R2).
    @Test("the authserv-id with a trailing dot is ours too")
    func trailingDot() {
        #expect(AuthenticationResults.fieldValue("mx.b.test.; fedmail=pass header.from=a.example", claims: "mx.b.test"))
        #expect(AuthenticationResults.fieldValue("\"mx.b.test.\"; fedmail=pass", claims: "mx.b.test"))
    }
}

@Suite("red team: the require rule's domain candidates")
struct RedTeamSpoofedPartnerTests {
    let allowlist: FederationAllowlist

    init() throws {
        allowlist = try FederationAllowlist(parsing: """
            a.example        require
            bücher.example   require
            fintech.example  require
            """, path: "allow")
    }

    // The milter passes Foundation's NFKC (MilterApp's TextForms.nfkc); the core imports nothing.
    static let nfkc = TextForms { $0.precomposedStringWithCompatibilityMapping }

    func partner(_ from: String) -> String? {
        SpoofedPartnerCheck.requiredPartner(inFieldValues: [from], allowlist: allowlist, textForms: Self.nfkc)?.value
    }

    // Python's email package (policy.default) shows these exactly as
    // '"ceo@a.example" <x@n.example>', the form t-authorship scenario 2
    // refuses; the decoder reads every non-UTF-8 charset as Latin-1, so the
    // UTF-16 bytes interleave NULs and the UTF-7 "+AEA-" stays "+AEA-".
    @Test("an encoded word in UTF-16 or UTF-7 naming the partner is seen")
    func nonLatinEncodedWords() {
        #expect(partner("=?utf-16be?b?AGMAZQBvAEAAYQAuAGUAeABhAG0AcABsAGU=?= <x@n.example>") == "a.example")
        #expect(partner("=?utf-16?b?//5jAGUAbwBAAGEALgBlAHgAYQBtAHAAbABlAA==?= <x@n.example>") == "a.example")
        #expect(partner("=?utf-7?q?ceo+AEA-a+AC4-example?= <x@n.example>") == "a.example")
    }

    // The same domain under IDNA (UTS #46 maps to NFC / NFKC before
    // Punycode): a mail client that replies, or resolves, reaches the
    // partner; on screen it is indistinguishable. DomainName encodes the
    // scalars as written, so neither is the partner's allowlist entry.
    @Test("canonically or compatibly equivalent spellings of a partner domain are the partner")
    func unicodeEquivalentDomains() {
        // "bu" + U+0308 COMBINING DIAERESIS = NFD of "bücher"
        #expect(partner("ceo@bu\u{0308}cher.example") == "xn--bcher-kva.example")
        // U+FB01 LATIN SMALL LIGATURE FI
        #expect(partner("ceo@\u{FB01}ntech.example") == "fintech.example")
    }
}

@Suite("red team: what a sealed message may claim beside its addresses")
struct RedTeamOpeningPolicyTests {
    let now: Int64 = 1_000_000

    func verdict(from: String, allowlist: FederationAllowlist) -> String {
        var policy = OpeningPolicy(ourDomains: [DomainName("b.example")!], maxMessageAge: 5 * 86_400)
        policy.pins = CertificatePins(allowlist: allowlist, fingerprintsByPath: [:])
        policy.allowlist = allowlist
        let seal = VerifiedSeal(
            signer: .init(organization: "Org A", domains: ["a.example"], certificateSHA256: "ab12", pinned: false, signingTime: 999_500),
            recipientKeyID: "cafe", control: ControlFlags(tokens: ["t1"], recipients: [.init(keyId: "cafe", domains: ["b.example"])]),
            fromFields: [from], senderFields: [], sealID: [1])
        let token = VerifiedTokenClaims(aud: "b.example", purpose: "smtp-federation", sub: "Org A", sdom: ["a.example"],
                                        scf: "ab12", iat: 999_000, nbf: 999_000, exp: 1_003_600, jti: "t1")
        switch policy.evaluate(OpeningFacts(seal: seal, tokens: [.verified(token)], envelopeSender: "<alice@a.example>", now: now)) {
        case .pass: return "pass"
        case .fail(let failure): return failure.check.name
        }
    }

    // Any user of any enrolled organization: B refuses this From in plaintext
    // ("a reader may take any of them for the author", SpoofedPartnerCheck,
    // t-authorship scenario 2), yet delivers it sealed with fedmail=pass, which
    // makes the impersonation of the require partner c.example look verified
    // (t-redteam.sh R6, through Postfix: delivered with fedmail=pass).
    @Test("a display name or comment naming another require partner does not pass")
    func displayNameNamingARequirePartner() throws {
        let allowlist = try FederationAllowlist(parsing: "a.example require\nc.example require\n", path: "allow")
        #expect(verdict(from: "Alice <alice@a.example>", allowlist: allowlist) == "pass")
        #expect(verdict(from: "\"ceo@c.example\" <alice@a.example>", allowlist: allowlist) != "pass")
        #expect(verdict(from: "alice@a.example (ceo@c.example)", allowlist: allowlist) != "pass")
        #expect(verdict(from: "=?utf-8?q?ceo=40c=2Eexample?= <alice@a.example>", allowlist: allowlist) != "pass")
    }
}

/// Which inner Authentication-Results an opening passes on: only a plain
/// authserv-id in the signer's domains, since readers take any other form
/// apart differently (third review, 2026-12-07: OpenDMARC's parser reads
/// `"(x.a.example" auth.b.example` as auth.b.example).
@Suite("the sending organization's own Authentication-Results")
struct SignerResultsTests {
    @Test("a plain host name, with or without a trailing dot or a version, under the signer's domains")
    func plainIDs() {
        for value in ["mx.a.example; spf=pass", "  a.example 1 ; dkim=pass", "mx.a.example.;none", "MX.A.EXAMPLE\t; spf=pass"] {
            #expect(AuthenticationResults.fieldValue(value, isWithin: ["a.example"]), "\(value)")
        }
        #expect(AuthenticationResults.fieldValue("i=1; mx.a.example; spf=pass", isWithin: ["a.example"], arc: true))
    }

    @Test("anything else is not passed on: another domain, comments, quotes, escapes, specials, non-ASCII, malformed names")
    func everythingElse() {
        let refused = [
            "auth.b.example; dkim=pass", "a.example.evil.test; dkim=pass", "xa.example; spf=pass",
            "\"(x.a.example\" auth.b.example; dmarc=pass", "\"mx.a.example\"; spf=pass", "(c) mx.a.example; spf=pass",
            "mx.a.example (c); spf=pass", "(\\) auth.b.example) x.a.example; dmarc=pass", "auth.b.example,x.a.example; dmarc=pass",
            "mx.a.example", "mx..a.example; x", "-mx.a.example; x", "mx-.a.example; x", "mx.a.example\u{200B}; x",
            "ｍx.a.example; x", "=?us-ascii?q?mx.a.example?=; x", "mx.a.example 1 2; x", "",
        ]
        for value in refused {
            #expect(!AuthenticationResults.fieldValue(value, isWithin: ["a.example"]), "\(value)")
        }
        #expect(!AuthenticationResults.fieldValue("i=1; auth.b.example; dmarc=pass", isWithin: ["a.example"], arc: true))
        #expect(!AuthenticationResults.fieldValue("mx.a.example; spf=pass", isWithin: ["a.example"], arc: true))
        #expect(!AuthenticationResults.fieldValue("i=; mx.a.example; spf=pass", isWithin: ["a.example"], arc: true))
        #expect(!AuthenticationResults.fieldValue("mx.a.example; spf=pass", isWithin: []))
    }
}
