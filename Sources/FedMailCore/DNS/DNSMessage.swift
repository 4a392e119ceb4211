/// The small part of the DNS wire format (RFC 1035 §4) the broker needs to
/// look up TXT records for domain control validation: building one query,
/// and reading the TXT answer for exactly the name asked.
///
/// Responses come from the network, so reading fails closed with bounded
/// work: the size is capped before anything is read, every count and length
/// is checked against the bytes present, compression pointers must point
/// strictly backwards (no loops) and are followed at most
/// ``DNSMessage/maximumPointerJumps`` times per name, names are at most 255
/// octets, records and CNAME hops are capped. A response that does not echo
/// the query's id and question is refused.
public enum DNSMessage {
    /// Record type TXT (RFC 1035 §3.3.14).
    public static let typeTXT: UInt16 = 16
    /// Record type CNAME.
    public static let typeCNAME: UInt16 = 5
    /// Record type OPT (EDNS(0), RFC 6891).
    public static let typeOPT: UInt16 = 41
    /// Class IN.
    public static let classIN: UInt16 = 1
    /// The UDP payload size the query advertises (the DNS flag day 2020 value).
    public static let advertisedUDPSize: UInt16 = 1232
    /// The largest response read at all (a TCP message's 2-octet length caps it at 65535).
    public static let maximumResponseSize = 65_535
    /// The most resource records one response may carry in all sections.
    public static let maximumRecords = 256
    /// The most compression pointers followed while reading one name.
    public static let maximumPointerJumps = 16
    /// The most CNAME hops followed from the name asked.
    public static let maximumCNAMEHops = 8

