import FedMailCore
import Foundation
import Testing

@Suite("Hex and RFC 3339 formatting")
struct FormattingTests {
    @Test func hexIsLowerCaseAndRoundTrips() {
        let bytes: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]
        #expect(Hex.encode(bytes) == "00017f80abff")
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.decode("00017F80ABff") == bytes)
        #expect(Hex.decode("abc") == nil && Hex.decode("zz") == nil)
    }

    @Test("RFC3339 gives what ISO8601DateFormatter gives, byte for byte")
    func rfc3339MatchesFoundation() {
        #expect(RFC3339.format(secondsSince1970: Int64(1_796_568_169)) == "2026-12-06T14:42:49Z")
        let formatter = ISO8601DateFormatter()
        var samples: [Double] = [0, 1, -1, 59.999, 86_399.5, 86_400, 951_782_400, 951_868_799, 4_107_542_400,
                                 1_700_000_000, 1_796_654_569.75, -2_208_988_800, 253_402_300_799]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            samples.append(Double(seed >> 30) .truncatingRemainder(dividingBy: 8_000_000_000) - 2_000_000_000 + Double(seed & 0xff) / 256)
        }
        for seconds in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: seconds))
            #expect(RFC3339.format(secondsSince1970: seconds) == expected, "\(seconds)")
        }
    }

    @Test func rfc3339NeverTrapsOnStrangeTimes() {
        #expect(RFC3339.format(secondsSince1970: Int64.max) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.format(secondsSince1970: Int64.min) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.format(secondsSince1970: Double.nan) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.format(secondsSince1970: Double.infinity) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.format(secondsSince1970: 1e300) == "9999-12-31T23:59:59Z")
    }
}
