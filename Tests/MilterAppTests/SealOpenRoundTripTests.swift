import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Seal at A, open at B, through two real FederationHandlers driven by the
/// MilterHarness (what t-federation.sh scenario i checks through Postfix).
@Suite("seal-to-open round trip through two handlers")
struct SealOpenRoundTripTests {
    static func gateways() throws -> (a: Gateway, b: Gateway) {
        (try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"]),
         try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"]))
    }

    @Test("A seals for B: the message that leaves A is S/MIME authEnveloped-data, Subject and body hidden, no FedMail-Token")
    func sealedOnTheWire() throws {
        let (a, _) = try Self.gateways()
        let original = Mail.message()
        let sealed = try a.submit(original)
        #expect(sealed.response == .continue)
        let wire = sealed.result
        #expect(wire.values(of: "Content-Type").first?.contains("application/pkcs7-mime") == true)
        #expect(wire.values(of: "Content-Type").first?.lowercased().contains("smime-type=authenveloped-data") == true)
        #expect(wire.values(of: "FedMail-Token").isEmpty)
        #expect(wire.values(of: "Subject") != ["Quarterly figures"])
        #expect(wire.values(of: "From") == ["Alice <alice@a.example>"])
        #expect(!String(decoding: wire.bytes, as: UTF8.self).contains("the figures are attached"))
        #expect(wire.recipients == ["<bob@b.example>"])
        // Every header replaced, then the body: what the bridge sends to the MTA.
        #expect(sealed.actions.contains { if case .replaceBody = $0 { return true } else { return false } })
    }

    @Test("B opens what A sealed: the original header and body exactly, with fedmail=pass at the top")
    func roundTrip() throws {
        let (a, b) = try Self.gateways()
        let original = Mail.message()
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        let delivered = opened.result
        let verdict = try #require(delivered.headers.first)
        #expect(verdict.name == "Authentication-Results")
        #expect(verdict.value.hasPrefix("mx.b.test; fedmail=pass"), "\(verdict.value)")
        #expect(verdict.value.contains("header.from=a.example"))
        #expect(verdict.value.contains("policy.cert=static"))
        #expect(Array(delivered.headers.dropFirst()) == original.headers)
        #expect(delivered.body == original.body)
        #expect(delivered.recipients == ["<bob@b.example>"])
    }

    @Test("the same sealed copy delivered twice to B: the second transaction is discarded (exactly once)")
    func replayDiscarded() throws {
        let (a, b) = try Self.gateways()
        let sealed = try a.submit(Mail.message())
        let first = try b.receive(Mail.relayed(sealed))
        #expect(first.response == .continue)
        let again = try b.receive(Mail.relayed(sealed))
        #expect(again.response == .discard)
        #expect(again.actions.isEmpty)
    }

    @Test("mail tampered with in transit: B rejects it 550 5.7.1 (On-BadSeal default)")
    func tampered() throws {
        let (a, b) = try Self.gateways()
        let sealed = try a.submit(Mail.message())
        var wire = Mail.relayed(sealed)
        wire.body = Tamper.flipBase64(wire.body)
        let run = try b.receive(wire)
        #expect(run.response.status == .reject)
        #expect(run.response.replyText?.hasPrefix("550 5.7.1 FedMail: ") == true, "\(run.response.replyText ?? "-")")
        #expect(run.actions.isEmpty)
    }

    @Test("B opens a copy sealed for two organizations (B and C): one sealed copy serves both")
    func twoOrganizations() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt", "c.example  require  cert=c.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let original = Mail.message(to: ["bob@b.example", "carol@c.example"])
        let sealed = try a.submit(original)
        try #require(sealed.response == .continue)
        #expect(sealed.result.recipients == ["<bob@b.example>", "<carol@c.example>"])
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.body == original.body)
    }
}

enum Tamper {
    /// Changes one base64 character in the middle of a sealed body.
    static func flipBase64(_ body: [UInt8]) -> [UInt8] {
        var bytes = body
        var index = bytes.count / 2
        while index < bytes.count {
            let byte = bytes[index]
            if (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) {
                bytes[index] = byte == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                return bytes
            }
            index += 1
        }
        return bytes
    }
}
