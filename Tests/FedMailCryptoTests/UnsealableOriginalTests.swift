import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// Originals that no decision may be made on in part, and that FedMail
/// therefore neither seals nor opens (held-out review, 2026-12-07): a
/// header section that does not end within the 8 MiB read limit (a
/// second `From` past it went unseen by the From check while the MTA
/// delivered it), header bytes readers take apart differently, and more
/// copied outside than an opener reads.
@Suite struct UnsealableOriginalTests {
    static let readLimit = 8 << 20

    /// From alice at the sender's domain, then more than the read limit of
    /// filler fields, then a second From (and Sender) somewhere else.
    static func lateFromOriginal() -> [UInt8] {
        let filler = Array(String(repeating: "X-Filler: " + String(repeating: "f", count: 90) + "\r\n",
                                  count: readLimit / 100 + 1000).utf8)
        return Array(MessageCorpus.headers().utf8) + filler
            + Array("From: CEO <ceo@elsewhere.example>\r\nSender: ceo@elsewhere.example\r\n\r\nWire the money.\r\n".utf8)
    }

    /// Signs and encrypts `original` to the RSA organization the way a
    /// sender that does not check (not FedMail) would, and writes the sealed message.
    static func sealWithoutChecks(_ original: [UInt8], _ pki: TestPKI, _ scratch: Scratch) throws -> String {
        let input = scratch.write("o.eml", original)
        let ours = ControlFlags(recipients: [.init(keyId: RecipientOrganization.certificate(pki.rsaOrg.certificate).keyIdentifierHex,
                                                   domains: ["rsa.example"])])
        try Sealer(signer: pki.sender).writeInnerEntity(originalPath: input, to: scratch.file("inner"), control: ours)
        try CMSSigning.sign(inputPath: scratch.file("inner"), outputPath: scratch.file("signed"), signer: pki.sender)
        try CMSEnveloping.encrypt(inputPath: scratch.file("signed"), outputPath: scratch.file("der"),
                                  recipients: [.certificate(pki.rsaOrg.certificate)])
        let outer = SealedMessageHeaders.build(original: MessageHeaderSection.parse(Array((MessageCorpus.headers() + "\r\n").utf8)),
                                               protectSubject: false, tokens: [])
        let envelope = [UInt8](Data(try #require(scratch.read("der"))).base64EncodedData(options: SignedDataShapeTests.base64Options))
        let path = scratch.write("t.eml", outer + envelope + [13, 10])
        for name in ["o.eml", "inner", "signed", "der"] { unlink(scratch.file(name)) }
        return path
    }

    @Test("a second From past the read limit: the opener refuses the original as malformed, never checks the first part alone")
    func lateFromIsRefusedByTheOpener() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let path = try Self.sealWithoutChecks(Self.lateFromOriginal(), pki, scratch)
        let opener = AdversarialOpenTests.rsaOpener(pki, scratch)
        #expect(AdversarialOpenTests.failure(path, opener, scratch: scratch) == .malformed)
        do {
            _ = try opener.open(sealedPath: path, outputPath: scratch.file("out.eml"))
            Issue.record("opened")
        } catch {
            #expect(error.message.contains("header section"), "\(error)")
        }
    }

    @Test("a bare CR that may start a line, or a NUL, in a field of a sealed original: the opener refuses it as malformed",
          arguments: ["Subject: hi\rFrom: CEO <ceo@rsa.example>", "X-Note: a\u{0}b"])
    func ambiguousByteIsRefusedByTheOpener(field: String) throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let original = Array((MessageCorpus.headers(extra: [field]) + "\r\nbody\r\n").utf8)
        let path = try Self.sealWithoutChecks(original, pki, scratch)
        #expect(AdversarialOpenTests.failure(path, AdversarialOpenTests.rsaOpener(pki, scratch), scratch: scratch) == .malformed)
    }

