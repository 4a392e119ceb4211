import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// The one-pass seal (original file -> sign -> encrypt -> base64 -> output
/// file): its base64 is RFC 2045's, and a failure at either end of the
/// stream fails the seal, never a short message passed as whole (OpenSSL
/// itself ignores some of its BIOs' I/O results).
@Suite struct StreamingSealTests {
    @Test("base64 lines as Foundation writes them, whatever the pieces", arguments: [0, 1, 2, 3, 4, 5, 56, 57, 58, 113, 114, 57 * 1024 - 1, 57 * 1024, 57 * 1024 + 1, 200_003])
    func base64Lines(size: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for (ending, largestPiece) in [([UInt8]([13, 10]), 70_000), ([10], 70_000), ([13, 10], 100)] {
            let scratch = try Scratch()
            let path = scratch.file("out")
            let fd = try FileDescriptorIO.openWrite(path)
            let writer = Base64LineWriter(lineEnding: ending) { (block) throws(CryptoError) in
                try FileDescriptorIO.writeAll(fd: fd, block, name: path)
            }
            var offset = 0
            while offset < bytes.count {
                let piece = min(Int.random(in: 1...largestPiece, using: &generator), bytes.count - offset)
                var failure: CryptoError?
                bytes[offset..<offset + piece].withUnsafeBytes { raw in
                    do throws(CryptoError) { try writer.write(raw) } catch { failure = error }
                }
                if let failure { throw failure }
                offset += piece
            }
            try writer.finish()
            close(fd)
            let options: Data.Base64EncodingOptions = ending == [13, 10]
                ? [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]
                : [.lineLength76Characters, .endLineWithLineFeed]
            var expected = [UInt8](Data(bytes).base64EncodedData(options: options))
            if !bytes.isEmpty { expected += ending }
            #expect(scratch.read("out") == expected, "size \(size), line ending \(ending), pieces up to \(largestPiece)")
        }
    }

    /// Signs and encrypts what `source` gives into `sink`, as a seal does.
    func sealStream(source: CallbackBIO, sink: CallbackBIO) throws {
        let pki = try TestPKI.get()
        try Sealer.signAndEncrypt(from: source, to: sink, signer: pki.sender, recipients: [.certificate(pki.ecOrg.certificate)],
                                  signingTime: nil)
    }

    @Test("a source that fails part way fails the seal with its error")
    func sourceFailure() throws {
        var given = 0
        let source = try CallbackBIO.source { (buffer) throws(CryptoError) in
            if given >= 100_000 { throw CryptoError(code: .io, message: "disk read error (test)") }
            let count = min(buffer.count, 1000)
            for index in 0..<count { buffer[index] = 0x41 }
            given += count
            return count
        }
        let sink = try CallbackBIO.sink { (_) throws(CryptoError) in }
        #expect(throws: CryptoError(code: .io, message: "disk read error (test)")) { try sealStream(source: source, sink: sink) }
    }

    @Test("a sink that fails part way fails the seal with its error")
    func sinkFailure() throws {
        var given = 0
        let source = try CallbackBIO.source { (buffer) throws(CryptoError) in
            guard given < 300_000 else { return 0 }
            let count = min(buffer.count, 300_000 - given)
            for index in 0..<count { buffer[index] = 0x42 }
            given += count
            return count
        }
        var written = 0
        let sink = try CallbackBIO.sink { (bytes) throws(CryptoError) in
            if written > 50_000 { throw CryptoError(code: .io, message: "no space left on device (test)") }
            written += bytes.count
        }
        #expect(throws: CryptoError(code: .io, message: "no space left on device (test)")) { try sealStream(source: source, sink: sink) }
    }

