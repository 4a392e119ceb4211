import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// A SignedData out of shape is refused before OpenSSL verifies it: the
/// fields around the signature are not signed, so anyone who can wrap a
/// content key to us (our certificate is public) and sign with any key
/// can fill them. Each message here is correctly encrypted to us, with a
/// GCM tag that verifies and a signature that verifies over its own
/// signed attributes; only the unsigned shape is hostile.
@Suite struct SignedDataShapeTests {
    /// A DER element: tag byte, content.
    static func der(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { BERReader.encode(tag: tag, content: content) }

    /// The elements (each whole, as encoded) inside a definite-length DER element starting at `offset`.
    static func children(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var (_, start, _) = header(bytes, 0)
        while start < bytes.count {
            let (length, contentStart, _) = header(bytes, start)
            out.append(Array(bytes[start..<(contentStart + length)]))
            start = contentStart + length
        }
        return out
    }

    /// (content length, content start, tag) of the DER element at `offset`.
    static func header(_ bytes: [UInt8], _ offset: Int) -> (Int, Int, UInt8) {
        let first = bytes[offset + 1]
        if first < 0x80 { return (Int(first), offset + 2, bytes[offset]) }
        let count = Int(first & 0x7F)
        let length = bytes[(offset + 2)..<(offset + 2 + count)].reduce(0) { $0 << 8 | Int($1) }
        return (length, offset + 2 + count, bytes[offset])
    }

    /// The DER ContentInfo `contentInfo` (SignedData) with its SignedData fields edited.
    static func editSignedData(_ contentInfo: [UInt8], _ edit: (inout [[UInt8]]) -> Void) -> [UInt8] {
        let outer = children(contentInfo)                  // [oid, [0]]
        let signedData = children(outer[1])[0]            // SEQUENCE
        var fields = children(signedData)
        edit(&fields)
        return der(0x30, outer[0] + der(0xA0, der(0x30, fields.flatMap { $0 })))
    }

    static let base64Options: Data.Base64EncodingOptions = [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]

    /// The sender's opaque SignedData (DER, made by the openssl command) over FedMail's inner entity.
    static func signedDER(_ pki: TestPKI, scratch: Scratch) throws -> [UInt8] {
        let sender = try #require(pki.paths["sender"])
        let original = Array((MessageCorpus.headers() + "\r\nHello.\r\n").utf8)
        try Sealer(signer: pki.sender).writeInnerEntity(originalPath: scratch.write("o.eml", original), to: scratch.file("inner"),
                                                        control: ControlFlags(tokens: ["t1"], recipients: [
                                                            .init(keyId: RecipientOrganization.certificate(pki.rsaOrg.certificate).keyIdentifierHex,
                                                                  domains: ["rsa.example"])]))
        try Shell.run("openssl", "cms", "-sign", "-nodetach", "-binary", "-md", "sha256", "-in", scratch.file("inner"),
                      "-signer", sender.cert, "-inkey", sender.key, "-outform", "DER", "-out", scratch.file("signed.der"))
        return try #require(scratch.read("signed.der"))
    }

    /// Encrypts the S/MIME entity `entity` to the RSA organization and writes a sealed message; returns its path.
    static func sealEntity(_ entity: [UInt8], _ pki: TestPKI, scratch: Scratch) throws -> String {
        _ = scratch.write("entity", entity)
        try CMSEnveloping.encrypt(inputPath: scratch.file("entity"), outputPath: scratch.file("env.der"),
                                  recipients: [.certificate(pki.rsaOrg.certificate)])
        let original = Array((MessageCorpus.headers() + "\r\nHello.\r\n").utf8)
        let header = SealedMessageHeaders.build(original: MessageHeaderSection.parse(original), protectSubject: false, tokens: [])
        let envelope = [UInt8](Data(try #require(scratch.read("env.der"))).base64EncodedData(options: base64Options))
        let path = scratch.write("t.eml", header + envelope + [13, 10])
        for name in ["o.eml", "inner", "signed.der", "entity", "env.der", "mp.eml"] { unlink(scratch.file(name)) }
        return path
    }

    /// An opaque signed entity around `signed` (DER).
    static func opaqueEntity(_ signed: [UInt8]) -> [UInt8] {
        Array("Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n".utf8)
            + [UInt8](Data(signed).base64EncodedData(options: base64Options)) + [13, 10]
    }

    static func open(_ path: String, _ pki: TestPKI, _ scratch: Scratch) -> Result<OpenedMessage, OpenError> {
        let opener = Opener(identities: [pki.rsaOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path)
        do { return .success(try opener.open(sealedPath: path, outputPath: scratch.file("out.eml"))) } catch { return .failure(error) }
    }

    /// The error of opening the sender's opaque SignedData with its fields
    /// edited by `edit`, sealed to us; nil (and an issue) when it opened.
    static func refusal(_ edit: (inout [[UInt8]]) -> Void) throws -> OpenError? {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let signed = editSignedData(try signedDER(pki, scratch: scratch), edit)
        let path = try sealEntity(opaqueEntity(signed), pki, scratch: scratch)
        guard case .failure(let error) = open(path, pki, scratch) else { Issue.record("opened"); return nil }
        return error
    }

    @Test func theUntouchedSignedDataOpens() throws {
        // The control: the same construction, unedited, opens.
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let signed = try Self.signedDER(pki, scratch: scratch)
        let path = try Self.sealEntity(Self.opaqueEntity(Self.editSignedData(signed) { _ in }), pki, scratch: scratch)
        let opened = try Self.open(path, pki, scratch).get()
        #expect(opened.report.checks.contains("signature"))
    }

    @Test(arguments: [5, 200_000])
    func manyDigestAlgorithmsAreRefusedBeforeVerifying(copies: Int) throws {
        // 200,000 copies (about 3 MB) took OpenSSL minutes of CPU and then
        // overflowed the stack of the thread that verified.
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let signed = Self.editSignedData(try Self.signedDER(pki, scratch: scratch)) { fields in
            let algorithm = Self.children(fields[1])[0]
            fields[1] = Self.der(0x31, Array([[UInt8]](repeating: algorithm, count: copies).joined()))
        }
        let path = try Self.sealEntity(Self.opaqueEntity(signed), pki, scratch: scratch)
        #expect(AdversarialOpenTests.failure(path, Opener(identities: [pki.rsaOrg], brokerCA: pki.ca, temporaryDirectory: scratch.path),
                                             scratch: scratch) == .badSignature)
        guard case .failure(let error) = Self.open(path, pki, scratch) else { Issue.record("opened"); return }
        #expect(error.message.contains("digest algorithms"))
    }

    @Test func manyCertificatesAreRefused() throws {
        let error = try Self.refusal { fields in
            guard let index = fields.firstIndex(where: { $0.first == 0xA0 }) else { return }
            let certificate = Self.children(fields[index])[0]
            fields[index] = Self.der(0xA0, Array([[UInt8]](repeating: certificate, count: SignedDataShape.maximumCertificates + 1).joined()))
        }
        #expect(error?.code == .badSignature)
        #expect(error?.message.contains("certificates") == true)
    }

    @Test func crlsInTheMessageAreRefused() throws {
        let error = try Self.refusal { fields in
            // crls [1] right after the certificates: one empty SEQUENCE (as a CRL would be).
            let index = (fields.firstIndex { $0.first == 0xA0 } ?? 2) + 1
            fields.insert(Self.der(0xA1, Self.der(0x30, [])), at: index)
        }
        #expect(error?.code == .badSignature)
        #expect(error?.message.contains("CRL") == true)
    }

    @Test func twoSignerInfosAreRefused() throws {
        let error = try Self.refusal { fields in
            let signerInfo = Self.children(fields[fields.count - 1])[0]
            fields[fields.count - 1] = Self.der(0x31, signerInfo + signerInfo)
        }
        #expect(error?.code == .badSignature)
        #expect(error?.message.contains("exactly one signer") == true)
    }

    @Test func multipartSignedWithManyDigestAlgorithmsIsRefused() throws {
        // The same attack through multipart/signed (openssl cms -sign's
        // default, detached): its signature part is checked the same way.
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let sender = try #require(pki.paths["sender"])
        _ = try Self.signedDER(pki, scratch: scratch)   // writes the inner entity
        try Shell.run("openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", scratch.file("inner"),
                      "-signer", sender.cert, "-inkey", sender.key, "-out", scratch.file("mp.eml"))
        var text = String(decoding: try #require(scratch.read("mp.eml")), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        let marker = "Content-Disposition: attachment; filename=\"smime.p7s\"\n\n"
        let start = try #require(text.range(of: marker)).upperBound
        let end = try #require(text.range(of: "\n\n------", range: start..<text.endIndex)).lowerBound
        let signature = try #require(Data(base64Encoded: String(text[start..<end]), options: .ignoreUnknownCharacters))
        // The control first: the unedited multipart/signed entity opens.
        let controlPath = try Self.sealEntity(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8), pki, scratch: scratch)
        _ = try Self.open(controlPath, pki, scratch).get()
        unlink(scratch.file("out.eml"))

        let edited = Self.editSignedData([UInt8](signature)) { fields in
            let algorithm = Self.children(fields[1])[0]
            fields[1] = Self.der(0x31, Array([[UInt8]](repeating: algorithm, count: 5).joined()))
        }
        text.replaceSubrange(start..<end, with: Data(edited).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]))
        let path = try Self.sealEntity(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8), pki, scratch: scratch)
        guard case .failure(let error) = Self.open(path, pki, scratch) else { Issue.record("opened"); return }
        #expect(error.code == .badSignature)
        #expect(error.message.contains("digest algorithms"))
    }
}
