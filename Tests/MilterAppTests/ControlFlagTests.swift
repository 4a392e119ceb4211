import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Control flags around the seal without a clamd of our own
/// (t-scan-federation.sh scenarios 4 and 5 through Postfix): outbound, the
/// local chain's X-Virus-Status is trusted from an `UpstreamScanHosts`
/// client only and travels in the signed control part; inbound, the
/// partner's clean flag is honored only with trust=virus-scan.
@Suite("control flags from the local chain, honored by trust=")
struct ControlFlagTests {
    /// A trusts the fields of mail from 127.0.0.1 (the harness's internal client).
    static func gateways(trust: String, scanHosts: String? = "UpstreamScanHosts 127.0.0.1") throws -> (a: Gateway, b: Gateway) {
        (try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                     settings: ["UpstreamVirusHeader X-Virus-Status", "UpstreamSpamHeader X-Spam-Status"] + (scanHosts.map { [$0] } ?? [])),
         try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt\(trust)"]))
    }

    @Test("a local client in InternalHosts writes X-Virus-Status: Clean and X-Spam-Status: No itself: not trusted without UpstreamScanHosts")
    func internalHostAloneIsNotEnough() throws {
        // Before: any InternalHosts client (127.0.0.1: a local user, a
        // webmail, sendmail(1)) had its own clean/ham claims signed, and B
        // skipped its scan (attacker review, 2026-12-07).
        let (a, b) = try Self.gateways(trust: "  trust=virus-scan,spam-scan", scanHosts: nil)
        let sealed = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Clean", "X-Spam-Status: No, score=-9.9"]))
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.values(of: "X-Virus-Scanned").isEmpty)
        #expect(opened.result.values(of: "X-Spam-Scanned").isEmpty)
        // A client that is not the listed scanning host is not trusted either.
        let (a2, b2) = try Self.gateways(trust: "  trust=virus-scan,spam-scan", scanHosts: "UpstreamScanHosts 10.0.0.5")
        let opened2 = try b2.receive(Mail.relayed(try a2.submit(Mail.message(extraHeaders: ["X-Virus-Status: Clean"]))))
        #expect(opened2.result.values(of: "X-Virus-Scanned").isEmpty)
    }

    @Test("clean from an UpstreamScanHosts client, trusted by B: B adds X-Virus-Scanned '... trusted by fedmail'")
    func honored() throws {
        let (a, b) = try Self.gateways(trust: "  trust=virus-scan")
        let sealed = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Clean"]))
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        let field = try #require(opened.result.values(of: "X-Virus-Scanned").first)
        #expect(field.hasPrefix("clean by a.example"), "\(field)")
        #expect(field.hasSuffix("trusted by fedmail"), "\(field)")
    }

    @Test("the same partner without trust=virus-scan: no X-Virus-Scanned (B has no scanner, nothing claims a scan)")
    func notTrusted() throws {
        let (a, b) = try Self.gateways(trust: "")
        let sealed = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Clean"]))
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.values(of: "X-Virus-Scanned").isEmpty)
    }

    @Test("X-Virus-Status from an authenticated client that is not an internal host is not trusted: B does not honor it")
    func notFromInternalHost() throws {
        let (a, b) = try Self.gateways(trust: "  trust=virus-scan")
        var envelope = Gateway.internetClient
        envelope.messageMacros["{auth_type}"] = "PLAIN"
        let sealed = try a.harness.run(a.handler(), message: Mail.message(extraHeaders: ["X-Virus-Status: Clean"]), envelope: envelope)
        try #require(sealed.response == .continue)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.response == .continue)
        #expect(opened.result.values(of: "X-Virus-Scanned").isEmpty)
    }

    @Test("X-Virus-Status Infected from the chain: A refuses before sealing, 550 5.7.1 naming the signature (On-Infected default)")
    func infectedUpstream() throws {
        let (a, _) = try Self.gateways(trust: "")
        let run = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Infected (Win.Test.EICAR_HDB-1)"]))
        #expect(run.response.status == .reject)
        #expect(run.response.replyText == "550 5.7.1 FedMail: message infected: Win.Test.EICAR_HDB-1")
        #expect(run.actions.isEmpty)
    }

    /// What the sending gateway leaves out of the seal (its own scan
    /// fields, verdicts under its id) must not be left out of what it
    /// scans: the upstream scanner's fields are read from the message as
    /// received. Here the upstream status field has the same name as the
    /// inbound scan field (accepted by -n), and the engine field is
    /// X-Virus-Scanned, the default InboundVirusHeader.
    @Test("the upstream verdict and engine are read from the message as received, whatever the seal leaves out")
    func upstreamFieldsNamedLikeOurs() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["UpstreamVirusHeader X-Virus-Status", "InboundVirusHeader X-Virus-Status",
                                       "UpstreamScanHosts 127.0.0.1"])
        let infected = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Infected (Win.Test.EICAR_HDB-1)"]))
        #expect(infected.response.status == .reject)
        #expect(infected.response.replyText == "550 5.7.1 FedMail: message infected: Win.Test.EICAR_HDB-1")

        let (a2, b2) = try Self.gateways(trust: "  trust=virus-scan")
        let sealed = try a2.submit(Mail.message(extraHeaders: ["X-Virus-Scanned: clamav-milter 1.4.2 at mx.a.example",
                                                               "X-Virus-Status: Clean"]))
        try #require(sealed.response == .continue)
        let opened = try b2.receive(Mail.relayed(sealed))
        let field = try #require(opened.result.values(of: "X-Virus-Scanned").first)
        #expect(field.contains("clamav-milter 1.4.2"), "\(field)")
    }

    @Test("opened mail: an X-Virus-Scanned forged inside the seal is replaced by B's own")
    func forgedInsideReplaced() throws {
        let (a, b) = try Self.gateways(trust: "  trust=virus-scan")
        let sealed = try a.submit(Mail.message(extraHeaders: ["X-Virus-Status: Clean", "X-Virus-Scanned: clean by nobody (forged)"]))
        let opened = try b.receive(Mail.relayed(sealed))
        let fields = opened.result.values(of: "X-Virus-Scanned")
        #expect(fields.count == 1)
        #expect(fields.first?.hasSuffix("trusted by fedmail") == true)
    }

    @Test("after opening, no FedMail-Token or S/MIME field of the outer message remains")
    func outerFieldsGone() throws {
        let (a, b) = try Self.gateways(trust: "")
        let original = Mail.message()
        let sealed = try a.submit(original)
        let opened = try b.receive(Mail.relayed(sealed))
        #expect(opened.result.values(of: "FedMail-Token").isEmpty)
        #expect(opened.result.values(of: "Content-Type") == original.values(of: "Content-Type"))
        #expect(opened.result.values(of: "Subject") == ["Quarterly figures"])
    }
}
