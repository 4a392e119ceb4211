import Testing
@testable import FedMailCore

/// Work done on what strangers send, before anything is authenticated, is
/// bounded (DESIGN.md "Sealed message format": length limits before any
/// decoding): domain names and FedMail-Token fields too long to be valid are
/// refused before they are transformed. No timings here: the figures are in
/// contrib/bench/hostile.sh.
@Suite("Bounded work on unauthenticated input")
struct BoundedWorkTests {
    /// `count` distinct CJK scalars from U+4E00 (the CJK block has 20,992),
    /// then wrapping into the Hangul syllables, all three UTF-8 bytes.
    static func distinctCJK(_ count: Int) -> String {
        var text = String.UnicodeScalarView()
        for index in 0..<count {
            let value = index < 20_992 ? 0x4E00 + index : 0xAC00 + (index - 20_992) % 11_172
            text.append(Unicode.Scalar(UInt32(value))!)
        }
        return String(text)
    }

    static func scalars(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }

    // MARK: DomainName

    @Test("a 64 KB label of distinct CJK scalars is refused")
    func hugeCJKLabel() {
        let label = Self.distinctCJK(22_000)
        #expect(label.utf8.count >= 64 * 1024)
        #expect(DomainName(label) == nil)
        #expect(DomainName(label + ".example") == nil)
        #expect(DomainName(ofAddress: "user@" + label) == nil)
    }

    @Test("a 64 KB name of many short CJK labels is refused")
    func hugeCJKName() {
        let cjk = Array(Self.distinctCJK(22_000).unicodeScalars)
        var labels: [String] = []
        var index = 0
        while index < cjk.count {
            let end = min(index + 10, cjk.count)
            labels.append(String(String.UnicodeScalarView(cjk[index..<end])))
            index = end
        }
        let name = labels.joined(separator: ".")
        #expect(name.utf8.count >= 64 * 1024)
        #expect(DomainName(name) == nil)
        #expect(DomainName(name + ".") == nil)
    }

    @Test("a label over 63 scalars is refused, 63 ASCII octets are fine")
    func labelLimits() throws {
        let ascii63 = String(repeating: "a", count: 63)
        #expect(try #require(DomainName(ascii63 + ".example")).value == ascii63 + ".example")
        #expect(DomainName(String(repeating: "a", count: 64) + ".example") == nil)
        #expect(DomainName(Self.distinctCJK(64) + ".example") == nil)
        #expect(DomainName(String(repeating: "ü", count: 64) + ".example") == nil)
        // 63 scalars are looked at (and refused here only because the
        // A-label is over 63 octets).
        #expect(DomainName(Self.distinctCJK(63) + ".example") == nil)
    }

    @Test("names up to 253 octets still canonicalize, longer ones do not")
    func nameLimits() throws {
        let label = String(repeating: "a", count: 63)
        let name253 = [label, label, label, String(repeating: "b", count: 61)].joined(separator: ".")
        #expect(name253.utf8.count == 253)
        #expect(try #require(DomainName(name253)).value == name253)
        #expect(try #require(DomainName(name253 + ".")).value == name253)
        #expect(DomainName(name253 + "b") == nil)
        #expect(DomainName(name253 + "..") == nil)
    }

    @Test("an IDN longer in UTF-8 than in A-label form is still valid")
    func longUTF8ShortALabel() throws {
        // 50 × U+4E00 is 150 UTF-8 bytes but a short A-label (repeats cost one
        // digit each): the limits count scalars, so nothing valid is refused.
        let label = String(repeating: "一", count: 50)
        let name = [label, label, "example"].joined(separator: ".")
        #expect(name.utf8.count > 253)
        let domain = try #require(DomainName(name))
        #expect(domain.value.utf8.count <= 253)
        #expect(domain.labels.count == 3)
        #expect(domain.labels.allSatisfy { $0.hasPrefix("xn--") || $0 == "example" })
    }

    @Test("internationalized names canonicalize as before")
    func unchangedResults() {
        #expect(DomainName("Bücher.Example.")?.value == "xn--bcher-kva.example")
        #expect(DomainName("münchen.de")?.value == "xn--mnchen-3ya.de")
        #expect(DomainName("例え.jp")?.value == "xn--r8jz45g.jp")
        #expect(DomainName("xn--bcher-kva.example")?.value == "xn--bcher-kva.example")
        #expect(DomainName("a..b") == nil)
        #expect(DomainName("-a.example") == nil)
        #expect(DomainName("") == nil)
        #expect(DomainName(".") == nil)
    }

    // MARK: Punycode

