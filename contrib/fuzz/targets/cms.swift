// libFuzzer target: the streaming BER reader and the CMS content splitter
// (FedMailCrypto: BERReader, CMSContentSplitter), which read a sealed
// message's CMS before anything is decrypted or verified. Built by
// contrib/fuzz/build.sh with the FedMailCrypto files they need
// (BERByteSource, BERReader, CMSContentSplitter, Base64Stream,
// FileDescriptorIO, CryptoError) and COpenSSL. Input: DER/BER bytes, as
// `openssl cms -encrypt -outform DER` or the base64-decoded body of a
// sealed message.
//
// Each input is split twice: as (Auth)EnvelopedData with the whole input
// available at once, and as SignedData handed out a few bytes at a time
// (buffer boundaries everywhere).
//
// Invariants: only BERError.malformed is thrown (no .io: the sink is
// /dev/null); content length and structure fit in the input; the structure
// left after a split is one well-formed BER element; linear time and bounded
// memory (-timeout, -rss_limit_mb in run.sh).
import COpenSSL
@testable import FedMailCrypto
import Foundation

func violated(_ what: String, _ bytes: [UInt8]) -> Never {
    let hex = bytes.prefix(4096).map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("CMS invariant violated: \(what)\ninput (hex, first 4096 bytes): \(hex)")
}

/// The input in memory, `chunk` bytes per read at most.
final class MemorySource: BERByteSource {
    let bytes: [UInt8]
    let chunk: Int
    var position = 0
    let capacity: Int

    init(_ bytes: [UInt8], chunk: Int) {
        self.bytes = bytes
        self.chunk = chunk
        capacity = bytes.count
    }

    func read(maxCount: Int) throws(BERError) -> [UInt8] {
        let n = min(maxCount, chunk, bytes.count - position)
        let out = Array(bytes[position..<(position + n)])
        position += n
        return out
    }
}

let devNull = open("/dev/null", O_WRONLY)

func split(_ bytes: [UInt8], layout: CMSContentSplitter.Layout, chunk: Int) {
    let accepted = layout == .enveloped ? [NID_id_smime_ct_authEnvelopedData, NID_pkcs7_enveloped] : [NID_pkcs7_signed]
    let reader = BERReader(source: MemorySource(bytes, chunk: chunk))
    let result: CMSContentSplitter.Result
    do {
        result = try CMSContentSplitter.split(reader: reader, layout: layout, acceptedTypes: accepted,
                                              contentTo: devNull, contentName: "/dev/null")
    } catch {
        if error.kind != .malformed { violated("\(layout) split threw \(error.kind): \(error.message)", bytes) }
        return
    }
    if result.contentLength > bytes.count { violated("content of \(result.contentLength) bytes from \(bytes.count)", bytes) }
    guard let structure = result.structure else { return }
    if !accepted.contains(result.contentTypeNID) { violated("split a content type \(result.contentTypeNID) not accepted", bytes) }
    if structure.count > bytes.count + 64 { violated("structure of \(structure.count) bytes from \(bytes.count)", bytes) }
    // The structure must be one well-formed element (DER around the kept fields).
    let again = BERReader(source: MemorySource(structure, chunk: 1 << 20))
    do {
        var budget = structure.count
        _ = try again.element(within: nil, depth: 0, budget: &budget)
        guard try again.atEnd() else { violated("the structure has bytes after its element", bytes) }
    } catch {
        violated("the structure is not well-formed BER: \(error.message)", bytes)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    split(bytes, layout: .enveloped, chunk: 1 << 20)
    split(bytes, layout: .signed, chunk: 1 + size % 7)
    return 0
}
