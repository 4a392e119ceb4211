import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// A message read from its parts (a milter's header fields and its body
/// in a spool file or in memory) is the same message as one file: sealed
/// from its parts it opens to the exact original, opened from its parts it
/// opens as from the file, and what the file form refuses is refused.
@Suite struct MessageInputTests {
    /// A sealed message, and its header section and body apart.
    func sealed(_ scratch: Scratch) throws -> (original: [UInt8], header: [UInt8], body: [UInt8]) {
        let pki = try TestPKI.get()
        let original = Array("From: a@sender.example\r\nTo: b@ec.example\r\nSubject: parts\r\n\r\nthe body\r\n".utf8)
        let input = scratch.write("original.eml", original)
        try Sealer(signer: pki.sender).seal(originalPath: input, outputPath: scratch.file("sealed.eml"),
                                            recipients: [.certificate(pki.ecOrg.certificate)], control: ControlFlags(sealedBy: "gw"))
        let sealed = try #require(scratch.read("sealed.eml"))
        let separator = try #require(PatternScanner.firstIndex(of: [13, 10, 13, 10], in: sealed))
        return (original, Array(sealed[..<(separator + 4)]), Array(sealed[(separator + 4)...]))
    }

    @Test("header section + body file, or + body bytes, opens to the exact original", arguments: ["file", "bytes"])
    func opensFromParts(body kind: String) throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let message = try sealed(scratch)
        let body: MessageInput.Body = kind == "file" ? .file(path: scratch.write("body", message.body)) : .bytes(message.body)
        let opener = Opener(identities: [pki.ecOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
        let opened = try opener.open(.parts(header: message.header, body: body), outputPath: scratch.file("opened.eml")) { _, _ throws(OpenError) in }
        #expect(scratch.read("opened.eml") == message.original)
        #expect(opened.control.sealedBy == "gw")
        let split = try SplitSealedMessage.read(.parts(header: message.header, body: body), temporaryDirectory: scratch.path)
        #expect(split.recipientKeyIdentifiers.count == 1)
    }

    @Test("a cut body, a header section that does not end the fields, an oversized header: refused as from a file")
    func refusals() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let message = try sealed(scratch)
        let opener = Opener(identities: [pki.ecOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
        let cases: [(String, MessageInput)] = [
            ("cut body", .parts(header: message.header, body: .bytes(Array(message.body.prefix(message.body.count / 2))))),
            ("no empty line", .parts(header: Array(message.header.dropLast(2)), body: .bytes(message.body))),
            ("oversized header", .parts(header: Array(repeating: UInt8(ascii: "X"), count: SealedEnvelope.headerLimit + 1) + [13, 10, 13, 10],
                                        body: .bytes(message.body))),
        ]
        for (name, input) in cases {
            do {
                _ = try opener.open(input, outputPath: scratch.file("opened.eml")) { _, _ throws(OpenError) in }
                Issue.record("\(name): opened")
            } catch {
                #expect(error.code == .malformed, "\(name): \(error.code.name) \(error.message)")
            }
            #expect(!FileManager.default.fileExists(atPath: scratch.file("opened.eml")), "\(name): nothing released")
        }
    }

    /// Original messages whose parts are awkward to put together: CRLF and
    /// bare LF, 8-bit and bare-CR header bytes, an empty body, a body with
    /// no final line end, and a body larger than one read.
    static let originals: [(String, [UInt8], [UInt8])] = [
        ("CRLF", Array("From: a@sender.example\r\nTo: b@ec.example\r\nSubject: parts\r\n\r\n".utf8),
         Array("line one\r\nline two\r\n".utf8)),
        ("LF, 8-bit header, bare CR", Array("From: a@sender.example\nSubject: caf".utf8) + [0xC3, 0xA9, 13, 0x20] + Array("\n\n".utf8),
         Array("body\nwithout final end".utf8)),
        ("empty body", Array("From: a@sender.example\r\n\r\n".utf8), []),
        ("large body", Array("From: a@sender.example\r\n\r\n".utf8),
         (0..<(700 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }),
    ]

    @Test("sealed from header + body file or bytes, a message opens to the exact original, as when sealed from one file",
          arguments: ["file", "bytes"])
    func sealsFromParts(body kind: String) throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let opener = Opener(identities: [pki.ecOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
        let sealer = Sealer(signer: pki.sender)
        for (name, header, body) in Self.originals {
            let input: MessageInput = .parts(header: header, body: kind == "file" ? .file(path: scratch.write("body", body)) : .bytes(body))
            try sealer.seal(input, outputPath: scratch.file("sealed.eml"), recipients: [.certificate(pki.ecOrg.certificate)],
                            control: ControlFlags(sealedBy: "gw"), protectSubject: true)
            let opened = try opener.open(sealedPath: scratch.file("sealed.eml"), outputPath: scratch.file("opened.eml")) { _, _ throws(OpenError) in }
            #expect(scratch.read("opened.eml") == header + body, "\(name): the original, byte for byte")
            #expect(opened.control.sealedBy == "gw", "\(name)")
            // The outer header is made from the original's fields, as from a file.
            let whole = scratch.write("whole.eml", header + body)
            try sealer.seal(originalPath: whole, outputPath: scratch.file("sealed-file.eml"), recipients: [.certificate(pki.ecOrg.certificate)],
                            control: ControlFlags(sealedBy: "gw"), protectSubject: true)
            let fromParts = try MessageInput.file(path: scratch.file("sealed.eml")).headerSection()
            let fromFile = try MessageInput.file(path: scratch.file("sealed-file.eml")).headerSection()
            #expect(fromParts.fields.map(\.name) == fromFile.fields.map(\.name), "\(name)")
            #expect(fromParts.first("Subject")?.value == fromFile.first("Subject")?.value, "\(name)")
        }
    }

    @Test("read in chunks, every form gives the message's bytes in order, a file's chunk never over the size asked")
    func readerGivesTheWholeMessage() throws {
        let scratch = try Scratch()
        for (name, header, body) in Self.originals {
            let inputs: [(String, MessageInput)] = [
                ("file", .file(path: scratch.write("whole", header + body))),
                ("parts+file", .parts(header: header, body: .file(path: scratch.write("body", body)))),
                ("parts+bytes", .parts(header: header, body: .bytes(body))),
            ]
            for (form, input) in inputs {
                let reader = try MessageInputReader(input)
                var all: [UInt8] = []
                var chunks = 0
                while true {
                    let chunk = try reader.next(maxCount: 4096)
                    if chunk.isEmpty { break }
                    chunks += 1
                    if case .file = input { #expect(chunk.count <= 4096, "\(name) \(form)") }
                    all += chunk
                }
                #expect(all == header + body, "\(name) \(form)")
                #expect(try reader.next(maxCount: 4096).isEmpty, "\(name) \(form): stays at its end")
                if form != "parts+bytes" { #expect(chunks >= body.count / 4096, "\(name) \(form): read in pieces") }
            }
        }
    }

    @Test("a body file of known length: read to that length; one that ends sooner is an error, for the reader and the seal")
    func knownBodyLength() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let header = Array("From: a@sender.example\r\n\r\n".utf8)
        let body = Array(repeating: UInt8(ascii: "b"), count: 300_000)
        let path = scratch.write("body", body)
        func readAll(_ input: MessageInput) throws -> [UInt8] {
            let reader = try MessageInputReader(input)
            var all: [UInt8] = []
            while true {
                let chunk = try reader.next(maxCount: 65_536)
                if chunk.isEmpty { return all }
                all += chunk
            }
        }
        #expect(try readAll(.parts(header: header, body: .file(path: path, length: body.count))) == header + body)
        #expect(try readAll(.parts(header: header, body: .file(path: path, length: 1000))) == header + Array(body.prefix(1000)))
        #expect(throws: CryptoError.self) { try readAll(.parts(header: header, body: .file(path: path, length: body.count + 1))) }
        // A spool that lost its tail is never sealed as a shorter message.
        do {
            try Sealer(signer: pki.sender).seal(.parts(header: header, body: .file(path: path, length: body.count + 10)),
                                                outputPath: scratch.file("sealed.eml"), recipients: [.certificate(pki.ecOrg.certificate)],
                                                control: ControlFlags(sealedBy: "gw"))
            Issue.record("sealed a body shorter than its length")
        } catch {
            #expect(error.code == .io, "\(error.message)")
        }
        #expect((FileDescriptorIO.size(of: scratch.file("sealed.eml")) ?? 0) == 0, "nothing sealed left")
    }

    @Test("a seal refuses parts that are not a header section, and a body file it cannot read, and writes nothing sealed")
    func sealRefusesBadParts() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let sealer = Sealer(signer: pki.sender)
        let cases: [(String, MessageInput, CryptoError.Code)] = [
            ("no field", .parts(header: Array("\r\n".utf8), body: .bytes(Array("body".utf8))), .unsealableOriginal),
            ("no empty line", .parts(header: Array("From: a@sender.example\r\n".utf8), body: .bytes([])), .unsealableOriginal),
            ("oversized", .parts(header: Array("X-Big: ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 8 << 20) + Array("\r\n\r\n".utf8),
                                 body: .bytes([])), .unsealableOriginal),
            ("missing body file", .parts(header: Array("From: a@sender.example\r\n\r\n".utf8), body: .file(path: scratch.file("nothing"))), .io),
        ]
        for (name, input, code) in cases {
            do {
                try sealer.seal(input, outputPath: scratch.file("sealed-\(name).eml"), recipients: [.certificate(pki.ecOrg.certificate)],
                                control: ControlFlags(sealedBy: "gw"))
                Issue.record("\(name): sealed")
            } catch {
                #expect(error.code == code, "\(name): \(error.code) \(error.message)")
            }
            #expect((FileDescriptorIO.size(of: scratch.file("sealed-\(name).eml")) ?? 0) == 0, "\(name): no sealed message")
        }
    }
}
