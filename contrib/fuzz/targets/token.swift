// libFuzzer target: the FedMail-Token header field (`v=1; d=…; t=<JWS>`),
// which the milter reads from inbound mail before anything is verified,
// its unverified `jti`, and DomainName (with Punycode) on the d= value and
// on the raw input. Built with Sources/FedMailCore by contrib/fuzz/build.sh.
// Input: the field value as UTF-8 (invalid bytes replaced).
//
// Invariants: a parsed header has a non-empty lower-case domain and a
// non-empty token and survives value -> parse unchanged; a DomainName is
// canonical (a-z 0-9 - and dots, labels 1–63 octets without a leading or
// trailing hyphen, at most 253 octets) and canonicalizing it again gives
// the same name; every step is linear (-timeout in run.sh).
@testable import FedMailCore

func violated(_ what: String, _ value: String) -> Never {
    let hex = value.utf8.map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("FedMail-Token invariant violated: \(what)\ninput (UTF-8 hex): \(hex)")
}

func checkDomainName(_ text: String, _ input: String) {
    guard let name = DomainName(text) else { return }
    let v = name.value
    if v.isEmpty || v.utf8.count > 253 { violated("DomainName(\(text.debugDescription)) = \(v.debugDescription): bad length", input) }
    for label in v.split(separator: ".", omittingEmptySubsequences: false) {
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-"),
              bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            violated("DomainName(\(text.debugDescription)) = \(v.debugDescription): label \(label.debugDescription) is not canonical", input)
        }
    }
    if DomainName(v)?.value != v { violated("DomainName(\(v.debugDescription)) is not idempotent", input) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let header = FedMailTokenHeader.parse(value: value) {
        if header.domain.isEmpty || header.domain != header.domain.lowercased() {
            violated("domain \(header.domain.debugDescription) is empty or not lower-case", value)
        }
        if header.token.isEmpty { violated("empty token", value) }
        if FedMailTokenHeader.parse(value: header.value) != header {
            violated("\(header.value.debugDescription) does not parse back to the same header", value)
        }
        _ = header.unverifiedTokenID
        checkDomainName(header.domain, value)
    }
    // Also the raw value as a token (jti extraction) and as a domain.
    _ = FedMailTokenHeader(domain: "x.example", token: value).unverifiedTokenID
    checkDomainName(value, value)
    _ = DomainName(ofAddress: value)
    return 0
}
