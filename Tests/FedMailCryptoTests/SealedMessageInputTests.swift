import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// A sealed message opened from its parts (a milter's header fields and
/// its body in a spool file or in memory) opens exactly as from one file,
/// and refuses what the file form refuses.
@Suite struct SealedMessageInputTests {
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
        let body: SealedMessageInput.Body = kind == "file" ? .file(path: scratch.write("body", message.body)) : .bytes(message.body)
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
        let cases: [(String, SealedMessageInput)] = [
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
}