    @Test("the control: the same second From in a section that ends in time is seen, and refused by the From check")
    func shortSectionMeetsTheFromCheck() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let original = Array((MessageCorpus.headers() + "From: CEO <ceo@elsewhere.example>\r\n\r\nbody\r\n").utf8)
        let path = try Self.sealWithoutChecks(original, pki, scratch)
        #expect(AdversarialOpenTests.failure(path, AdversarialOpenTests.rsaOpener(pki, scratch), scratch: scratch) == .signerDomainMismatch)
        // And without the second From, the construction opens to the exact original.
        let plain = Array((MessageCorpus.headers() + "\r\nbody\r\n").utf8)
        let plainPath = try Self.sealWithoutChecks(plain, pki, scratch)
        _ = try AdversarialOpenTests.rsaOpener(pki, scratch).open(sealedPath: plainPath, outputPath: scratch.file("out.eml"))
        #expect(scratch.read("out.eml") == plain)
    }

    static func sealError(_ original: [UInt8], protectSubject: Bool = false) throws -> CryptoError? {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let input = scratch.write("o.eml", original)
        do {
            try Sealer(signer: pki.sender).seal(originalPath: input, outputPath: scratch.file("sealed.eml"),
                                                recipients: [.certificate(pki.rsaOrg.certificate)], control: ControlFlags(),
                                                protectSubject: protectSubject)
        } catch {
            #expect(scratch.read("sealed.eml")?.isEmpty ?? true, "part of a sealed message written")
            return error
        }
        return nil
    }

    @Test("the sealer refuses what an opener must refuse: no end within the limit, a bare CR or a NUL in a field")
    func sealerRefuses() throws {
        #expect(try Self.sealError(Self.lateFromOriginal())?.code == .unsealableOriginal)
        let bareCR = Array((MessageCorpus.headers(extra: ["Subject: hi\rFrom: CEO <ceo@rsa.example>"]) + "\r\nbody\r\n").utf8)
        let error = try Self.sealError(bareCR)
        #expect(error?.code == .unsealableOriginal)
        #expect(error?.message.contains("CR") == true, "\(String(describing: error))")
        let nul = Array((MessageCorpus.headers(extra: ["X-Note: a\u{0}b"]) + "\r\nbody\r\n").utf8)
        #expect(try Self.sealError(nul)?.code == .unsealableOriginal)
        // A CR before white space is a fold to every reader: sealed.
        let folded = Array((MessageCorpus.headers(extra: ["X-Note: a\r b"]) + "\r\nbody\r\n").utf8)
        #expect(try Self.sealError(folded) == nil)
    }

    @Test("more copied outside than an opener reads (a 5 MB Subject): refused at the seal, unless the Subject stays inside")
    func oversizedOuterSection() throws {
        let subject = "Subject: " + String(repeating: "s", count: 5 << 20)
        let original = Array((MessageCorpus.headers().replacingOccurrences(of: "Subject: Quarterly figures\r\n", with: "")
                              + subject + "\r\n\r\nbody\r\n").utf8)
        let error = try Self.sealError(original)
        #expect(error?.code == .unsealableOriginal)
        #expect(error?.message.contains("\(SealedMessageHeaders.sectionLimit)") == true, "\(String(describing: error))")
        #expect(try Self.sealError(original, protectSubject: true) == nil)
    }

    /// A short original, and the sealed message FedMail makes of it for
    /// the RSA organization (no file of either left in `scratch`).
    static func sealedPlainMessage(_ pki: TestPKI, _ scratch: Scratch) throws -> (original: [UInt8], sealed: [UInt8]) {
        let original = Array((MessageCorpus.headers() + "\r\nbody\r\n").utf8)
        _ = scratch.write("o.eml", original)
        defer { unlink(scratch.file("o.eml")); unlink(scratch.file("s.eml")) }
        try Sealer(signer: pki.sender).seal(originalPath: scratch.file("o.eml"), outputPath: scratch.file("s.eml"),
                                            recipients: [.certificate(pki.rsaOrg.certificate)], control: ControlFlags())
        return (original, try #require(scratch.read("s.eml")))
    }

    @Test("an outer header section over the limit is named as such, not as a message without a body")
    func oversizedOuterSectionAtTheOpener() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let (_, sealed) = try Self.sealedPlainMessage(pki, scratch)
        let big = Array(("X-Relay-Note: " + String(repeating: "r", count: 5 << 20) + "\r\n").utf8)
        let path = scratch.write("big.eml", big + sealed)
        do {
            _ = try AdversarialOpenTests.rsaOpener(pki, scratch).open(sealedPath: path, outputPath: scratch.file("out.eml"))
            Issue.record("opened")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.message.contains("does not end within"), "\(error)")
        }
    }

    @Test("Content-Transfer-Encoding with a comment (RFC 2045 allows it, a relay may add one): the sealed message opens")
    func transferEncodingWithComment() throws {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let (original, sealedBytes) = try Self.sealedPlainMessage(pki, scratch)
        let sealed = String(decoding: sealedBytes, as: UTF8.self)
        for (index, value) in ["BASE64 (relayed)", "(x) base64", " base64\r\n (folded comment)"].enumerated() {
            let edited = sealed.replacingOccurrences(of: "Content-Transfer-Encoding: base64", with: "Content-Transfer-Encoding: \(value)")
            let path = scratch.write("e\(index).eml", Array(edited.utf8))
            _ = try AdversarialOpenTests.rsaOpener(pki, scratch).open(sealedPath: path, outputPath: scratch.file("out\(index).eml"))
            #expect(scratch.read("out\(index).eml") == original)
        }
        // Two tokens is not base64.
        let twoTokens = sealed.replacingOccurrences(of: "Content-Transfer-Encoding: base64", with: "Content-Transfer-Encoding: base64 quoted-printable")
        let path = scratch.write("bad.eml", Array(twoTokens.utf8))
        #expect(AdversarialOpenTests.failure(path, AdversarialOpenTests.rsaOpener(pki, scratch), scratch: scratch) == .malformed)
    }
}
