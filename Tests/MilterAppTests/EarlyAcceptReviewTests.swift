import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Review of the early accept (issue 16): a message accepted at end of
/// headers must be one the end-of-message path would have passed on
/// unchanged (continue, no action). Each case is run twice through a
/// handler: once as the MTA drives it now (stopping at end of headers when
/// the handler accepts there) and once straight to end of message, as if
/// the early accept did not exist; any message accepted early that end of
/// message would have refused, sealed, opened or edited is a bypass.
@Suite("review: early accept at end of headers vs end of message")
struct EarlyAcceptReviewTests {
    /// One message and how it arrives.
    struct Case: CustomStringConvertible {
        var label: String
        var outbound: Bool
        var sender = "<x@else.example>"
        var recipients: [String]
        var headers: [String]
        var body = "body line\r\n"
        var description: String { label }
    }

    /// Drives `message` to end of message without the end-of-headers step
    /// (the decision the milter made before issue 16), recording what the
    /// bridge would record.
    static func endOfMessageOnly(_ handler: FederationHandler, _ message: MilterMessage, envelope: MilterEnvelope,
                                 spool: String) throws -> (MilterResponse, [RecordedAction]) {
        let requirements = FederationHandler.requirements
        let session = MilterSession(id: 9, spoolThreshold: 1 << 20, spoolDirectory: spool)
        let negotiation = try MilterNegotiation(offeredActions: UInt(UInt32.max), offeredProtocol: UInt(UInt32.max),
                                                requirements: requirements)
        session.recordNegotiation(negotiation)
        session.recordClient(envelope.client)
        session.recordMacros(envelope.connectMacros, stage: .connect)
        _ = try handler.connect(session: session)
        let transaction = session.beginTransaction(sender: message.sender, arguments: [])
        session.recordMacros(envelope.messageMacros, stage: .envelopeSender)
        _ = try handler.envelopeSender(message.sender, arguments: [], session: session)
        for address in message.recipients {
            let recipient = MilterRecipient(address: address, arguments: [])
            let answer = try handler.envelopeRecipient(recipient, session: session)
            if answer.status == .continue { transaction.recordRecipient(recipient) }
        }
        for field in message.headers { transaction.recordHeader(field) }
        try transaction.body.append(contentsOf: message.body)
        let actions = RecordingMessageActions(granted: MilterActions(rawValue: negotiation.actions), rawHeaderValues: true)
        let response = try handler.endOfMessage(session: session, actions: actions)
        actions.close()
        session.endMessage()
        return (response, actions.recorded)
    }

    static func message(_ c: Case) -> MilterMessage {
        let eml = c.headers.joined(separator: "\r\n") + "\r\n\r\n" + c.body
        return MilterMessage(eml: Array(eml.utf8), sender: c.sender, recipients: c.recipients)
    }

    /// Every case where the message is accepted at end of headers although
    /// end of message would have done something (or answered otherwise).
    static func divergences(_ gateway: Gateway, _ cases: [Case]) throws -> [String] {
        var found: [String] = []
        var earlyCount = 0
        for c in cases {
            let message = message(c)
            let envelope = c.outbound ? Gateway.internalClient : Gateway.internetClient
            let early = try gateway.harness.run(gateway.handler(), message: message, envelope: envelope)
            let (eomResponse, eomActions) = try endOfMessageOnly(gateway.handler(), message, envelope: envelope,
                                                                 spool: gateway.spoolDirectory)
            guard early.stage == .endOfHeaders, early.response.status == .accept else { continue }
            earlyCount += 1
            if eomResponse.status != .continue || !eomActions.isEmpty {
                found.append("\(c.label): accepted at end of headers, end of message says \(eomResponse.status) \(eomActions)")
            }
        }
        // The corpus must exercise the early accept at all.
        if earlyCount == 0 { found.append("no case was accepted at end of headers") }
        return found
    }

    static let base = [
        "Received: from client by mx; Mon, 1 Dec 2025 10:00:00 +0000",
        "To: bob@b.example",
        "Subject: hi",
        "Date: Mon, 1 Dec 2025 10:00:00 +0000",
        "Message-ID: <m1@else.example>",
        "MIME-Version: 1.0",
    ]

