import Testing
@testable import FedMailCore

/// Builds DNS responses byte by byte, for the reader's tests.
private struct ResponseBuilder {
    var bytes: [UInt8] = []

    init(id: UInt16, flags: UInt16 = 0x8180, qd: UInt16 = 1, an: UInt16, ns: UInt16 = 0, ar: UInt16 = 0) {
        for value in [id, flags, qd, an, ns, ar] { u16(value) }
    }

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func name(_ text: String) {
        for label in text.split(separator: ".") { bytes.append(UInt8(label.utf8.count)); bytes += Array(label.utf8) }
        bytes.append(0)
    }
    mutating func pointer(_ offset: Int) { bytes += [0xC0 | UInt8(offset >> 8), UInt8(offset & 0xFF)] }
    mutating func question(_ text: String, type: UInt16 = 16) { name(text); u16(type); u16(1) }
    /// The fixed part of a record after its owner name, then `rdata`.
    mutating func record(type: UInt16 = 16, rdata: [UInt8]) {
        u16(type); u16(1); u16(0); u16(300); u16(UInt16(rdata.count)); bytes += rdata
    }
    static func txt(_ strings: String...) -> [UInt8] {
        strings.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }
}

@Suite("DNS wire format (TXT lookups for domain control validation)")
struct DNSMessageTests {
    let qname = "_fedmail-challenge.example.org"

