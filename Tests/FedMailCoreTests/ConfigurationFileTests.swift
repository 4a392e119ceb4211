import Testing
@testable import FedMailCore

@Suite("Configuration file parsing")
struct ConfigurationFileTests {
    @Test("names, values, comments and blank lines")
    func parsesEntries() throws {
        let text = """
        # FedMail milter
        Socket   local:/run/fedmail/milter.sock
        \tUserID fedmail:fedmail   # drop privileges

        Domains  a.example, b.example
        AuthservID mx\\#1.example
        """
        let file = try ConfigurationFile(parsing: text, path: "m.conf")
        #expect(file.entries.map(\.name) == ["Socket", "UserID", "Domains", "AuthservID"])
        #expect(file.entry("socket")?.value == "local:/run/fedmail/milter.sock")
        #expect(file.entry("USERID")?.value == "fedmail:fedmail")
        #expect(file.entry("userid")?.line == 3)
        #expect(file.list(try #require(file.entry("domains"))) == ["a.example", "b.example"])
        #expect(file.entry("AuthservID")?.value == "mx#1.example")
    }

    @Test("CRLF line ends are accepted")
    func crlf() throws {
        let file = try ConfigurationFile(parsing: "Mode seal\r\nLogLevel info\r\n", path: "c")
        #expect(file.entry("mode")?.value == "seal")
        #expect(file.entry("loglevel")?.value == "info")
    }

    @Test("a name without a value is an error on its line")
    func missingValue() {
        #expect {
            _ = try ConfigurationFile(parsing: "Mode seal\n\nSocket   # nothing\n", path: "x.conf")
        } throws: { error in
            let error = error as? ConfigurationError
            return error?.code == .missingValue && error?.line == 3
                && error?.description == "x.conf:3: 'Socket' needs a value"
        }
    }

    @Test("unknown and duplicate names name their line")
    func validate() throws {
        let file = try ConfigurationFile(parsing: "Mode seal\nsocket a\nSOCKET b\nBogus 1\n", path: "y.conf")
        #expect(throws: ConfigurationError(code: .duplicateName, file: "y.conf", line: 3,
                                           message: "'SOCKET' is already set on line 2")) {
            try file.validate(knownNames: ["Mode", "Socket", "Bogus"])
        }
        #expect(throws: ConfigurationError(code: .unknownName, file: "y.conf", line: 4,
                                           message: "unknown name 'Bogus'")) {
            try file.validate(knownNames: ["Mode", "Socket"], repeatableNames: ["socket"])
        }
        try file.validate(knownNames: ["mode", "socket", "bogus"], repeatableNames: ["Socket"])
        #expect(file.entries("socket").map(\.value) == ["a", "b"])
        #expect(file.entry("socket")?.value == "b")
    }

    @Test("typed values", arguments: [
        ("30s", 30), ("5m", 300), ("24h", 86_400), ("5d", 432_000), ("17", 17),
    ])
    func durations(text: String, seconds: Int) throws {
        let file = try ConfigurationFile(parsing: "MaxMessageAge \(text)", path: "d")
        #expect(try file.duration(try #require(file.entry("maxmessageage"))) == seconds)
    }

    @Test("bad typed values give line-numbered messages")
    func badValues() throws {
        let file = try ConfigurationFile(parsing: "Background maybe\nMaxMessageAge 5w\nUMask 0999\nMode both\nPort 70000", path: "z.conf")
        let entries = file.entries
        #expect(throws: ConfigurationError.self) { try file.bool(entries[0]) }
        #expect(throws: ConfigurationError.self) { try file.duration(entries[1]) }
        #expect(throws: ConfigurationError.self) { try file.umask(entries[2]) }
        #expect(try file.choice(entries[3], of: ["seal", "open", "both"]) == "both")
        do {
            _ = try file.integer(entries[4], in: 1...65_535)
            Issue.record("70000 accepted as a port")
        } catch {
            #expect(error.line == 5)
            #expect(error.description.hasPrefix("z.conf:5: 'Port' must be a whole number"))
        }
    }
}

@Suite("Configuration typed values")
struct ConfigurationValueTests {
    @Test("booleans and masks")
    func boolsAndMasks() throws {
        let file = try ConfigurationFile(parsing: "A yes\nB Off\nC 1\nUMask 007\nD 0027", path: "b")
        #expect(try file.bool(file.entries[0]) == true)
        #expect(try file.bool(file.entries[1]) == false)
        #expect(try file.bool(file.entries[2]) == true)
        #expect(try file.umask(file.entries[3]) == 0o007)
        #expect(try file.umask(file.entries[4]) == 0o027)
    }
}
