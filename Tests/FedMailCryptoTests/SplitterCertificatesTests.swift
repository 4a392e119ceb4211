import COpenSSL
@testable import FedMailCrypto
import Foundation
import Testing

/// The CMS content splitter with `certificatesApart` (SignedData): plain
/// certificates come back one by one, the structure without them; any
/// other certificate choice keeps the field in the structure.
@Suite struct SplitterCertificatesTests {
    typealias BER = BERStreamTests
    static let certA: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x05]
    static let certB: [UInt8] = [0x30, 0x80, 0x02, 0x01, 0x06, 0x00, 0x00]

    /// `BERStreamTests.signed` with a certificates field (indefinite) before its signerInfos.
    static func signed(certificates: [UInt8]) -> [UInt8] {
        [0x30, 0x80] + BER.signedDataOID + [0xA0, 0x80, 0x30, 0x80,
            0x02, 0x01, 0x01, 0x31, 0x00,
            0x30, 0x80] + BER.dataOID + [0xA0, 0x80, 0x24, 0x80, 0x04, 0x02, 0x68, 0x69] + BER.eoc + BER.eoc + BER.eoc
            + certificates + [0x31, 0x00] + BER.eoc + BER.eoc + BER.eoc
    }

    /// `BERStreamTests.signed` with `fields` (the signerInfos SET included) after its content info.
    static func signed(afterContent fields: [UInt8]) -> [UInt8] {
        [0x30, 0x80] + BER.signedDataOID + [0xA0, 0x80, 0x30, 0x80,
            0x02, 0x01, 0x01, 0x31, 0x00,
            0x30, 0x80] + BER.dataOID + [0xA0, 0x80, 0x24, 0x80, 0x04, 0x02, 0x68, 0x69] + BER.eoc + BER.eoc + BER.eoc
            + fields + BER.eoc + BER.eoc + BER.eoc
    }

    /// The split structure of ``signed(certificates:)`` keeping `field`.
    static func structure(certificatesField field: [UInt8]) -> [UInt8] {
        let fields: [UInt8] = [0x02, 0x01, 0x01, 0x31, 0x00] + BERReader.encode(tag: 0x30, content: BER.dataOID) + field + [0x31, 0x00]
        let signedData = BERReader.encode(tag: 0x30, content: fields)
        return BERReader.encode(tag: 0x30, content: BER.signedDataOID + BERReader.encode(tag: 0xA0, content: signedData))
    }

    static func split(_ bytes: [UInt8], apart: Bool, chunk: Int = 1 << 20) throws(BERError) -> CMSContentSplitter.Result {
        try CMSContentSplitter.split(reader: BERReader(source: MemoryByteSource(bytes, chunk: chunk)), layout: .signed,
                                     acceptedTypes: [NID_pkcs7_signed], contentTo: nil, contentName: "-", certificatesApart: apart)
    }

    @Test func certificatesComeApart() throws {
        let bytes = Self.signed(certificates: [0xA0, 0x80] + Self.certA + Self.certB + BER.eoc)
        for chunk in [1, 3, 1 << 20] {
            let result = try Self.split(bytes, apart: true, chunk: chunk)
            #expect(result.certificates == [Self.certA, Self.certB], "chunk \(chunk)")
            #expect(result.structure == BER.signedStructure, "chunk \(chunk)")
            #expect(result.contentLength == 2)
        }
    }

    @Test func certificatesStayWithoutApart() throws {
        let field: [UInt8] = [0xA0, 0x05] + Self.certA
        let result = try Self.split(Self.signed(certificates: field), apart: false)
        #expect(result.certificates == nil)
        #expect(result.structure == Self.structure(certificatesField: field))
    }

    @Test func otherCertificateChoicesStayInTheStructure() throws {
        let other: [UInt8] = [0xA1, 0x03, 0x02, 0x01, 0x07]
        let result = try Self.split(Self.signed(certificates: [0xA0, 0x80] + Self.certA + other + BER.eoc), apart: true)
        #expect(result.certificates == nil)
        let field = BERReader.encode(tag: 0xA0, content: Self.certA + other)
        #expect(result.structure == Self.structure(certificatesField: field))
    }

    /// Shapes OpenSSL refuses as a whole SignedData must not become valid
    /// by taking the certificates apart: [0] only as the first field after
    /// the content info, and only once.
    @Test("certificates out of place or twice are malformed", arguments: [
        "after the signerInfos", "twice", "after the crls", "a kept [0] then a second one",
    ])
    func certificatesOutOfPlace(shape: String) {
        let certs: [UInt8] = [0xA0, 0x05] + Self.certA
        let crls: [UInt8] = [0xA1, 0x00]
        let fields: [UInt8]
        switch shape {
        case "after the signerInfos": fields = [0x31, 0x00] + certs
        case "twice": fields = certs + certs + [0x31, 0x00]
        case "after the crls": fields = crls + certs + [0x31, 0x00]
        default: fields = [0xA0, 0x03, 0x02, 0x01, 0x07] + certs + [0x31, 0x00]
        }
        do {
            _ = try Self.split(Self.signed(afterContent: fields), apart: true)
            Issue.record("\(shape): accepted")
        } catch {
            #expect(error.kind == .malformed, "\(shape)")
        }
    }

    @Test func truncatedCertificatesAreMalformed() {
        let bytes = Self.signed(certificates: [0xA0, 0x80] + Self.certA + BER.eoc)
        for cut in stride(from: 1, to: bytes.count, by: 1) {
            do {
                _ = try Self.split(Array(bytes.prefix(cut)), apart: true)
                Issue.record("a truncation at \(cut) was accepted")
            } catch {
                #expect(error.kind == .malformed)
            }
        }
    }
}
