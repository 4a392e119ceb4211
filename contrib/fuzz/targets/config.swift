// libFuzzer target: the OpenDKIM-style configuration file parser and what
// is built on it, fedmail-milter's settings (MilterConfiguration) and the
// federation allowlist. Built with Sources/FedMailCore by
// contrib/fuzz/build.sh. Input: the file's text as UTF-8 (invalid bytes
// replaced). Pure parsing: nothing is read from or written to disk.
//
// Invariants: entries have a non-empty name and value without control
// characters (other than HTAB) and increasing line numbers; allowlist
// entries have canonical domain patterns; each parse is linear
// (-timeout in run.sh).
@testable import FedMailCore

func violated(_ what: String, _ value: String) -> Never {
    let hex = value.utf8.map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("configuration invariant violated: \(what)\ninput (UTF-8 hex): \(hex)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let file = try? ConfigurationFile(parsing: text, path: "/etc/fedmail/fuzz.conf") {
        var line = 0
        for entry in file.entries {
            if entry.name.isEmpty || entry.value.isEmpty { violated("empty name or value on line \(entry.line)", text) }
            if entry.line <= line { violated("line numbers not increasing at \(entry.line)", text) }
            line = entry.line
            if (entry.name + entry.value).unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
                violated("control character in entry on line \(entry.line)", text)
            }
        }
    }
    _ = try? MilterConfiguration(parsing: text, path: "/etc/fedmail/fedmail-milter.conf")
    if let allowlist = try? FederationAllowlist(parsing: text, path: "/etc/fedmail/federation-allowlist") {
        for entry in allowlist.entries {
            let name: DomainName
            switch entry.pattern {
            case .exact(let n): name = n
            case .subdomains(of: let n): name = n
            }
            if DomainName(name.value)?.value != name.value { violated("pattern \(name) is not canonical", text) }
            if entry.pattern == .exact(name), allowlist.entry(for: name) != entry {
                violated("listed domain \(name) does not find its own entry", text)
            }
        }
    }
    return 0
}