    @Test("Punycode: RFC 3492 section 7.1 sample strings")
    func rfc3492Vectors() {
        let vectors: [(String, [UInt32], String)] = [
            ("(A) Arabic (Egyptian)",
             [0x0644, 0x064A, 0x0647, 0x0645, 0x0627, 0x0628, 0x062A, 0x0643, 0x0644, 0x0645, 0x0648, 0x0634, 0x0639,
              0x0631, 0x0628, 0x064A, 0x061F],
             "egbpdaj6bu4bxfgehfvwxn"),
            ("(B) Chinese (simplified)",
             [0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D, 0x6587],
             "ihqwcrb4cv8a8dqg056pqjye"),
            ("(C) Chinese (traditional)",
             [0x4ED6, 0x5011, 0x7232, 0x4EC0, 0x9EBD, 0x4E0D, 0x8AAA, 0x4E2D, 0x6587],
             "ihqwctvzc91f659drss3x8bo0yb"),
            ("(D) Czech",
             [0x0050, 0x0072, 0x006F, 0x010D, 0x0070, 0x0072, 0x006F, 0x0073, 0x0074, 0x011B, 0x006E, 0x0065, 0x006D,
              0x006C, 0x0075, 0x0076, 0x00ED, 0x010D, 0x0065, 0x0073, 0x006B, 0x0079],
             "Proprostnemluvesky-uyb24dma41a"),
            ("(G) Japanese",
             [0x306A, 0x305C, 0x307F, 0x3093, 0x306A, 0x65E5, 0x672C, 0x8A9E, 0x3092, 0x8A71, 0x3057, 0x3066, 0x304F,
              0x308C, 0x306A, 0x3044, 0x306E, 0x304B],
             "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"),
            ("(J) Spanish",
             [0x0050, 0x006F, 0x0072, 0x0071, 0x0075, 0x00E9, 0x006E, 0x006F, 0x0070, 0x0075, 0x0065, 0x0064, 0x0065,
              0x006E, 0x0073, 0x0069, 0x006D, 0x0070, 0x006C, 0x0065, 0x006D, 0x0065, 0x006E, 0x0074, 0x0065, 0x0068,
              0x0061, 0x0062, 0x006C, 0x0061, 0x0072, 0x0065, 0x006E, 0x0045, 0x0073, 0x0070, 0x0061, 0x00F1, 0x006F,
              0x006C],
             "PorqunopuedensimplementehablarenEspaol-fmd56a"),
            ("(L) 3<nen>B<gumi><kinpachi><sensei>",
             [0x0033, 0x5E74, 0x0042, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F],
             "3B-ww4c5e180e575a65lsy2b"),
            ("(M) <amuro><namie>-with-SUPER-MONKEYS",
             [0x5B89, 0x5BA4, 0x5948, 0x7F8E, 0x6075, 0x002D, 0x0077, 0x0069, 0x0074, 0x0068, 0x002D, 0x0053, 0x0055,
              0x0050, 0x0045, 0x0052, 0x002D, 0x004D, 0x004F, 0x004E, 0x004B, 0x0045, 0x0059, 0x0053],
             "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),
            ("(R) <sono><supiido><de>",
             [0x305D, 0x306E, 0x30B9, 0x30D4, 0x30FC, 0x30C9, 0x3067],
             "d9juau41awczczp"),
        ]
        for (name, codes, expected) in vectors {
            let scalars = codes.map { Unicode.Scalar($0)! }
            #expect(Punycode.encode(scalars) == expected, "\(name)")
        }
    }

    @Test("Punycode refuses more than 63 scalars, encodes 63")
    func punycodeLimit() throws {
        #expect(Punycode.encode(Self.scalars(Self.distinctCJK(64))) == nil)
        #expect(Punycode.encode(Self.scalars(Self.distinctCJK(22_000))) == nil)
        #expect(Punycode.encode(Self.scalars(String(repeating: "a", count: 64))) == nil)
        let encoded = try #require(Punycode.encode(Self.scalars(Self.distinctCJK(63))))
        #expect(!encoded.isEmpty && encoded.unicodeScalars.allSatisfy(\.isASCII))
        #expect(Punycode.encode(Self.scalars("bücher")) == "bcher-kva")
    }

    // MARK: FedMailTokenHeader

    @Test("a 1 MB FedMail-Token value is refused unexamined")
    func hugeTokenField() {
        let megabyte = "v=1; d=b.example; t=" + String(repeating: "A", count: 1 << 20)
        #expect(FedMailTokenHeader.parse(value: megabyte) == nil)
        let hugeDomain = "v=1; d=" + Self.distinctCJK(22_000) + "; t=x.y.z"
        #expect(hugeDomain.utf8.count >= 64 * 1024)
        #expect(FedMailTokenHeader.parse(value: hugeDomain) == nil)
        let manyParameters = String(repeating: "x=1;", count: 300_000) + "v=1; d=b.example; t=x.y.z"
        #expect(FedMailTokenHeader.parse(value: manyParameters) == nil)
    }

    @Test("ordinary FedMail-Token values parse as before, up to the limit")
    func ordinaryTokenField() throws {
        let parsed = try #require(FedMailTokenHeader.parse(value: "v=1; d=B.Example; t=aaa.bbb.ccc"))
        #expect(parsed == FedMailTokenHeader(domain: "b.example", token: "aaa.bbb.ccc"))
        let folded = try #require(FedMailTokenHeader.parse(value: "v=1; d=b.example;\r\n t=aaa.\r\n bbb.ccc"))
        #expect(parsed.token == folded.token)
        #expect(FedMailTokenHeader.parse(value: "v=2; d=b.example; t=x.y.z") == nil)
        let prefix = "v=1; d=b.example; t=x.y."
        let atLimit = prefix + String(repeating: "z", count: FedMailTokenHeader.maxValueUTF8Bytes - prefix.utf8.count)
        #expect(FedMailTokenHeader.parse(value: atLimit)?.domain == "b.example")
        #expect(FedMailTokenHeader.parse(value: atLimit + "z") == nil)
    }
}
