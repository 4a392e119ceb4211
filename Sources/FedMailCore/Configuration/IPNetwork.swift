/// An IPv4 or IPv6 network (`192.0.2.0/24`, `2001:db8::/32`, or a single
/// address), as listed in `InternalHosts`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address bytes: 4 for IPv4, 16 for IPv6.
    public let address: [UInt8]
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `address` or `address/prefix`; `nil` when malformed.
    public init?(_ text: some StringProtocol) {
        var text = Substring(text)
        if text.hasPrefix("[") , let close = text.firstIndex(of: "]") {
            text = text[text.index(after: text.startIndex)..<close] + text[text.index(after: close)...]
        }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.parseAddress(parts[0]) else { return nil }
        let maxBits = bytes.count * 8
        var prefix = maxBits
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maxBits).contains(value) else { return nil }
            prefix = value
        }
        self.address = Self.masked(bytes, prefix)
        self.prefixLength = prefix
    }

    /// Whether `address` (a textual IPv4 or IPv6 address) is inside this network.
    /// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) match IPv4 networks.
    public func contains(_ text: some StringProtocol) -> Bool {
        guard var bytes = Self.parseAddress(Substring(text)) else { return false }
        if bytes.count == 16, address.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }),
           bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        return Self.masked(bytes, prefixLength) == address
    }

    public var description: String {
        let text: String
        if address.count == 4 {
            text = address.map(String.init).joined(separator: ".")
        } else {
            text = stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        return "\(text)/\(prefixLength)"
    }

    private static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, prefix - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }

    static func parseAddress(_ text: Substring) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        return parseIPv4(text)
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private static func parseIPv6(_ text: Substring) -> [UInt8]? {
        var text = text
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    bytes += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

extension StringProtocol {
    fileprivate func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let range = rest.range(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }

    fileprivate func range(of needle: String) -> Range<Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) {
                return index..<(self.index(index, offsetBy: needle.count))
            }
            index = self.index(after: index)
        }
        return nil
    }
}