    /// Builds a query for `type` records of `name` (a dotted ASCII name, trailing dot optional),
    /// with the recursion-desired bit and an EDNS(0) OPT record advertising ``advertisedUDPSize``.
    public static func query(id: UInt16, name: String, type: UInt16 = typeTXT) throws(DNSMessageError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + name.utf8.count)
        append16(&bytes, id)
        append16(&bytes, 0x0100)          // QR=0, opcode QUERY, RD=1
        append16(&bytes, 1)               // QDCOUNT
        append16(&bytes, 0)               // ANCOUNT
        append16(&bytes, 0)               // NSCOUNT
        append16(&bytes, 1)               // ARCOUNT: the OPT record
        for label in try labels(of: name) {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        append16(&bytes, type)
        append16(&bytes, classIN)
        // OPT: root name, type 41, class = UDP size, TTL 0 (extended rcode, version 0, no DO), no options.
        bytes.append(0)
        append16(&bytes, typeOPT)
        append16(&bytes, advertisedUDPSize)
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0])
        return bytes
    }

    /// The labels of a dotted name as octets, checked: 1-63 octets each, at most 255 on the wire.
    static func labels(of name: String) throws(DNSMessageError) -> [[UInt8]] {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { throw DNSMessageError(.badName, "empty name") }
        var result: [[UInt8]] = []
        var wireLength = 1
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            let octets = Array(label.utf8)
            guard (1...63).contains(octets.count), octets.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw DNSMessageError(.badName, "'\(name)' has an empty, over-long or non-ASCII label")
            }
            wireLength += octets.count + 1
            result.append(octets)
        }
        guard wireLength <= 255 else { throw DNSMessageError(.badName, "'\(name)' is longer than 255 octets") }
        return result
    }

    /// Reads the answer to a TXT query sent with `id` for `name`: the text of every TXT record
    /// owned by `name` (or by the end of a CNAME chain starting at it, all inside the answer
    /// section), each record's character-strings concatenated as RFC 7208 §3.3 and RFC 8555
    /// §8.4 read them. NXDOMAIN and NODATA are an empty answer; other error codes throw.
    public static func txtAnswer(_ bytes: [UInt8], id: UInt16, name: String) throws(DNSMessageError) -> DNSTXTAnswer {
        guard bytes.count <= maximumResponseSize else {
            throw DNSMessageError(.tooLarge, "response of \(bytes.count) octets is larger than \(maximumResponseSize)")
        }
        var reader = Reader(bytes: bytes)
        guard bytes.count >= 12 else { throw DNSMessageError(.malformed, "response shorter than a DNS header") }
        let responseID = try reader.u16()
        guard responseID == id else { throw DNSMessageError(.wrongID, "response id \(responseID) does not match query id \(id)") }
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw DNSMessageError(.notAResponse, "message is a query, not a response") }
        guard (flags >> 11) & 0xF == 0 else { throw DNSMessageError(.malformed, "response opcode is not QUERY") }
        let truncated = flags & 0x0200 != 0
        let rcode = flags & 0xF
        let qdcount = Int(try reader.u16())
        let ancount = Int(try reader.u16())
        let nscount = Int(try reader.u16())
        let arcount = Int(try reader.u16())
        guard qdcount == 1 else { throw DNSMessageError(.wrongQuestion, "response has \(qdcount) questions, not 1") }
        guard ancount + nscount + arcount <= maximumRecords else {
            throw DNSMessageError(.tooLarge, "response claims \(ancount + nscount + arcount) records (at most \(maximumRecords))")
        }
        let asked = try labels(of: name).map(lowercased)
        let question = try reader.name()
        let qtype = try reader.u16()
        let qclass = try reader.u16()
        guard question == asked, qtype == typeTXT, qclass == classIN else {
            throw DNSMessageError(.wrongQuestion, "response answers a different question than \(name) TXT IN")
        }
        if truncated {
            // The answer records may be cut anywhere; the caller asks again over TCP.
            return DNSTXTAnswer(rcode: rcode, truncated: true, texts: [])
        }
        switch rcode {
        case 0: break
        case 3: return DNSTXTAnswer(rcode: rcode, truncated: false, texts: [])
        default: throw DNSMessageError(.serverFailure, "server answered \(rcodeName(rcode))")
        }
        var cnames: [[[UInt8]]: [[UInt8]]] = [:]
        var txt: [([[UInt8]], [UInt8])] = []
        for _ in 0..<ancount {
            let owner = try reader.name()
            let type = try reader.u16()
            let rclass = try reader.u16()
            _ = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw DNSMessageError(.malformed, "record data runs past the end of the response") }
            if rclass == classIN && type == typeTXT {
                var text: [UInt8] = []
                var at = reader.offset
                while at < end {
                    let count = Int(bytes[at])
                    guard at + 1 + count <= end else { throw DNSMessageError(.malformed, "TXT string runs past its record") }
                    text.append(contentsOf: bytes[(at + 1)..<(at + 1 + count)])
                    at += 1 + count
                }
                txt.append((owner, text))
            } else if rclass == classIN && type == typeCNAME {
                var inner = reader
                let target = try inner.name()
                guard inner.offset == end else { throw DNSMessageError(.malformed, "CNAME data has trailing octets") }
                guard cnames[owner] == nil else { throw DNSMessageError(.malformed, "two CNAME records for one name") }
                cnames[owner] = target
            }
            reader.offset = end
        }
        // The names the answer is for: the name asked, then each CNAME target in turn.
        var current = asked
        var names = [current]
        while let target = cnames[current] {
            guard names.count <= maximumCNAMEHops else { throw DNSMessageError(.malformed, "CNAME chain longer than \(maximumCNAMEHops)") }
            guard !names.contains(target) else { throw DNSMessageError(.malformed, "CNAME loop") }
            names.append(target)
            current = target
        }
        let texts = txt.filter { $0.0 == current }.map { String(decoding: $0.1, as: UTF8.self) }
        return DNSTXTAnswer(rcode: rcode, truncated: false, texts: texts)
    }

    static func rcodeName(_ rcode: UInt16) -> String {
        switch rcode {
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE \(rcode)"
        }
    }

    static func lowercased(_ label: [UInt8]) -> [UInt8] {
        label.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }

    static func append16(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    /// A bounds-checked cursor over a response.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(DNSMessageError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw DNSMessageError(.malformed, "response ends inside a field") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func u32() throws(DNSMessageError) -> UInt32 {
            let high = try u16()
            return UInt32(high) << 16 | UInt32(try u16())
        }

        /// Reads a (possibly compressed) name as lower-cased labels and moves past it.
        /// Every pointer must point before the previous pointer's target (the first
        /// before itself), so the targets strictly decrease and cannot loop; jumps
        /// are capped as well.
        mutating func name() throws(DNSMessageError) -> [[UInt8]] {
            var labels: [[UInt8]] = []
            var position = offset
            var resume: Int?
            var jumps = 0
            var limit = offset
            var wireLength = 1
            while true {
                guard position < bytes.count else { throw DNSMessageError(.malformed, "name runs past the end of the response") }
                let length = Int(bytes[position])
                switch length & 0xC0 {
                case 0x00:
                    if length == 0 {
                        offset = resume ?? (position + 1)
                        return labels
                    }
                    guard position + 1 + length <= bytes.count else { throw DNSMessageError(.malformed, "label runs past the end of the response") }
                    wireLength += length + 1
                    guard wireLength <= 255 else { throw DNSMessageError(.malformed, "name longer than 255 octets") }
                    labels.append(DNSMessage.lowercased(Array(bytes[(position + 1)...(position + length)])))
                    position += 1 + length
                case 0xC0:
                    guard position + 1 < bytes.count else { throw DNSMessageError(.malformed, "compression pointer cut short") }
                    let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < min(position, limit) else { throw DNSMessageError(.malformed, "compression pointer does not point backwards") }
                    jumps += 1
                    guard jumps <= DNSMessage.maximumPointerJumps else { throw DNSMessageError(.malformed, "too many compression pointers in one name") }
                    if resume == nil { resume = position + 2 }
                    limit = target
                    position = target
                default:
                    throw DNSMessageError(.malformed, "unknown label type")
                }
            }
        }
    }
}

/// The TXT records a response gave for the name asked.
public struct DNSTXTAnswer: Sendable, Hashable {
    /// The response code (0 NOERROR, 3 NXDOMAIN).
    public var rcode: UInt16
    /// The TC bit was set: the records are not read; ask again over TCP.
    public var truncated: Bool
    /// One text per TXT record, its character-strings concatenated.
    public var texts: [String]

    public init(rcode: UInt16, truncated: Bool, texts: [String]) {
        self.rcode = rcode
        self.truncated = truncated
        self.texts = texts
    }
}

/// Why a DNS message was refused.
public struct DNSMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The name to ask for is not a valid DNS name.
        case badName
        /// The response does not parse.
        case malformed
        /// The response is larger than accepted, or claims too many records.
        case tooLarge
        /// The response id is not the query's (a stray or spoofed datagram).
        case wrongID
        /// The message is not a response.
        case notAResponse
        /// The response echoes a different question.
        case wrongQuestion
        /// The server answered with an error code other than NXDOMAIN.
        case serverFailure
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
