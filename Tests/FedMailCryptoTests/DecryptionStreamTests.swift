import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// The opener takes the signed entity apart as it decrypts it
/// (``DecryptionStream``), before the GCM tag is known. An altered
/// ciphertext must still fail as altered (the tag), wherever the change is —
/// also where it garbles the entity's header or its base64 so that taking
/// apart fails first — and nothing may be released or left behind. Both
/// signed-entity forms (opaque SignedData, multipart/signed) go this way.
@Suite struct DecryptionStreamTests {
    typealias Adversarial = AdversarialOpenTests
    typealias Streamed = StreamedOpenTests

    /// `der` with one byte of its ciphertext flipped at `index`.
    static func flippingCiphertext(_ der: [UInt8], at index: @Sendable (Int) -> Int) throws -> [UInt8] {
        let (structure, ciphertext) = try Streamed.parts(der, layout: .enveloped)
        var altered = ciphertext
        altered[index(ciphertext.count)] ^= 0x20
        return try Streamed.rebuild(structure, contentElement: Streamed.primitive(0x80, altered))
    }

    /// Where a change lands: the entity's Content-Type, its header's end,
    /// the SignedData's first octets, its middle, the signature, the end.
    static let positions: [(String, @Sendable (Int) -> Int)] = [
        ("first byte", { _ in 0 }), ("header", { _ in 20 }), ("header end", { _ in 90 }), ("SignedData start", { _ in 120 }),
        ("middle", { $0 / 2 }), ("near the end", { $0 - 30 }), ("last byte", { $0 - 1 }),
    ]

    @Test func alteredCiphertextFailsTheTagWhereverTheChangeIs() throws {
        let pki = try TestPKI.get()
        let sealed = try Adversarial.seal(pki)
        let opener = Adversarial.rsaOpener(pki, sealed.scratch)
        for (name, index) in Self.positions {
            let path = Adversarial.write(sealed, der: try Self.flippingCiphertext(sealed.der, at: index), name: "t.eml")
            #expect(Adversarial.failure(path, opener, scratch: sealed.scratch) == .tagMismatch, "\(name)")
            unlink(path)
        }
    }

    @Test func unalteredCiphertextStillOpens() throws {
        // The control for the test above: the same rebuild, nothing flipped.
        let pki = try TestPKI.get()
        let original = MessageCorpus.message("crlf")
        let sealed = try Adversarial.seal(pki, original: original)
        let (structure, ciphertext) = try Streamed.parts(sealed.der, layout: .enveloped)
        let path = Adversarial.write(sealed, der: try Streamed.rebuild(structure, contentElement: Streamed.primitive(0x80, ciphertext)))
        _ = try Adversarial.rsaOpener(pki, sealed.scratch).open(sealedPath: path, outputPath: sealed.scratch.file("out.eml"))
        #expect(sealed.scratch.read("out.eml") == original)
    }

    /// A sealed message whose signed entity is multipart/signed, as
    /// `openssl cms -sign` writes it (detached, binary), for the RSA organization.
    static func multipartSigned(_ pki: TestPKI, original: [UInt8], scratch: Scratch) throws -> String {
        let input = scratch.write("o.eml", original)
        let named = ControlFlags(recipients: [.init(keyId: RecipientOrganization.certificate(pki.rsaOrg.certificate).keyIdentifierHex,
                                                   domains: pki.rsaOrg.certificate.dnsNames)])
        try Sealer(signer: pki.sender).writeInnerEntity(originalPath: input, to: scratch.file("inner"), control: named)
        let sender = try #require(pki.paths["sender"])
        try Shell.run("openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", scratch.file("inner"),
                      "-signer", sender.cert, "-inkey", sender.key, "-out", scratch.file("detached"))
        let entity = try #require(scratch.read("detached"))
        #expect(String(decoding: entity.prefix(400), as: UTF8.self).contains("multipart/signed"))
        try CMSEnveloping.encrypt(inputPath: scratch.file("detached"), outputPath: scratch.file("envelope"),
                                  recipients: [.certificate(pki.rsaOrg.certificate)])
        let header = SealedMessageHeaders.build(original: MessageHeaderSection.parse(original), protectSubject: false, tokens: [])
        let path = scratch.write("mp.eml", header + Streamed.base64(try #require(scratch.read("envelope"))))
        for file in ["o.eml", "inner", "detached", "envelope"] { unlink(scratch.file(file)) }
        return path
    }

    @Test func multipartSignedEntityOpensToTheOriginal() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        for name in ["crlf", "lf-only", "binary-attachment", "no-final-newline"] {
            let original = MessageCorpus.message(name)
            let path = try Self.multipartSigned(pki, original: original, scratch: scratch)
            let opened = try Adversarial.rsaOpener(pki, scratch).open(sealedPath: path, outputPath: scratch.file("out.eml"))
            #expect(scratch.read("out.eml") == original, "\(name)")
            #expect(opened.report.checks.prefix(3) == ["recipient", "gcm-tag", "signature"])
            for file in ["out.eml", "mp.eml"] { unlink(scratch.file(file)) }
            #expect(scratch.contents.isEmpty, "files left behind: \(scratch.contents)")
        }
    }

    @Test func alteredMultipartSignedCiphertextFailsTheTag() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let path = try Self.multipartSigned(pki, original: MessageCorpus.message("crlf"), scratch: scratch)
        let bytes = try #require(scratch.read("mp.eml"))
        let header = MessageHeaderSection.parse(bytes)
        let der = [UInt8](try #require(Data(base64Encoded: Data(bytes[header.length...].filter { $0 != 13 && $0 != 10 }))))
        unlink(path)
        let sealed = Adversarial.Sealed(scratch: scratch, header: Array(bytes[..<header.length]), der: der, lineEnding: header.lineEnding)
        let opener = Adversarial.rsaOpener(pki, scratch)
        for (name, index) in Self.positions {
            let altered = Adversarial.write(sealed, der: try Self.flippingCiphertext(der, at: index), name: "t.eml")
            #expect(Adversarial.failure(altered, opener, scratch: scratch) == .tagMismatch, "\(name)")
            unlink(altered)
        }
    }
}
