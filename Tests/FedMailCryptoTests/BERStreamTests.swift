import COpenSSL
@testable import FedMailCrypto
import Foundation
import Testing

/// A source that never ends (zeros), claiming a huge capacity.
final class EndlessZeroSource: BERByteSource {
    let capacity = Int.max / 4
    func read(maxCount: Int) throws(BERError) -> [UInt8] { [UInt8](repeating: 0, count: maxCount) }
}

/// A small deterministic generator, so a failing mutation can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

/// The streaming BER reader and the CMS content splitter on hand-made
/// encodings: definite and indefinite lengths, constructed OCTET STRINGs,
/// and adversarial input (truncated, garbage, absurd lengths, deep nesting),
/// which must give `.malformed` — never a crash, a hang or a huge allocation.
@Suite struct BERStreamTests {
    static let authEnvelopedOID: [UInt8] = [0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x17]
    static let signedDataOID: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]
    static let dataOID: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]
    static let eoc: [UInt8] = [0, 0]

    /// AuthEnvelopedData, indefinite lengths (as `openssl cms -encrypt` writes it),
    /// encryptedContent "abc" + a nested constructed segment "de".
    static let enveloped: [UInt8] = [0x30, 0x80] + authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80,
        0x02, 0x01, 0x00,                         // version
        0x31, 0x03, 0x02, 0x01, 0x07,             // recipientInfos (stand-in)
        0x30, 0x80] + dataOID + [0x30, 0x02, 0x05, 0x00,
            0xA0, 0x80, 0x04, 0x03, 0x61, 0x62, 0x63, 0x24, 0x80, 0x04, 0x02, 0x64, 0x65] + eoc + eoc + eoc + [
        0x04, 0x04, 0xDE, 0xAD, 0xBE, 0xEF,       // mac
    ] + eoc + eoc + eoc

    /// What is left of `enveloped` without its content, DER around the kept fields.
    static let envelopedStructure: [UInt8] = [0x30, 0x30] + authEnvelopedOID + [0xA0, 0x21, 0x30, 0x1F,
        0x02, 0x01, 0x00, 0x31, 0x03, 0x02, 0x01, 0x07,
        0x30, 0x0F] + dataOID + [0x30, 0x02, 0x05, 0x00,
        0x04, 0x04, 0xDE, 0xAD, 0xBE, 0xEF]

    /// SignedData with eContent "hi" in a constructed OCTET STRING.
    static let signed: [UInt8] = [0x30, 0x80] + signedDataOID + [0xA0, 0x80, 0x30, 0x80,
        0x02, 0x01, 0x01, 0x31, 0x00,
        0x30, 0x80] + dataOID + [0xA0, 0x80, 0x24, 0x80, 0x04, 0x02, 0x68, 0x69] + eoc + eoc + eoc + [
        0x31, 0x00,
    ] + eoc + eoc + eoc

    static let signedStructure: [UInt8] = [0x30, 0x23] + signedDataOID + [0xA0, 0x16, 0x30, 0x14,
        0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0B] + dataOID + [0x31, 0x00]

    struct Split {
        var result: CMSContentSplitter.Result
        var content: [UInt8]
    }

    static func split(_ bytes: [UInt8], layout: CMSContentSplitter.Layout = .enveloped, chunk: Int = 1 << 20,
                      source: (any BERByteSource)? = nil) throws(BERError) -> Split {
        let path = NSTemporaryDirectory() + "fedmail-ber-\(UUID().uuidString)"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        let accepted = layout == .enveloped ? [NID_id_smime_ct_authEnvelopedData, NID_pkcs7_enveloped] : [NID_pkcs7_signed]
        let reader = BERReader(source: source ?? MemoryByteSource(bytes, chunk: chunk))
        let result = try CMSContentSplitter.split(reader: reader, layout: layout, acceptedTypes: accepted, contentTo: fd, contentName: path)
        let content = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
        return Split(result: result, content: content)
    }

    /// The error kind `body` throws (nil when it succeeds).
    static func failure(_ body: () throws(BERError) -> Split) -> BERError.Kind? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func indefiniteEnvelopeIsSplit() throws {
        for chunk in [1, 2, 3, 7, 1 << 20] {
            let split = try Self.split(Self.enveloped, chunk: chunk)
            #expect(split.content == Array("abcde".utf8), "chunk \(chunk)")
            #expect(split.result.contentLength == 5)
            #expect(split.result.structure == Self.envelopedStructure, "chunk \(chunk)")
            #expect(split.result.contentTypeNID == NID_id_smime_ct_authEnvelopedData)
        }
    }

    @Test func signedDataIsSplit() throws {
        for chunk in [1, 5, 1 << 20] {
            let split = try Self.split(Self.signed, layout: .signed, chunk: chunk)
            #expect(split.content == Array("hi".utf8))
            #expect(split.result.structure == Self.signedStructure)
        }
    }

    @Test func definiteEncodingIsSplitToo() throws {
        // The DER form of `enveloped`, with a primitive [0] content.
        let eci = BERReader.encode(tag: 0x30, content: Self.dataOID + [0x30, 0x02, 0x05, 0x00, 0x80, 0x05] + Array("abcde".utf8))
        let body = BERReader.encode(tag: 0x30, content: [0x02, 0x01, 0x00, 0x31, 0x03, 0x02, 0x01, 0x07] + eci + [0x04, 0x04, 0xDE, 0xAD, 0xBE, 0xEF])
        let der = BERReader.encode(tag: 0x30, content: Self.authEnvelopedOID + BERReader.encode(tag: 0xA0, content: body))
        let split = try Self.split(der)
        #expect(split.content == Array("abcde".utf8))
        #expect(split.result.structure == Self.envelopedStructure)
    }

    @Test func otherContentTypesAreNotSplit() throws {
        let split = try Self.split(Self.signed, layout: .enveloped)
        #expect(split.result.structure == nil)
        #expect(split.result.contentTypeNID == NID_pkcs7_signed)
        #expect(split.content.isEmpty)
    }

    @Test func definiteLengthsAreEncodedMinimally() {
        #expect(BERReader.encodeHeader(tag: 0x30, length: 0) == [0x30, 0x00])
        #expect(BERReader.encodeHeader(tag: 0x30, length: 127) == [0x30, 0x7F])
        #expect(BERReader.encodeHeader(tag: 0x30, length: 128) == [0x30, 0x81, 0x80])
        #expect(BERReader.encodeHeader(tag: 0x04, length: 300) == [0x04, 0x82, 0x01, 0x2C])
        #expect(BERReader.encodeHeader(tag: 0x04, length: 52_428_800) == [0x04, 0x84, 0x03, 0x20, 0x00, 0x00])
    }

    @Test func everyTruncationIsMalformed() {
        for (sample, layout) in [(Self.enveloped, CMSContentSplitter.Layout.enveloped), (Self.signed, .signed)] {
            for cut in 0..<sample.count {
                let prefix = Array(sample.prefix(cut))
                #expect(Self.failure { () throws(BERError) in try Self.split(prefix, layout: layout, chunk: 3) } == .malformed, "cut at \(cut)")
            }
        }
    }

    @Test func trailingDataIsMalformed() {
        for extra: [UInt8] in [[0x00], [0x00, 0x00], [0x05, 0x00], [0x30, 0x80] + Self.eoc] {
            #expect(Self.failure { () throws(BERError) in try Self.split(Self.enveloped + extra) } == .malformed)
        }
    }

    @Test func garbageIsMalformed() {
        let garbage: [[UInt8]] = [
            [],
            [0x00],
            [0x00, 0x00],                                   // end-of-contents at top level
            Array("MIME-Version: 1.0\r\n".utf8),
            [0x31, 0x80, 0x00, 0x00],                       // a SET, not a SEQUENCE
            [0x30, 0x03, 0x02, 0x01, 0x00],                 // no content type
            [0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF] + Self.authEnvelopedOID,   // length beyond the data
            [0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],        // nine length octets
            [0x30, 0xFF],                                   // reserved length octet
            [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x02, 0x80], // indefinite primitive
            [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x00, 0x01, 0x00], // end-of-contents with a length
            [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x1F, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00], // tag number too long
            [0x30, 0x80] + Self.authEnvelopedOID + [0x04, 0x00] + Self.eoc,        // content not [0]
            [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x04, 0x00] + Self.eoc + Self.eoc, // content not a SEQUENCE
            [0x30, 0x06, 0x30, 0x04] + Self.authEnvelopedOID,  // a child longer than its parent
        ]
        for bytes in garbage {
            #expect(Self.failure { () throws(BERError) in try Self.split(bytes) } == .malformed, "\(bytes)")
        }
    }

    @Test func contentMustBePresentAndOctets() throws {
        // Detached (no encryptedContent): remove the [0] element (17 bytes with its end-of-contents).
        var detached = Self.enveloped
        let start = try #require(PatternScanner.firstIndex(of: [0xA0, 0x80, 0x04, 0x03], in: detached))
        detached.removeSubrange(start..<(start + 17))
        #expect(Array(detached[start..<(start + 2)]) == Self.eoc)
        #expect(Self.failure { () throws(BERError) in try Self.split(detached) } == .malformed)
        // A segment that is not an OCTET STRING (UTF8String).
        var wrongSegment = Self.enveloped
        wrongSegment[start + 2] = 0x0C
        #expect(Self.failure { () throws(BERError) in try Self.split(wrongSegment) } == .malformed)
        // Two OCTET STRINGs in an explicit eContent.
        var twice = Self.signed
        let inner = try #require(PatternScanner.firstIndex(of: [0x24, 0x80], in: twice))
        twice.insert(contentsOf: [0x04, 0x01, 0x21], at: inner)
        #expect(Self.failure { () throws(BERError) in try Self.split(twice, layout: .signed) } == .malformed)
    }

    @Test func deepNestingIsRefused() {
        let depth = 200
        // In a field kept in memory.
        let kept = [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00]
            + Array([[UInt8]](repeating: [0x31, 0x80], count: depth).joined()) + Array([[UInt8]](repeating: Self.eoc, count: depth + 3).joined())
        #expect(Self.failure { () throws(BERError) in try Self.split(kept) } == .malformed)
        // In the streamed content.
        let streamed = [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0x31, 0x00, 0x30, 0x80]
            + Self.dataOID + [0x30, 0x00, 0xA0, 0x80]
            + Array([[UInt8]](repeating: [0x24, 0x80], count: depth).joined()) + Array([[UInt8]](repeating: Self.eoc, count: depth + 4).joined())
        #expect(Self.failure { () throws(BERError) in try Self.split(streamed) } == .malformed)
    }

    @Test func hugeLengthsAreRefusedBeforeReading() {
        // A 20 MB field to keep in memory, on a source that would deliver it: refused, not read.
        let prefix: [UInt8] = [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0x31, 0x84, 0x01, 0x40, 0x00, 0x00]
        let source = ChainedSource(prefix, then: EndlessZeroSource())
        #expect(Self.failure { () throws(BERError) in try Self.split([], source: source) } == .malformed)
        #expect(source.delivered < 1 << 20)
        // A content length past the end of the data.
        let past = [0x30, 0x80] + Self.authEnvelopedOID + [0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0x31, 0x00, 0x30, 0x80]
            + Self.dataOID + [0x30, 0x00, 0x80, 0x88, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61]
        #expect(Self.failure { () throws(BERError) in try Self.split(past) } == .malformed)
    }

    @Test func randomMutationsNeverCrash() {
        var generator = SeededGenerator(state: 0x5EED_F00D_CAFE_1234)
        var outcomes = [String: Int]()
        for round in 0..<4000 {
            var bytes = round % 2 == 0 ? Self.enveloped : Self.signed
            let layout: CMSContentSplitter.Layout = round % 2 == 0 ? .enveloped : .signed
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes[position] ^= 0x80
                case 2: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                default: bytes.remove(at: position)
                }
                if bytes.isEmpty { break }
            }
            let input = bytes
            do {
                let split = try Self.split(input, layout: layout, chunk: 1 + round % 5)
                #expect(split.content.count <= input.count)
                #expect((split.result.structure?.count ?? 0) <= input.count + 16)
                outcomes["split", default: 0] += 1
            } catch {
                #expect(error.kind == .malformed)
                outcomes["malformed", default: 0] += 1
            }
        }
        #expect(outcomes["malformed", default: 0] > 1000)
    }
}

/// `first`'s bytes, then `second`'s; counts what it delivered.
final class ChainedSource: BERByteSource {
    private let first: MemoryByteSource
    private let second: any BERByteSource
    private var firstDone = false
    private(set) var delivered = 0
    let capacity: Int

    init(_ bytes: [UInt8], then second: any BERByteSource) {
        first = MemoryByteSource(bytes)
        self.second = second
        capacity = second.capacity
    }

    func read(maxCount: Int) throws(BERError) -> [UInt8] {
        var out: [UInt8] = []
        if !firstDone {
            out = try first.read(maxCount: maxCount)
            if out.isEmpty { firstDone = true }
        }
        if out.isEmpty { out = try second.read(maxCount: maxCount) }
        delivered += out.count
        return out
    }
}
