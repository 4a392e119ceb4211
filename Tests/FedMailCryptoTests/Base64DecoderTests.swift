@testable import FedMailCrypto
import Foundation
import Testing

/// The strict streaming base64 decoder both layers of an open go through:
/// it agrees with Foundation on every valid text however it is wrapped and
/// cut into pieces, and refuses what is not base64 — whatever piece the
/// fault falls in.
@Suite struct Base64DecoderTests {
    /// Decodes `text` fed in pieces of the given sizes (cycled).
    static func decode(_ text: [UInt8], pieces: [Int]) throws(Base64Stream.DecodeError) -> [UInt8] {
        let decoder = Base64Decoder()
        var output: [UInt8] = []
        var index = 0
        var piece = 0
        while index < text.count {
            let size = max(1, pieces[piece % pieces.count])
            let end = min(text.count, index + size)
            output += try decoder.update(Array(text[index..<end]))
            index = end
            piece += 1
        }
        return output + (try decoder.finish())
    }

    static func refuses(_ text: String, pieces: [Int] = [1 << 20]) -> Bool {
        do { _ = try decode(Array(text.utf8), pieces: pieces); return false } catch { return true }
    }

    @Test func agreesWithFoundationOnWrappedTextCutAnywhere() throws {
        var generator = SystemRandomNumberGenerator()
        for length in [1, 2, 3, 4, 5, 56, 57, 58, 1000, 4095, 65_537] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let wrappings: [Data.Base64EncodingOptions] = [
                [], [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed],
                [.lineLength64Characters, .endLineWithLineFeed],
            ]
            for options in wrappings {
                let text = [UInt8](Data(bytes).base64EncodedData(options: options)) + Array("\r\n".utf8)
                for pieces in [[1 << 20], [1], [3], [5, 7, 11], [4096], [Int.random(in: 1...300)]] {
                    #expect(try Self.decode(text, pieces: pieces) == bytes, "length \(length), pieces \(pieces)")
                }
            }
        }
    }

    @Test func whiteSpaceInsideAGroupIsIgnored() throws {
        #expect(try Self.decode(Array("SG Vs\r\nbG8\t=\n".utf8), pieces: [2]) == Array("Hello".utf8))
        #expect(try Self.decode(Array("SGVsbG8h".utf8), pieces: [1]) == Array("Hello!".utf8))
        #expect(try Self.decode(Array("SA=\r\n=".utf8), pieces: [1]) == Array("H".utf8))
    }

    @Test func refusesWhatIsNotBase64WhereverItFalls() {
        let cases = [
            "SGVs*G8=",        // outside the alphabet
            "SGVsbG8-",        // '-' (PEM armour) is not base64 here
            "SGVsbG8=SGVs",    // data after the padding
            "SGVsbG8==",       // a third padding character
            "SGVsb===",        // three padding characters
            "SGV=bG8=",        // padding inside the text
            "S===",            // padding after one character
            "====",            // padding alone
            "=",
            "SGVsbG8",         // last group incomplete
            "SGVsbG",          // last group incomplete
            "SGVsb",           // one character over
            "SA=",             // xx= without its second '='
            "",                // no data
            "\r\n \t",         // white space only
            "SGVsbG8=\u{0}",   // NUL after the padding
            "SGVs\u{85}bG8=",  // 8-bit character
        ]
        for text in cases {
            for pieces in [[1 << 20], [1], [3]] {
                #expect(Self.refuses(text, pieces: pieces), "\(text.debugDescription) pieces \(pieces)")
            }
        }
    }

    @Test func paddingEndsTheTextOnlyWithWhiteSpaceAfter() throws {
        #expect(try Self.decode(Array("SGVsbG8=\r\n  \t\r\n".utf8), pieces: [1]) == Array("Hello".utf8))
        #expect(try Self.decode(Array("SGVsbA==\r\n".utf8), pieces: [3]) == Array("Hell".utf8))
        #expect(Self.refuses("SGVsbA==\r\nSGVs"))
    }
}
