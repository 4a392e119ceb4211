import Testing
@testable import FedMailCore

@Suite("RFC 5322 address list parser")
struct AddressListParserTests {
    func mailboxes(_ value: String, max: Int = AddressListParser.defaultMaxMailboxes) throws -> [MailboxAddress] {
        try AddressListParser.mailboxes(inAddressList: value, maxMailboxes: max)
    }

    func domains(_ value: String) throws -> [String] {
        try mailboxes(value).map(\.domain)
    }

    func specs(_ value: String) throws -> [String] {
        try mailboxes(value).map(\.addrSpec)
    }

    // MARK: RFC 5322 Appendix A

    struct Example: Sendable, CustomTestStringConvertible {
        var section: String
        var value: String
        var addrSpecs: [String]
        var displayNames: [String?]
        var testDescription: String { "A.\(section) \(value.debugDescription)" }
    }

    static let appendixA: [Example] = [
        Example(section: "1.1 From", value: "John Doe <jdoe@machine.example>",
                addrSpecs: ["jdoe@machine.example"], displayNames: ["John Doe"]),
        Example(section: "1.1 To", value: "Mary Smith <mary@example.net>",
                addrSpecs: ["mary@example.net"], displayNames: ["Mary Smith"]),
        Example(section: "1.2 From", value: #""Joe Q. Public" <john.q.public@example.com>"#,
                addrSpecs: ["john.q.public@example.com"], displayNames: ["Joe Q. Public"]),
        Example(section: "1.2 To", value: "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
                addrSpecs: ["mary@x.test", "jdoe@example.org", "one@y.test"], displayNames: ["Mary Smith", nil, "Who?"]),
        Example(section: "1.2 Cc", value: #"<boss@nil.test>, "Giant; \"Big\" Box" <sysservices@example.net>"#,
                addrSpecs: ["boss@nil.test", "sysservices@example.net"], displayNames: [nil, #"Giant; "Big" Box"#]),
        Example(section: "1.3 From", value: "Pete <pete@silly.example>",
                addrSpecs: ["pete@silly.example"], displayNames: ["Pete"]),
        Example(section: "1.3 To", value: "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
                addrSpecs: ["c@a.test", "joe@where.test", "jdoe@one.test"], displayNames: ["Ed Jones", nil, "John"]),
        Example(section: "2 Reply-To", value: #""Mary Smith: Personal Account" <smith@home.example>"#,
                addrSpecs: ["smith@home.example"], displayNames: ["Mary Smith: Personal Account"]),
        Example(section: "3 Resent-To", value: "Jane Brown <j-brown@other.example>",
                addrSpecs: ["j-brown@other.example"], displayNames: ["Jane Brown"]),
        Example(section: "4 From", value: "John Doe <jdoe@node.example>",
                addrSpecs: ["jdoe@node.example"], displayNames: ["John Doe"]),
        Example(section: "5 From", value: #"Pete(A nice \) chap) <pete(his account)@silly.test(his host)>"#,
                addrSpecs: ["pete@silly.test"], displayNames: ["Pete"]),
        Example(section: "5 To", value: "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
                    + "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
                addrSpecs: ["c@public.example", "joe@example.org", "jdoe@one.test"], displayNames: ["Chris Jones", nil, "John"]),
        Example(section: "6.1 From (obs-phrase)", value: "Joe Q. Public <john.q.public@example.com>",
                addrSpecs: ["john.q.public@example.com"], displayNames: ["Joe Q. Public"]),
        Example(section: "6.1 To (obs route, empty element, obs-domain)",
                value: "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
                addrSpecs: ["mary@example.net", "jdoe@test.example"], displayNames: ["Mary Smith", nil]),
        Example(section: "6.3 From (comment in obs-domain)", value: "John Doe <jdoe@machine(comment).  example>",
                addrSpecs: ["jdoe@machine.example"], displayNames: ["John Doe"]),
        Example(section: "6.3 To (white space only line)", value: "Mary Smith\r\n  \r\n          <mary@example.net>",
                addrSpecs: ["mary@example.net"], displayNames: ["Mary Smith"]),
    ]

    @Test("RFC 5322 Appendix A examples", arguments: appendixA)
    func appendixAExample(_ example: Example) throws {
        let boxes = try mailboxes(example.value)
        #expect(boxes.map(\.addrSpec) == example.addrSpecs)
        #expect(boxes.map(\.displayName) == example.displayNames)
    }

    @Test("RFC 5322 Appendix A empty groups have no mailbox",
          arguments: ["Undisclosed recipients:;", "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;"])
    func appendixAEmptyGroups(_ value: String) {
        let error = #expect(throws: AddressParseError.self) { try mailboxes(value) }
        #expect(error?.message == "no mailbox")
    }

    // MARK: Attacks on the domain

    @Test("quoted-pairs in a comment never reach the domain")
    func commentQuotedPairs() throws {
        let boxes = try mailboxes(#""B CEO" <ceo@b.example (\@\a\.\e\x\a\m\p\l\e)>"#)
        #expect(boxes == [MailboxAddress(localPart: "ceo", domain: "b.example", displayName: "B CEO")])
        #expect(try domains(#"ceo@partner.example (\x)"#) == ["partner.example"])
        #expect(try domains(#"alice@a.example (Alice \(Sales\))"#) == ["a.example"])
        #expect(try specs(#"ceo(\@evil.example)@b.example"#) == ["ceo@b.example"])
        #expect(try domains(#"ceo@b(\@evil).example"#) == ["b.example"])
        #expect(try domains(#"<ceo@b.example(\)\@evil.example)>"#) == ["b.example"])
    }

    @Test("quoted strings in display names never become addresses")
    func quotedDisplayNames() throws {
        #expect(try domains(#""ceo@partner.example" <x@evil.example>"#) == ["evil.example"])
        #expect(try domains(#""Doe, John" <j@x.example>"#) == ["x.example"])
        #expect(try mailboxes(#""Doe, John" <j@x.example>"#).first?.displayName == "Doe, John")
        #expect(try domains(#""a@b.example, c@d.example" <e@f.example>, g@h.example"#) == ["f.example", "h.example"])
    }

    @Test("a quoted local part may hold '@'")
    func quotedLocalPart() throws {
        let box = try #require(try mailboxes(#""ceo@partner.example"@evil.example"#).first)
        #expect(box.localPart == "ceo@partner.example")
        #expect(box.domain == "evil.example")
        #expect(box.addrSpec == #""ceo@partner.example"@evil.example"#)
        #expect(try specs(#""john.\"q\".public"@example.com"#) == [#""john.\"q\".public"@example.com"#])
        #expect(try mailboxes(#""a\ b"@c.example"#).first?.localPart == "a b")
        #expect(try specs(#""a".b@c.example"#) == ["a.b@c.example"]) // obs-local-part
        #expect(try specs("john . doe @ example.com") == ["john.doe@example.com"])
    }

    @Test("encoded words, invisible and white space characters cannot make up an address", arguments: [
        "a@=?utf-8?q?partner=2Eexample?=",
        "a@b.=?utf-8?q?example?=",
        "=?utf-8?q?ceo?=@partner.example",
        "a@part\u{200B}ner.example",
        "a@partner\u{00A0}.example",
        "a@partner.exam\u{00AD}ple",
        "a@[192.0.2.1\u{00A0}]", // Python's parser drops the NBSP from the domain
        "ce\u{200B}o@b.example",
        "\u{00A0}@b.example",
    ])
    func refusedDomainCharacters(_ value: String) {
        #expect(throws: AddressParseError.self) { try mailboxes(value) }
    }

    // MARK: Syntax

    @Test("folding with CRLF or LF followed by white space")
    func folding() throws {
        #expect(try domains("Alice\r\n <alice@a.example>") == ["a.example"])
        #expect(try domains("Alice\n\t<alice@a.example>") == ["a.example"])
        #expect(try domains("alice@a.example,\r\n bob@b.example") == ["a.example", "b.example"])
        #expect(try mailboxes("\"Doe,\r\n John\" <j@x.example>").first?.displayName == "Doe, John")
        #expect(try mailboxes("Alice (the\r\n\tboss) <alice@a.example>").first?.displayName == "Alice")
        #expect(try domains("a@[192.0.2.1\r\n ]") == ["[192.0.2.1]"])
    }

    @Test("domains are lower-cased and lose a trailing dot")
    func domainCase() throws {
        #expect(try domains("Alice <Alice@A.EXAMPLE>") == ["a.example"])
        #expect(try mailboxes("Alice@A.EXAMPLE").first?.localPart == "Alice")
        #expect(try domains("a@B.Example.") == ["b.example"])
        #expect(try domains("<a@B.Example.>") == ["b.example"])
        #expect(try domains("a@[192.0.2.1]") == ["[192.0.2.1]"])
        #expect(try domains("a@[IPv6:2001:DB8::1]") == ["[ipv6:2001:db8::1]"])
        #expect(try domains("a@[ 192.0.2.1 ]") == ["[192.0.2.1]"])
    }

    @Test("encoded words are atoms of the display name")
    func encodedWords() throws {
        let box = try #require(try mailboxes("=?utf-8?q?J=C3=B6rg?= Smith <j@x.example>").first)
        #expect(box.displayName == "=?utf-8?q?J=C3=B6rg?= Smith")
        #expect(box.domain == "x.example")
        #expect(try domains("=?UTF-8?B?SsO2cmc=?= <j@x.example>") == ["x.example"])
        // '@' inside an encoded word splits it: refused.
        #expect(throws: AddressParseError.self) { try mailboxes("=?utf-8?q?a@b?= <x@y.example>") }
    }

    @Test("UTF-8 (RFC 6532)")
    func utf8() throws {
        let box = try #require(try mailboxes("Jörg <jörg@bücher.example>").first)
        #expect(box.displayName == "Jörg")
        #expect(box.localPart == "jörg")
        #expect(box.domain == "bücher.example")
        #expect(try domains("JÖRG@BÜCHER.EXAMPLE") == ["bücher.example"])
        #expect(try mailboxes("\"Jörg, Müller\" <j@x.example>").first?.displayName == "Jörg, Müller")
    }

    @Test("groups are flattened; RFC 6854 allows them in From")
    func groups() throws {
        let error = #expect(throws: AddressParseError.self) { try mailboxes("undisclosed-recipients:;") }
        #expect(error?.message == "no mailbox")
        #expect(try specs("team: a@x.example, b@y.example;") == ["a@x.example", "b@y.example"])
        #expect(try specs("team: a@x.example;, c@z.example") == ["a@x.example", "c@z.example"])
        #expect(try specs("c@z.example, team:;") == ["c@z.example"])
        #expect(try specs("team: , a@x.example,, ;") == ["a@x.example"]) // obs-group-list / obs-mbox-list
        #expect(try specs("\"The Team\" (x): Alice <a@x.example> (y) ; (z)") == ["a@x.example"])
    }

    @Test("empty list elements (obs-addr-list)")
    func emptyElements() throws {
        #expect(try specs("a@b.example,,c@d.example") == ["a@b.example", "c@d.example"])
        #expect(try specs(" , a@b.example , ") == ["a@b.example"])
    }

    @Test("obs routes")
    func routes() throws {
        #expect(try specs("<@r1.example,@r2.example:a@b.example>") == ["a@b.example"])
        #expect(try specs("<,@r1.example,,@r2.example : a@b.example>") == ["a@b.example"])
        #expect(try domains("Joe <@partner.example:joe@evil.example>") == ["evil.example"])
    }

    @Test("nested comments")
    func nestedComments() throws {
        #expect(try specs(#"a@b.example (x (y (z \) ) ) w)"#) == ["a@b.example"])
        #expect(try mailboxes("Pete (a (b) c) <p@s.example>").first?.displayName == "Pete")
        let fifty = String(repeating: "(", count: 50) + String(repeating: ")", count: 50)
        #expect(try domains(fifty + "a@b.example") == ["b.example"])
    }

    @Test("comments nested too deeply are refused")
    func deepComments() {
        let deep = String(repeating: "(", count: 51) + String(repeating: ")", count: 51) + "a@b.example"
        let error = #expect(throws: AddressParseError.self) { try mailboxes(deep) }
        #expect(error?.offset == 50)
        // Deep enough to overflow a recursive parser's stack: still a plain error.
        #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "(", count: 60_000)) }
    }

    @Test("malformed values are refused", arguments: [
        "Display Name a@b.example",
        "x@y.example <a@b.example>",
        "a@b.example c@d.example",
        #""a" b@c.example"#,
        "a@",
        "a@ ",
        "@b.example",
        "a@b@c.example",
        "a@b.example>",
        ">",
        "<a@b.example",
        "<a@b.example>>",
        "<<a@b.example>>",
        "<>",
        "Alice <>",
        "a@b.example (unterminated",
        "a@b.example (a (b)",
        "a@b.example)",
        #""unterminated <a@b.example>"#,
        #""a@b.example"#,
        "a@b.example \\",
        "a\\@b.example@evil.example",
        "a@[192.0.2.1",
        "a@192.0.2.1]",
        "a@[1[2]",
        "a\u{0}@b.example",
        "a@b.example\u{0}",
        "a@b.example (\u{0})",
        "a@b.example\r",
        "a@b.example\n",
        "a@b.example\r\n",
        "a@b.example\rX",
        "a@b.example\r\nX-Other: y",
        "a@b.\nexample",
        "\"a\r\"@b.example",
        "a@b.example\u{7F}",
        "a@b.example\u{85}",
        "a@b.example\u{2028}",
        "a@b..example",
        "a@.b.example",
        "a@b.example..",
        ".a@b.example",
        "a.@b.example",
        "a..b@c.example",
        "a@\"b\".example",
        ". Joe <a@b.example>",
        "a@b.example;",
        "team: a@x.example",
        "team: a@x.example, sub: b@y.example;;",
        ": a@x.example;",
        "",
        "   ",
        "(just a comment)",
        ",,",
        "Alice",
        "<@r.example a@b.example>",
        "<@r.example:>",
    ])
    func malformed(_ value: String) {
        #expect(throws: AddressParseError.self) { try mailboxes(value) }
    }

    @Test("errors say what and where")
    func errorDetails() {
        var error = #expect(throws: AddressParseError.self) { try mailboxes("a@b..example") }
        #expect(error?.offset == 4)
        error = #expect(throws: AddressParseError.self) { try mailboxes("Alice <a@b.example> (oops") }
        #expect(error?.message == "unterminated comment")
        #expect(error?.offset == 20)
        error = #expect(throws: AddressParseError.self) { try mailboxes("ä <a@b.example>\0") }
        #expect(error?.message == "NUL character")
        #expect(error?.offset == 15) // Unicode scalars, not bytes
        #expect(error?.description == "NUL character (at offset 15)")
    }

    // MARK: Limits

    @Test("at most maxMailboxes mailboxes")
    func mailboxCap() throws {
        let list = { (count: Int) in (0..<count).map { "u\($0)@x.example" }.joined(separator: ", ") }
        #expect(try mailboxes(list(100)).count == 100)
        let error = #expect(throws: AddressParseError.self) { try mailboxes(list(101)) }
        #expect(error?.message == "more than 100 mailboxes")
        #expect(try mailboxes(list(3), max: 3).count == 3)
        let small = #expect(throws: AddressParseError.self) { try mailboxes("g: " + list(4) + ";", max: 3) }
        #expect(small?.message == "more than 3 mailboxes")
        #expect(try mailboxes(list(3000), max: .max).count == 3000)
    }

    @Test("values over 64 KiB (UTF-8) are refused up front")
    func sizeCap() throws {
        let suffix = "@b.example"
        let fits = String(repeating: "a", count: AddressListParser.maxValueUTF8Bytes - suffix.utf8.count) + suffix
        #expect(try domains(fits) == ["b.example"])
        let error = #expect(throws: AddressParseError.self) { try mailboxes("a" + fits) }
        #expect(error?.offset == 0)
        #expect(error?.message.contains("longer than 65536 bytes") == true)
        // Counted in bytes: 32 768 two-byte scalars are too many with the suffix.
        #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "é", count: 32_768) + suffix) }
        // Refused before parsing, so even garbage gets the size error.
        let garbage = #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "(", count: 70_000)) }
        #expect(garbage?.message.contains("longer") == true)
        #expect(throws: AddressParseError.self) { try AddressListParser.mailbox("a" + fits) }
        #expect(throws: AddressParseError.self) { try AddressListParser.envelopePath("a" + fits) }
    }

    @Test("pathological values near the size limit finish")
    func pathological() throws {
        // Each would take seconds to minutes if some step were quadratic.
        #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "a", count: 65_000)) }
        #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "a.", count: 32_000) + "@") }
        #expect(throws: AddressParseError.self) { try mailboxes("\"" + String(repeating: "\\a", count: 32_000)) }
        #expect(throws: AddressParseError.self) { try mailboxes(String(repeating: "a ", count: 32_000) + "<") }
        #expect(try mailboxes(String(repeating: ",", count: 60_000) + "a@b.example").count == 1)
        #expect(try mailboxes(String(repeating: "a@b.example,", count: 5_000), max: .max).count == 5_000)
        _ = AddressListParser.domainCandidates(inFieldValue: String(repeating: "=?", count: 32_000))
        _ = AddressListParser.domainCandidates(inFieldValue: String(repeating: "=?a?q?", count: 10_000))
        _ = AddressListParser.domainCandidates(inFieldValue: String(repeating: "@", count: 65_000))
        _ = AddressListParser.domainCandidates(inFieldValue: String(repeating: "a.", count: 32_000))
        _ = AddressListParser.domainCandidates(inFieldValue: "=?utf-8?q?" + String(repeating: "=41", count: 20_000) + "?=")
        #expect(AddressListParser.domainCandidates(inFieldValue: String(repeating: "x.y ", count: 16_000)) == ["x.y"])
    }

    // MARK: Sender

    @Test("a single mailbox")
    func singleMailbox() throws {
        let box = try AddressListParser.mailbox("Mary Smith <Mary@Example.NET>")
        #expect(box == MailboxAddress(localPart: "Mary", domain: "example.net", displayName: "Mary Smith"))
        #expect(try AddressListParser.mailbox(" (x) mary@example.net (y) ").addrSpec == "mary@example.net")
        for value in ["a@b.example, c@d.example", "team: a@b.example;", "", "a@b.example,", ",a@b.example", "Mary Smith"] {
            #expect(throws: AddressParseError.self, "\(value.debugDescription)") { try AddressListParser.mailbox(value) }
        }
    }

    // MARK: addr-spec rendering

    @Test("addrSpec quotes a local part that is not a dot-atom")
    func addrSpecQuoting() {
        #expect(MailboxAddress(localPart: "a.b", domain: "c").addrSpec == "a.b@c")
        #expect(MailboxAddress(localPart: "a b", domain: "c").addrSpec == #""a b"@c"#)
        #expect(MailboxAddress(localPart: #"a"b\"#, domain: "c").addrSpec == #""a\"b\\"@c"#)
        #expect(MailboxAddress(localPart: "a..b", domain: "c").addrSpec == #""a..b"@c"#)
        #expect(MailboxAddress(localPart: "", domain: "c").addrSpec == "\"\"@c")
    }

    // MARK: Envelope paths

    @Test("envelope paths", arguments: [
        ("<a@B.Example>", "a@b.example"),
        ("a@b.example", "a@b.example"),
        ("<a@b.example.>", "a@b.example"),
        ("<@x.example,@y.example:a@b.example>", "a@b.example"),
        ("@x.example:a@b.example", "a@b.example"),
        (#"<"a b"@c.example>"#, #""a b"@c.example"#),
        (#"<"a\"b"@c.example>"#, #""a\"b"@c.example"#),
        ("<a@[192.0.2.1]>", "a@[192.0.2.1]"),
        ("<a@[IPv6:2001:DB8::1]>", "a@[ipv6:2001:db8::1]"),
        ("<jörg@bücher.example>", "jörg@bücher.example"),
        ("<first.last+tag@sub.b-c.example>", "first.last+tag@sub.b-c.example"),
    ])
    func envelopePath(_ value: String, _ expected: String) throws {
        #expect(try AddressListParser.envelopePath(value)?.addrSpec == expected)
    }

    @Test("null envelope sender")
    func nullSender() throws {
        #expect(try AddressListParser.envelopePath("<>") == nil)
        #expect(try AddressListParser.envelopePath("") == nil)
    }

    @Test("malformed envelope paths", arguments: [
        "<a@b.example", "a@b.example>", "<a@b.example> ", " <a@b.example>", "<a b@c.example>",
        "<a@b..example>", "<a@-b.example>", "<a@b-.example>", "<a@b_c.example>", "<@x:>", "<a>", "<a@>", "<@b.example>",
        "<a@b.example (comment)>", #"<"a@b.example>"#, "<a@b@c.example>", "<<a@b.example>>", "Name <a@b.example>",
        "<a..b@c.example>", "<.a@c.example>", "<a@[]>", "<a@[1.2.3.4>", "<a@b.example\0>", "<a@b.example\r\n>", "< >",
        "<a@part\u{200B}ner.example>", "<@x.example;a@b.example>",
    ])
    func malformedEnvelopePath(_ value: String) {
        #expect(throws: AddressParseError.self) { try AddressListParser.envelopePath(value) }
    }

    // MARK: Domain candidates

    func candidates(_ value: String) -> Set<String> {
        Set(AddressListParser.domainCandidates(inFieldValue: value))
    }

    @Test("domain candidates include display names, quoted strings and comments")
    func candidatesEverywhere() {
        #expect(candidates(#""ceo@partner.example" <x@evil.example>"#) == ["partner.example", "evil.example"])
        #expect(candidates("x@evil.example (partner.example)").isSuperset(of: ["partner.example", "evil.example"]))
        #expect(candidates("Partner.Example. <x@evil.example>").contains("partner.example"))
        #expect(candidates("ceo@localhost").contains("localhost"))
        #expect(candidates("jdoe@test  . example").contains("test.example")) // the parsed obs-domain
        #expect(AddressListParser.domainCandidates(inFieldValue: "b.example a.example b.example") == ["b.example", "a.example"])
        #expect(candidates("no domains here, just @ words").isEmpty)
    }

    @Test("domain candidates see through quoted-pairs")
    func candidatesQuotedPairs() {
        #expect(candidates(#"\@\a\.\e\x"#) == ["a.ex"])
        let spoof = candidates(#""B CEO" <ceo@b.example (\@\a\.\e\x\a\m\p\l\e)>"#)
        #expect(spoof.isSuperset(of: ["a.example", "b.example"]))
        #expect(candidates(#""ceo@part\n\e\r.example" <x@evil.example>"#).contains("partner.example"))
        #expect(candidates(#"(partner.example\x) a@b.example"#).isSuperset(of: ["partner.examplex", "partner.example"]))
    }

    @Test("domain candidates see through encoded words, fullwidth forms and invisible characters")
    func candidatesEncodings() {
        #expect(candidates("=?utf-8?q?ceo=40partner=2Eexample?= <x@evil.example>").contains("partner.example"))
        #expect(candidates("=?utf-8?b?Y2VvQHBhcnRuZXIuZXhhbXBsZQ==?= <x@evil.example>").contains("partner.example"))
        #expect(candidates("=?utf-8?q?ceo@partner?= =?utf-8?q?.example?= <x@evil.example>").contains("partner.example"))
        #expect(candidates("ｃｅｏ＠ｐａｒｔｎｅｒ．ｅｘａｍｐｌｅ <x@evil.example>").contains("partner.example"))
        #expect(candidates("partner。example <x@evil.example>").contains("partner.example"))
        #expect(candidates("part\u{200B}ner.example <x@evil.example>").contains("partner.example"))
        #expect(candidates("BÜCHER.example").contains("bücher.example"))
    }

    @Test("domain candidates are bounded")
    func candidatesBounded() {
        let many = (0..<2000).map { "d\($0).example" }.joined(separator: " ")
        #expect(AddressListParser.domainCandidates(inFieldValue: many).count == 1000)
        #expect(AddressListParser.domainCandidates(inFieldValue: many, maxCandidates: 5) == (0..<5).map { "d\($0).example" })
        #expect(AddressListParser.domainCandidates(inFieldValue: many, maxCandidates: 0).isEmpty)
        let late = String(repeating: "a", count: 70_000) + " late.example"
        #expect(AddressListParser.domainCandidates(inFieldValue: late).isEmpty)
        let early = "early.example " + String(repeating: "a", count: 70_000)
        #expect(AddressListParser.domainCandidates(inFieldValue: early) == ["early.example"])
    }
}
