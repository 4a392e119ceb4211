import COpenSSL
import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// An AuthEnvelopedData opens only as AES-256-GCM with a 12-byte nonce and
/// a 16-byte tag. OpenSSL itself takes a `mac` of any length from 1 to 16
/// bytes: with a one-byte tag, one altered ciphertext in 256 would pass the
/// tag, so a shortened tag must be refused before anything is decrypted —
/// also in the split form the milter reads first.
@Suite struct AEADParametersTests {
    typealias Adversarial = AdversarialOpenTests
    typealias Streamed = StreamedOpenTests

    /// The elements of a constructed element's content (each as encoded).
    static func children(_ encoded: [UInt8]) throws -> (header: [UInt8], elements: [[UInt8]]) {
        let reader = BERReader(source: MemoryByteSource(encoded))
        var budget = Int.max
        let header = try reader.header(within: nil)
        let end = reader.offset + (try #require(header.length))
        var elements: [[UInt8]] = []
        while reader.offset < end { elements.append(try reader.element(within: end, depth: 2, budget: &budget).encoded) }
        return (header.encoded, elements)
    }

    static func sequence(_ elements: [[UInt8]], tag: UInt8 = 0x30) -> [UInt8] {
        BERReader.encode(tag: tag, content: elements.flatMap { $0 })
    }

    /// A real sealed message for the RSA organization with its envelope
    /// rewritten: `algorithm` maps the contentEncryptionAlgorithm, `mac`
    /// the mac element (both as encoded).
    static func altered(_ pki: TestPKI, algorithm: ([UInt8]) throws -> [UInt8] = { $0 },
                        mac: ([UInt8]) throws -> [UInt8] = { $0 }) throws -> (Adversarial.Sealed, String) {
        let sealed = try Adversarial.seal(pki)
        let (structure, ciphertext) = try Streamed.parts(sealed.der, layout: .enveloped)
        // ContentInfo { contentType, [0] { AuthEnvelopedData SEQUENCE { ... } } }
        let top = try children(structure)
        let explicit = try children(top.elements[1])
        let body = try children(explicit.elements[0])
        var fields: [[UInt8]] = []
        var seenContentInfo = false
        for element in body.elements {
            if !seenContentInfo && element.first == 0x30 {
                seenContentInfo = true
                let info = try children(element)
                let content = Streamed.primitive(0x80, ciphertext)
                fields.append(sequence([info.elements[0], try algorithm(info.elements[1]), content]))
            } else if seenContentInfo && element.first == 0x04 {
                fields.append(try mac(element))
            } else {
                fields.append(element)
            }
        }
        let der = sequence([top.elements[0], sequence([sequence(fields)], tag: 0xA0)])
        return (sealed, Adversarial.write(sealed, der: der))
    }

    /// The GCM parameters SEQUENCE of an algorithm identifier, rewritten.
    static func parameters(_ transform: @escaping ([[UInt8]]) -> [[UInt8]]) -> ([UInt8]) throws -> [UInt8] {
        { algorithm in
            let identifier = try children(algorithm)
            let gcm = try children(identifier.elements[1])
            return sequence([identifier.elements[0], sequence(transform(gcm.elements))])
        }
    }

    /// Opens from the file and from the split the milter reads; both must fail with `code`.
    static func expectRefused(_ sealed: Adversarial.Sealed, _ path: String, _ pki: TestPKI, _ code: OpenError.Code,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let opener = Adversarial.rsaOpener(pki, sealed.scratch)
        #expect(Adversarial.failure(path, opener, scratch: sealed.scratch) == code, sourceLocation: sourceLocation)
        do {
            let split = try SplitSealedMessage.read(sealedPath: path, temporaryDirectory: sealed.scratch.path, requireAEAD: false)
            _ = try opener.open(split: split, outputPath: sealed.scratch.file("out.eml"))
            Issue.record("the split opened", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: sealed.scratch.file("out.eml")), sourceLocation: sourceLocation)
    }

    @Test func theUnalteredRewriteOpens() throws {
        // The control: the same rewrite with nothing changed opens.
        let pki = try TestPKI.get()
        let (sealed, path) = try Self.altered(pki)
        _ = try Adversarial.rsaOpener(pki, sealed.scratch).open(sealedPath: path, outputPath: sealed.scratch.file("out.eml"))
        #expect(sealed.scratch.read("out.eml") == MessageCorpus.message("crlf"))
    }

    @Test func aShortenedTagIsRefusedWhateverItsLength() throws {
        let pki = try TestPKI.get()
        for length in [0, 1, 4, 8, 12, 15] {
            let (sealed, path) = try Self.altered(pki, mac: { Streamed.primitive(0x04, Array($0.suffix(16).prefix(length))) })
            Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
        }
    }

    @Test func aLongerOrConstructedTagIsRefused() throws {
        let pki = try TestPKI.get()
        let (sealed, path) = try Self.altered(pki, mac: { Streamed.primitive(0x04, Array($0.suffix(16)) + [0]) })
        Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
        let (sealed2, path2) = try Self.altered(pki, mac: { Self.sequence([Streamed.primitive(0x04, Array($0.suffix(16)))], tag: 0x24) })
        Self.expectRefused(sealed2, path2, pki, .malformed)
    }

    @Test func anICVLengthOtherThanSixteenOrLeftToItsDefaultIsRefused() throws {
        let pki = try TestPKI.get()
        // aes-ICVlen absent: its DEFAULT is 12.
        var (sealed, path) = try Self.altered(pki, algorithm: Self.parameters { [$0[0]] })
        Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
        (sealed, path) = try Self.altered(pki, algorithm: Self.parameters { [$0[0], Streamed.primitive(0x02, [12])] })
        Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
    }

    @Test func aNonceOtherThanTwelveBytesIsRefused() throws {
        let pki = try TestPKI.get()
        let (sealed, path) = try Self.altered(pki, algorithm: Self.parameters { elements in
            [Streamed.primitive(0x04, [UInt8](repeating: 7, count: 16)), elements[1]]
        })
        Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
    }

    @Test func anotherCipherIsRefused() throws {
        let pki = try TestPKI.get()
        // id-aes128-GCM (2.16.840.1.101.3.4.1.6) in place of id-aes256-GCM.
        let (sealed, path) = try Self.altered(pki, algorithm: { algorithm in
            let identifier = try Self.children(algorithm)
            return Self.sequence([[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06], identifier.elements[1]])
        })
        Self.expectRefused(sealed, path, pki, .refusedAlgorithm)
    }
}
