import Foundation
import Testing

/// The round-trip corpus: the `.eml` fixtures of Tests/Fixtures/corpus.
enum MessageCorpus {
    static let crlf = "\r\n"

    static func headers(_ eol: String = "\r\n", from: String = "Alice <alice@sender.example>", extra: [String] = []) -> String {
        ([
            "From: \(from)",
            "To: Bob <bob@rsa.example>, carol@ec.example",
            "Subject: Quarterly figures",
            "Date: Mon, 23 Nov 2026 10:00:00 +0000",
            "Message-ID: <corpus-\(UUID().uuidString)@sender.example>",
        ] + extra).map { $0 + eol }.joined()
    }

    /// The corpus folder, shared with the end-to-end suites (see its README).
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus").path

    /// Names of the corpus entries (the 50 MB one is separate).
    static let names = [
        "7bit", "8bit", "binary-attachment", "nested-multipart", "long-folded-headers", "utf8-headers",
        "lf-only", "crlf", "no-final-newline", "empty-body", "one-mb-single-line",
    ]

    /// The entry's bytes exactly as the fixture file holds them.
    static func message(_ name: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(name).eml") else {
            Issue.record("corpus entry \(name) is missing from \(directory)")
            return []
        }
        return [UInt8](data)
    }

    /// Writes a message of about `megabytes` MB to `path` in chunks (76-column base64-like text lines).
    static func writeLarge(path: String, megabytes: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: Data(headers().utf8 + Array("MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".utf8)))
        guard let handle = FileHandle(forWritingAtPath: path) else { throw TestFailure("cannot write \(path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<megabytes {
            let raw = (0..<(786_432)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Data(raw).base64EncodedData(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            try handle.write(contentsOf: text)
            try handle.write(contentsOf: Data("\r\n".utf8))
        }
    }
}

@Suite("message corpus")
struct MessageCorpusTests {
    @Test("every fixture of the folder is an entry, and every entry has the property its name promises")
    func fixturesAreWhatTheyClaim() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: MessageCorpus.directory).filter { $0.hasSuffix(".eml") }
        #expect(Set(files.map { String($0.dropLast(4)) }) == Set(MessageCorpus.names))
        let lfOnly = MessageCorpus.message("lf-only")
        #expect(lfOnly.contains(10) && !lfOnly.contains(13))
        #expect(MessageCorpus.message("no-final-newline").last != 10)
        #expect(MessageCorpus.message("one-mb-single-line").count > 1 << 20)
        #expect(MessageCorpus.message("binary-attachment").contains(0))
        #expect(MessageCorpus.message("8bit").contains { $0 > 127 })
    }
}
