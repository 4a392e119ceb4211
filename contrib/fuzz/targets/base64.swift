// libFuzzer target: streaming base64 decoding of a MIME body
// (FedMailCrypto: Base64Decoder through Base64ByteSource, as the opener
// reads the body of a sealed message from its spool file). Built by
// contrib/fuzz/build.sh with the FedMailCrypto files it needs and COpenSSL.
// Input: the body text (76-character lines, CRLF or LF).
//
// The input goes to a temporary file (unlinked, reused) which the source
// reads from; the reader asks for varying amounts (1, 3, 57, 4096 and
// 256 KiB bytes), so the source's held-back bytes are exercised.
//
// Invariants: only BERError.malformed is thrown; the source never delivers
// more than its `capacity` (BERReader relies on that bound); when decoding
// succeeds the bytes are exactly those a plain base64 decoder gives for the
// alphabet characters before the padding; linear time (-timeout in run.sh).
import COpenSSL
@testable import FedMailCrypto
import Foundation

func violated(_ what: String, _ bytes: [UInt8]) -> Never {
    let hex = bytes.prefix(4096).map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("base64 invariant violated: \(what)\ninput (hex, first 4096 bytes): \(hex)")
}

let file: Int32 = {
    var template = Array("/tmp/fedmail-fuzz-base64.XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    precondition(fd >= 0, "mkstemp failed")
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return fd
}()

/// A plain decoder: the alphabet characters before the first "=", white
/// space ignored, 6 bits each, trailing bits dropped.
func reference(_ text: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var bits: UInt32 = 0
    var count = 0
    for c in text {
        let v: UInt32
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c) - 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c) - 97 + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c) - 48 + 52
        case UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="): return out
        default: continue
        }
        bits = bits << 6 | v
        count += 6
        if count >= 8 {
            count -= 8
            out.append(UInt8((bits >> UInt32(count)) & 0xFF))
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard ftruncate(file, 0) == 0, pwrite(file, data, size, 0) == size else { fatalError("cannot write the input file") }
    let source: Base64ByteSource
    do {
        source = try Base64ByteSource(fd: file, offset: 0, size: size, name: "fuzz")
    } catch {
        fatalError("Base64ByteSource: \(error.message)")
    }
    let asks = [1, 3, 57, 4096, 256 * 1024]
    var decoded: [UInt8] = []
    var step = size
    do {
        while true {
            let ask = asks[step % asks.count]
            step += 1
            let piece = try source.read(maxCount: ask)
            if piece.count > ask { violated("read(maxCount: \(ask)) gave \(piece.count) bytes", bytes) }
            if piece.isEmpty { break }
            decoded += piece
            if decoded.count > source.capacity { violated("\(decoded.count) bytes from a source of capacity \(source.capacity)", bytes) }
        }
    } catch {
        if error.kind != .malformed { violated("threw \(error.kind): \(error.message)", bytes) }
        return 0
    }
    let expected = reference(bytes)
    if decoded != expected {
        violated("decoded \(decoded.count) bytes, a plain decoder gives \(expected.count) (first difference at \(zip(decoded, expected).prefix { $0 == $1 }.count))", bytes)
    }
    return 0
}
