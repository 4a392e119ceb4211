// libFuzzer target: MIME Content-Type and Content-Transfer-Encoding field
// values (RFC 2045), as the opener reads them from a sealed message and its
// inner entities. Built with Sources/FedMailCore by contrib/fuzz/build.sh.
// Input: the field value as UTF-8 (invalid bytes replaced).
//
// Invariants: a parsed value has a non-empty, lower-case type and subtype
// without white space, "/", ";", "=", quote or "(" in them, and non-empty,
// lower-case parameter names; a transfer encoding read is one such token,
// and a value that is one token reads as that token lower-cased; parsing
// is linear (-timeout in run.sh).
@testable import FedMailCore

func violated(_ what: String, _ value: String) -> Never {
    let hex = value.utf8.map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("Content-Type invariant violated: \(what)\ninput (UTF-8 hex): \(hex)")
}

let separators: Set<Character> = [";", "=", "/", " ", "\t", "\"", "(", "\r", "\n"]

func checkToken(_ token: String, _ what: String, _ value: String) {
    if token.isEmpty { violated("empty \(what)", value) }
    if token != token.lowercased() { violated("\(what) \(token.debugDescription) is not lower-case", value) }
    if token.contains(where: { separators.contains($0) }) { violated("\(what) \(token.debugDescription) holds a separator", value) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let mechanism = MIMETransferEncoding.mechanism(of: value, default: "7bit") {
        checkToken(mechanism, "transfer encoding", value)
    }
    // Scalars, not Characters: "\r\n" is one Character equal to neither.
    if !value.isEmpty, !value.unicodeScalars.contains(where: { " \t\r\n;=/\"()\\".unicodeScalars.contains($0) }),
       MIMETransferEncoding.mechanism(of: value, default: "7bit") != value.lowercased() {
        violated("the one-token transfer encoding \(value.debugDescription) read otherwise", value)
    }
    guard let parsed = MIMEContentType.parse(value) else { return 0 }
    checkToken(parsed.type, "type", value)
    checkToken(parsed.subtype, "subtype", value)
    for name in parsed.parameters.keys { checkToken(name, "parameter name", value) }
    if parsed.mediaType != parsed.type + "/" + parsed.subtype { violated("mediaType \(parsed.mediaType)", value) }
    return 0
}
