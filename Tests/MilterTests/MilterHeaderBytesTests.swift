import Testing
@testable import Milter
#if canImport(Glibc)
import Glibc
#endif

/// Header fields cross the libmilter bridge as bytes: nothing decoded or
/// re-encoded on the way in (xxfi_header) or out (smfi_*header).
@Suite("Milter header bytes")
struct MilterHeaderBytesTests {
    /// Every byte a C string can carry: 0x01-0xFF.
    static let everyByte: [UInt8] = Array(1...255)
    static let highBytes: [UInt8] = Array(0x80...0xFF)

    @Test("a field keeps the exact bytes of name and value; name/value are decoded views")
    func exactBytes() {
        let latin1 = Array(" caf".utf8) + [0xE9]
        let field = MilterHeaderField(nameBytes: Array("X-Note".utf8), rawBytes: latin1)
        #expect(field.rawBytes == latin1)
        #expect(field.nameBytes == Array("X-Note".utf8))
        #expect(field.valueBytes.elementsEqual(Array("caf".utf8) + [0xE9]))
        // The views repair the invalid byte; the bytes do not.
        #expect(field.rawValue == " caf\u{FFFD}")
        #expect(field.value == "caf\u{FFFD}")
        #expect(field.name == "X-Note")
        #expect(field.hasName("x-note"))
        #expect(field != MilterHeaderField(name: "X-Note", rawValue: " caf\u{FFFD}"))

        let high = MilterHeaderField(nameBytes: Array("Subject".utf8), rawBytes: Self.highBytes)
        #expect(high.rawBytes == Self.highBytes)
        #expect(high.valueBytes.elementsEqual(Self.highBytes))
    }

    @Test("the text initializer is the UTF-8 of its text; setting a view replaces the bytes")
    func textInitializer() {
        let text = MilterHeaderField(name: "Subject", rawValue: " Grüße 件名")
        #expect(text == MilterHeaderField(nameBytes: Array("Subject".utf8), rawBytes: Array(" Grüße 件名".utf8)))
        #expect(text.value == "Grüße 件名")
        var field = MilterHeaderField(nameBytes: Array("X".utf8), rawBytes: [0x20, 0xFF])
        field.rawValue = " é"
        #expect(field.rawBytes == [0x20, 0xC3, 0xA9])
        field.name = "Y"
        #expect(field.nameBytes == [0x59])
        #expect(field == MilterHeaderField(name: "Y", rawValue: " é"))
    }

    @Test("value drops one leading space of the bytes, like the text view")
    func valueBytes() {
        #expect(MilterHeaderField(nameBytes: [0x58], rawBytes: [0x20, 0x20, 0xE9]).valueBytes.elementsEqual([0x20, 0xE9]))
        #expect(MilterHeaderField(nameBytes: [0x58], rawBytes: [0xE9]).valueBytes.elementsEqual([0xE9]))
        #expect(MilterHeaderField(nameBytes: [0x58], rawBytes: []).valueBytes.isEmpty)
    }

    @Test("C strings from libmilter are read as bytes: 0x01-0xFF, bare CR, folding LF")
    func fromCString() {
        for bytes in [Self.everyByte, Self.highBytes, Array(" a\rb\n\tc".utf8), Array(" caf".utf8) + [0xE9], []] {
            var c = bytes.map { CChar(bitPattern: $0) } + [0]
            let read = c.withUnsafeMutableBufferPointer { cStringBytes($0.baseAddress!) }
            #expect(read == bytes)
        }
        #expect(cStringBytes(nil) == [])
    }

    @Test("bytes go to libmilter as they are: one NUL terminator, nothing re-encoded")
    func toCString() {
        for bytes in [Self.everyByte, Self.highBytes, Array(" a\rb\n\tc".utf8), []] {
            let passed = withMutableCString(bytes: bytes) { pointer -> [UInt8] in
                Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer) + 1))
            }
            #expect(passed == bytes + [0])
        }
    }

    @Test("wire values: the space after the colon is added only with raw values and only when missing")
    func wireValues() {
        #expect(MilterActionRules.wireValue([0xE9], rawHeaderValues: true) == [0x20, 0xE9])
        #expect(MilterActionRules.wireValue([0x20, 0xE9], rawHeaderValues: true) == [0x20, 0xE9])
        #expect(MilterActionRules.wireValue([0x09, 0xE9], rawHeaderValues: true) == [0x09, 0xE9])
        #expect(MilterActionRules.wireValue([0xE9], rawHeaderValues: false) == [0xE9])
        #expect(MilterActionRules.wireValue([], rawHeaderValues: true) == [])
    }

    @Test("byte values are validated like text: NUL refused, every other byte allowed")
    func validation() {
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "X-A", value: [0x61, 0x00, 0x62]) }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "Bad Name", value: [0x61]) }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "Caf\u{E9}", value: [0x61]) }
        #expect(throws: Never.self) { try MilterActionRules.validate(name: "X-Note", value: Self.everyByte) }
        #expect(throws: Never.self) { try MilterActionRules.validate(name: "X-Note", value: Array(" a\rb\n\tc".utf8)) }
    }
}
