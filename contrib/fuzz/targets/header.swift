// libFuzzer target: the header section of a message (MessageHeaderSection)
// and the layout of a sealed message's inner entity
// (SealedInnerEntityLayout: the multipart/mixed header, its first part's
// header, and the control part), the ambiguity check of an opened
// original's fields (ambiguousByte), and whether each field value claims
// an authserv-id (AuthenticationResults: every reading of it). Built with Sources/FedMailCore by
// contrib/fuzz/build.sh. Input: the first bytes of a message or entity
// (the opener reads up to 256 KiB of it).
//
// Invariants: parsing never changes a byte (the fields' raw bytes, plus
// the empty separator line when there is one, are exactly the first
// `length` bytes); a layout's original offset lies within the input; each
// parse is linear (-timeout in run.sh).
@testable import FedMailCore

func violated(_ what: String, _ bytes: [UInt8]) -> Never {
    let hex = bytes.prefix(4096).map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("header invariant violated: \(what)\ninput (hex, first 4096 bytes): \(hex)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let section = MessageHeaderSection.parse(bytes)
    if section.length > bytes.count { violated("length \(section.length) beyond \(bytes.count) bytes", bytes) }
    var joined: [UInt8] = []
    for field in section.fields {
        joined += field.raw
        let value = field.value
        // Our own id in the value is always a claim, in every reading.
        if AuthenticationResults.fieldValue("mx.b.test; " + value, claims: "mx.b.test") == false {
            violated("'mx.b.test; <value>' is not read as claiming mx.b.test", bytes)
        }
        _ = AuthenticationResults.fieldValue(value, claimsAnyOf: ["mx.b.test", "trusted.example"])
    }
    _ = section.ambiguousByte
    if !bytes[..<section.length].starts(with: joined) {
        violated("the fields' bytes are not the start of the input", bytes)
    }
    let rest = Array(bytes[joined.count..<section.length])
    if section.hasSeparator ? !(rest == [10] || rest == [13, 10]) : !rest.isEmpty {
        violated("\(rest.count) bytes between the fields and the body are not one empty line", bytes)
    }
    _ = section.first("Content-Type")
    _ = section.all("FedMail-Token")

    if let layout = try? SealedInnerEntityLayout.parse(head: bytes) {
        if layout.originalOffset > bytes.count || layout.boundary.isEmpty {
            violated("layout \(layout) does not fit \(bytes.count) bytes", bytes)
        }
        _ = try? SealedInnerEntityLayout.parseControlPart(tail: Array(bytes[layout.originalOffset...]), boundary: layout.boundary)
    }
    _ = try? SealedInnerEntityLayout.parseControlPart(tail: bytes, boundary: "b")
    return 0
}