    @Test("inbound at B: From/Sender naming a require partner, verdict and scan fields, S/MIME Content-Types — early accept never diverges")
    func inboundDifferential() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt", "opp.example  opportunistic"],
                            settings: ["TrustedAuthservIDs trusted.b.test"], brokers: ScriptedBrokers())
        let froms = [
            "From: ceo@a.example", "From: CEO <ceo@A.EXAMPLE>", "From: ceo@a.example.", "FROM: ceo@a.example",
            "from: \"CEO\" <ceo@a.example>", "From: =?utf-8?q?ceo=40a=2Eexample?= <x@else.example>",
            "From: x@else.example (ceo@a.example)", "From: group: ceo@a.example;", "From: x@else.example\n\t,ceo@a.example",
            "From: x@else.example", "Sender: ceo@a.example", "From: ceo@a\u{FF0E}example", "From: ceo@ａ.example",
            "From: x@else.example\r\nFrom: ceo@a.example", "From: <@relay.example:ceo@a.example>",
            "From: ceo@xn--a-example", "From: \"ceo@a.example\" <x@else.example>",
        ]
        let verdicts = [
            "Authentication-Results: mx.b.test; fedmail=pass", "Authentication-Results: MX.B.TEST.; fedmail=pass",
            "authentication-results: (c) \"mx.b.test\" 1; fedmail=pass", "AUTHENTICATION-RESULTS:mx.b.test;fedmail=pass",
            "Authentication-Results:\n\tmx.b.test;\n\tfedmail=pass", "Authentication-Results: trusted.b.test; dkim=pass",
            "X-Virus-Scanned: clean", "x-spam-scanned: ham", "Authentication-Results: mx.b.test\u{200B}; fedmail=pass",
            "Authentication-Results: other.example; fedmail=pass",
        ]
        let contentTypes = [
            "Content-Type: application/pkcs7-mime", "content-type: Application/PKCS7-MIME; smime-type=\"authEnveloped-data\"",
            "Content-Type: application/x-pkcs7-mime; name=smime.p7m", "Content-Type: application/pkcs7-mime (c); smime-type=enveloped-data",
            "Content-Type: text/plain", "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=x",
            "FedMail-Token: v=1; d=b.example; t=x.y.z", "fedmail-token: v=1; d=else.example; t=x",
        ]
        var cases: [Case] = []
        for line in froms + verdicts + contentTypes {
            for rcpts in [["<bob@b.example>"], ["<bob@B.EXAMPLE>"], ["<bob@b.example>", "<x@else.example>"]] {
                var headers = Self.base
                if !line.lowercased().hasPrefix("from") { headers.insert("From: x@else.example", at: 0) }
                headers.append(contentsOf: line.components(separatedBy: "\r\n"))
                cases.append(Case(label: "\(line) to \(rcpts)", outbound: false, recipients: rcpts, headers: headers))
            }
        }
        let diverging = try Self.divergences(b, cases)
        #expect(diverging.isEmpty, "\(diverging.joined(separator: "\n"))")
    }

    @Test("outbound at A: recipient spellings of a require partner — early accept never diverges")
    func outboundDifferential() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt", "opp.example  opportunistic"],
                            brokers: ScriptedBrokers())
        let recipients = [
            "<bob@b.example>", "<bob@B.Example>", "<bob@b.example.>", "bob@b.example", "<@relay.example:bob@b.example>",
            "<\"bob smith\"@b.example>", "<bob@opp.example>", "<colleague@a.example>", "<bob%b.example@a.example>",
            "<b.example!bob@a.example>", "<bob@[192.0.2.1]>", "<bob@b.example >", "< bob@b.example>",
        ]
        var cases: [Case] = []
        for rcpt in recipients {
            for extra in [[], ["Authentication-Results: mx.a.test; fedmail=pass"]] {
                var headers = ["From: alice@a.example"] + Self.base
                headers += extra
                cases.append(Case(label: "\(rcpt) \(extra)", outbound: true, sender: "<alice@a.example>",
                                  recipients: [rcpt], headers: headers))
            }
        }
        let diverging = try Self.divergences(a, cases)
        #expect(diverging.isEmpty, "\(diverging.joined(separator: "\n"))")
    }

    @Test("the oracle is not vacuous: end of message alone rejects a spoofed require partner and deletes a forged verdict")
    func oracleSanity() throws {
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"], brokers: ScriptedBrokers())
        let spoofed = Self.message(Case(label: "spoof", outbound: false, recipients: ["<bob@b.example>"],
                                        headers: ["From: ceo@a.example"] + Self.base))
        let (r1, _) = try Self.endOfMessageOnly(b.handler(), spoofed, envelope: Gateway.internetClient, spool: b.spoolDirectory)
        #expect(r1.status == .reject)
        let forged = Self.message(Case(label: "forged", outbound: false, recipients: ["<bob@b.example>"],
                                       headers: ["From: x@else.example", "Authentication-Results: mx.b.test; fedmail=pass"] + Self.base))
        let (r2, a2) = try Self.endOfMessageOnly(b.handler(), forged, envelope: Gateway.internetClient, spool: b.spoolDirectory)
        #expect(r2.status == .continue)
        #expect(a2 == [.deleteHeader(name: "Authentication-Results", occurrence: 1)])
    }
}