    @Test("a query carries the id, RD, one question for NAME TXT IN and an EDNS(0) OPT record")
    func queryEncoding() throws {
        let query = try DNSMessage.query(id: 0xBEEF, name: "_fedmail-challenge.Example.org.")
        #expect(Array(query[0..<12]) == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        var expected: [UInt8] = []
        for label in ["_fedmail-challenge", "Example", "org"] { expected.append(UInt8(label.count)); expected += Array(label.utf8) }
        expected += [0, 0, 16, 0, 1]
        #expect(Array(query[12..<(12 + expected.count)]) == expected)
        #expect(Array(query[(12 + expected.count)...]) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test("names that cannot be asked are refused before anything is sent")
    func badNames() {
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "") }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "a..b") }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: String(repeating: "a", count: 64) + ".org") }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: Array(repeating: String(repeating: "a", count: 63), count: 5).joined(separator: ".")) }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "bad name.org") }
    }

    @Test("TXT records of the name asked, character-strings concatenated, compressed owner names")
    func readsTXT() throws {
        var response = ResponseBuilder(id: 7, an: 3)
        response.question(qname)
        response.pointer(12); response.record(rdata: ResponseBuilder.txt("abc", "def"))
        response.pointer(12); response.record(rdata: ResponseBuilder.txt("second"))
        response.name("other.example.org"); response.record(rdata: ResponseBuilder.txt("not ours"))
        let answer = try DNSMessage.txtAnswer(response.bytes, id: 7, name: "_FEDMAIL-challenge.example.ORG")
        #expect(answer.texts == ["abcdef", "second"])
        #expect(answer.rcode == 0 && !answer.truncated)
    }

    @Test("a CNAME chain inside the answer is followed; records of other names are ignored")
    func followsCNAME() throws {
        var response = ResponseBuilder(id: 9, an: 3)
        response.question(qname)
        response.pointer(12)
        let target = response.bytes.count + 10
        var cname = ResponseBuilder(id: 0, an: 0); cname.bytes = []; cname.name("challenges.dns-host.example")
        response.record(type: 5, rdata: cname.bytes)
        response.pointer(12); response.record(rdata: ResponseBuilder.txt("at the alias itself"))
        response.pointer(target); response.record(rdata: ResponseBuilder.txt("value"))
        // RFC 1034: a name with a CNAME has no other data; the chain's end is what counts.
        #expect(try DNSMessage.txtAnswer(response.bytes, id: 9, name: qname).texts == ["value"])
    }

    @Test("NXDOMAIN and NODATA are empty answers; SERVFAIL and REFUSED are errors")
    func responseCodes() throws {
        var nx = ResponseBuilder(id: 1, flags: 0x8183, an: 0); nx.question(qname)
        #expect(try DNSMessage.txtAnswer(nx.bytes, id: 1, name: qname).texts.isEmpty)
        var nodata = ResponseBuilder(id: 1, an: 0); nodata.question(qname)
        #expect(try DNSMessage.txtAnswer(nodata.bytes, id: 1, name: qname).texts.isEmpty)
        for flags: UInt16 in [0x8182, 0x8185] {
            var failed = ResponseBuilder(id: 1, flags: flags, an: 0); failed.question(qname)
            #expect(throws: DNSMessageError(.serverFailure, flags == 0x8182 ? "server answered SERVFAIL" : "server answered REFUSED")) {
                try DNSMessage.txtAnswer(failed.bytes, id: 1, name: qname)
            }
        }
    }

    @Test("the TC bit asks for TCP: nothing after the question is read")
    func truncated() throws {
        var response = ResponseBuilder(id: 3, flags: 0x8380, an: 5); response.question(qname)
        let answer = try DNSMessage.txtAnswer(response.bytes, id: 3, name: qname)
        #expect(answer.truncated && answer.texts.isEmpty)
    }

    private func code(_ bytes: [UInt8], id: UInt16 = 5, name: String? = nil) -> DNSMessageError.Code? {
        do {
            _ = try DNSMessage.txtAnswer(bytes, id: id, name: name ?? qname)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("hostile: wrong id, a query instead of a response, another question, several questions")
    func mismatches() {
        var good = ResponseBuilder(id: 5, an: 0); good.question(qname)
        #expect(code(good.bytes, id: 6) == .wrongID)
        var query = ResponseBuilder(id: 5, flags: 0x0100, an: 0); query.question(qname)
        #expect(code(query.bytes) == .notAResponse)
        var other = ResponseBuilder(id: 5, an: 0); other.question("_fedmail-challenge.example.net")
        #expect(code(other.bytes) == .wrongQuestion)
        var otherType = ResponseBuilder(id: 5, an: 0); otherType.question(qname, type: 1)
        #expect(code(otherType.bytes) == .wrongQuestion)
        var two = ResponseBuilder(id: 5, qd: 2, an: 0); two.question(qname); two.question(qname)
        #expect(code(two.bytes) == .wrongQuestion)
        var none = ResponseBuilder(id: 5, qd: 0, an: 0)
        none.u16(0)
        #expect(code(none.bytes) == .wrongQuestion)
    }

    @Test("hostile: truncated anywhere fails closed, never crashes")
    func truncatedAnywhere() {
        var response = ResponseBuilder(id: 5, an: 2)
        response.question(qname)
        response.pointer(12); response.record(rdata: ResponseBuilder.txt("abc"))
        response.name("x.example"); response.record(type: 5, rdata: [1, 0x61, 0])
        #expect(code(response.bytes) == nil)
        for length in 0..<response.bytes.count {
            #expect(code(Array(response.bytes[0..<length])) != nil, "cut at \(length)")
        }
    }

    @Test("hostile: compression pointer loops, self pointers and forward pointers")
    func pointerLoops() {
        // Question name is a pointer to itself.
        var selfPointer = ResponseBuilder(id: 5, an: 0); selfPointer.pointer(12); selfPointer.u16(16); selfPointer.u16(1)
        #expect(code(selfPointer.bytes) == .malformed)
        // Owner name: a label, then a pointer back to that label: a loop.
        var loop = ResponseBuilder(id: 5, an: 1); loop.question(qname)
        let at = loop.bytes.count
        loop.bytes += [1, 0x61]; loop.pointer(at); loop.record(rdata: ResponseBuilder.txt("x"))
        #expect(code(loop.bytes) == .malformed)
        // Two pointers to each other.
        var pair = ResponseBuilder(id: 5, an: 1); pair.question(qname)
        let first = pair.bytes.count
        pair.pointer(first + 2); pair.pointer(first); pair.record(rdata: [])
        #expect(code(pair.bytes) == .malformed)
        // A pointer forward, past the end.
        var forward = ResponseBuilder(id: 5, an: 1); forward.question(qname)
        forward.pointer(4000); forward.record(rdata: [])
        #expect(code(forward.bytes) == .malformed)
        // Reserved label types 01 and 10.
        var reserved = ResponseBuilder(id: 5, an: 1); reserved.question(qname)
        reserved.bytes += [0x40, 0]; reserved.record(rdata: [])
        #expect(code(reserved.bytes) == .malformed)
    }

    @Test("hostile: a chain of many backward pointers is cut off")
    func longPointerChain() {
        var response = ResponseBuilder(id: 5, an: 1)
        response.question(qname)
        // 40 one-label names, each pointing to the previous: a long but loop-free chain.
        var previous = 12
        for _ in 0..<40 {
            let here = response.bytes.count
            response.bytes += [1, 0x61]; response.pointer(previous)
            previous = here
        }
        response.pointer(previous); response.record(rdata: ResponseBuilder.txt("x"))
        #expect(code(response.bytes) == .malformed)
    }

    @Test("hostile: oversize responses, too many records, record data past the end, TXT string past its record")
    func sizes() {
        #expect(code([UInt8](repeating: 0, count: 70_000)) == .tooLarge)
        var many = ResponseBuilder(id: 5, an: 300); many.question(qname)
        #expect(code(many.bytes) == .tooLarge)
        var past = ResponseBuilder(id: 5, an: 1); past.question(qname)
        past.pointer(12); past.u16(16); past.u16(1); past.u16(0); past.u16(0); past.u16(200); past.bytes += [3, 0x61]
        #expect(code(past.bytes) == .malformed)
        var string = ResponseBuilder(id: 5, an: 1); string.question(qname)
        string.pointer(12); string.record(rdata: [10, 0x61, 0x62])
        #expect(code(string.bytes) == .malformed)
        var header = ResponseBuilder(id: 5, an: 0)
        header.bytes = Array(header.bytes[0..<11])
        #expect(code(header.bytes) == .malformed)
    }

    @Test("hostile: CNAME loops and long CNAME chains")
    func cnameLoops() {
        var loop = ResponseBuilder(id: 5, an: 2); loop.question(qname)
        var target = ResponseBuilder(id: 0, an: 0); target.bytes = []; target.name("b.example")
        loop.pointer(12); loop.record(type: 5, rdata: target.bytes)
        var back = ResponseBuilder(id: 0, an: 0); back.bytes = []; back.name(qname)
        loop.name("b.example"); loop.record(type: 5, rdata: back.bytes)
        #expect(code(loop.bytes) == .malformed)
        var chain = ResponseBuilder(id: 5, an: 12); chain.question(qname)
        for hop in 0..<12 {
            var next = ResponseBuilder(id: 0, an: 0); next.bytes = []; next.name("h\(hop + 1).example")
            if hop == 0 { chain.pointer(12) } else { chain.name("h\(hop).example") }
            chain.record(type: 5, rdata: next.bytes)
        }
        #expect(code(chain.bytes) == .malformed)
    }
}