    @Test("a complete stream seals, and the control part follows the exact original")
    func completeStream() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let original = Array("From: a@sender.example\r\nTo: b@ec.example\r\nSubject: s\r\n\r\nbody\r\n--=_fedmail_not-ours\r\n".utf8)
        let input = scratch.write("original.eml", original)
        try Sealer(signer: pki.sender).seal(originalPath: input, outputPath: scratch.file("sealed.eml"),
                                            recipients: [.certificate(pki.ecOrg.certificate)], control: ControlFlags(sealedBy: "gw"))
        let opened = try Opener(identities: [pki.ecOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
            .open(sealedPath: scratch.file("sealed.eml"), outputPath: scratch.file("opened.eml"))
        #expect(scratch.read("opened.eml") == original)
        #expect(opened.control.sealedBy == "gw")
    }

    /// The streamed seal (a milter's new message, through no file): the
    /// header section made before any body byte, then the body in blocks
    /// of whole lines within one 64 KiB milter chunk; header + body opens
    /// to the exact original.
    @Test("a streamed seal: body in blocks of whole lines of at most 65,520 bytes, header + body opens to the exact original",
          arguments: [0, 1, 57, 65_519, 200_003, 1 << 20])
    func streamedSeal(bodySize: Int) throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let header = Array("From: a@sender.example\r\nTo: b@ec.example\r\nSubject: streamed\r\n\r\n".utf8)
        let body = (0..<bodySize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }
        let seal = try Sealer(signer: pki.sender).prepare(.parts(header: header, body: .bytes(body)),
                                                          recipients: [.certificate(pki.ecOrg.certificate)],
                                                          control: ControlFlags(sealedBy: "gw"))
        var blocks: [[UInt8]] = []
        try seal.writeBody { (block) throws(CryptoError) in blocks.append(Array(block)) }
        #expect(blocks.allSatisfy { $0.count <= 65_520 && $0.last == 10 }, "blocks of whole lines within 64 KiB")
        #expect(blocks.dropLast().allSatisfy { $0.count == 65_520 })
        let sealed = scratch.write("sealed.eml", seal.header + blocks.flatMap { $0 })
        try Opener(identities: [pki.ecOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
            .open(sealedPath: sealed, outputPath: scratch.file("opened.eml"))
        #expect(scratch.read("opened.eml") == header + body)
    }

    /// The streamed form and the file form make the same message: the same
    /// header section byte for byte (tokens, the protected Subject, the
    /// S/MIME fields, the original's line ends), and bodies of the same
    /// shape (lines of 76 characters with the original's line end).
    @Test("a streamed seal has the file form's header section byte for byte, tokens and protected Subject included, for CRLF and LF originals")
    func streamedHeaderIsTheFileForms() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let tokens = [FedMailTokenHeader(domain: "ec.example", token: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")]
        for ending in ["\r\n", "\n"] {
            let original = MessageInput.parts(header: Array("From: Alice <a@sender.example>\(ending)To: b@ec.example\(ending)Subject: secret plans\(ending)Message-ID: <1@sender.example>\(ending)\(ending)".utf8),
                                              body: .bytes(Array("body\(ending)".utf8)))
            let sealer = Sealer(signer: pki.sender)
            let recipients: [RecipientOrganization] = [.certificate(pki.ecOrg.certificate)]
            let seal = try sealer.prepare(original, recipients: recipients, control: ControlFlags(sealedBy: "gw"), tokens: tokens, protectSubject: true)
            try sealer.seal(original, outputPath: scratch.file("sealed.eml"), recipients: recipients, control: ControlFlags(sealedBy: "gw"),
                            tokens: tokens, protectSubject: true)
            let file = try #require(scratch.read("sealed.eml"))
            #expect(Array(file.prefix(seal.header.count)) == seal.header, "line end \(ending.debugDescription)")
            let text = String(decoding: seal.header, as: UTF8.self)
            #expect(text.contains("Subject: [sealed]") && !text.contains("secret plans") && text.contains("FedMail-Token:"))
            var body: [UInt8] = []
            try seal.writeBody { (block) throws(CryptoError) in body.append(contentsOf: block) }
            let streamedLines = String(decoding: body, as: UTF8.self).components(separatedBy: ending).map(\.count)
            let fileLines = String(decoding: file.dropFirst(seal.header.count), as: UTF8.self).components(separatedBy: ending).map(\.count)
            #expect(streamedLines.dropLast(2).allSatisfy { $0 == 76 } && fileLines.dropLast(2).allSatisfy { $0 == 76 })
            #expect(streamedLines.last == 0 && fileLines.last == 0, "both end with a line end")
        }
    }

    @Test("a streamed seal whose body sink fails part way stops with the sink's error, given nothing more")
    func streamedSealFailure() throws {
        let pki = try TestPKI.get()
        let original = MessageInput.parts(header: Array("From: a@sender.example\r\n\r\n".utf8),
                                          body: .bytes([UInt8](repeating: 0x61, count: 300_000)))
        let seal = try Sealer(signer: pki.sender).prepare(original, recipients: [.certificate(pki.ecOrg.certificate)],
                                                          control: ControlFlags(sealedBy: "gw"))
        var calls = 0
        #expect(throws: CryptoError(code: .io, message: "the MTA went away (test)")) {
            try seal.writeBody { (_) throws(CryptoError) in
                calls += 1
                throw CryptoError(code: .io, message: "the MTA went away (test)")
            }
        }
        #expect(calls == 1)
    }

    @Test("what a streamed seal refuses, it refuses when prepared, before any body byte")
    func streamedSealRefusesEarly() throws {
        let pki = try TestPKI.get()
        let sealer = Sealer(signer: pki.sender)
        #expect(throws: CryptoError.self) {
            _ = try sealer.prepare(.parts(header: Array("not a header\r\n".utf8), body: .bytes([])),
                                   recipients: [.certificate(pki.ecOrg.certificate)], control: ControlFlags(sealedBy: "gw"))
        }
        #expect(throws: CryptoError.self) {
            _ = try sealer.prepare(.parts(header: Array("From: a@sender.example\r\n\r\n".utf8), body: .bytes([])),
                                   recipients: [], control: ControlFlags(sealedBy: "gw"))
        }
    }
}
