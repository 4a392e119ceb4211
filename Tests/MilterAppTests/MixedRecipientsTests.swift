import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#endif

/// `MixedRecipients` split / defer / reject: federated and traditional
/// recipients in one transaction (t-federation.sh scenario d through Postfix).
@Suite("mixed recipients: split, defer, reject")
struct MixedRecipientsTests {
    static let mixed = ["bob@b.example", "nina@plain.example"]

    @Test("reject: 550 5.7.0, nothing sealed or changed")
    func reject() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["MixedRecipients reject"])
        let run = try a.submit(Mail.message(to: Self.mixed))
        #expect(run.response.status == .reject)
        #expect(run.response.replyText == "550 5.7.0 FedMail: sealed and plaintext recipients must be sent separately")
        #expect(run.actions.isEmpty)
    }

    @Test("defer: a recipient of the other class is answered 452 4.5.3 at RCPT; the rest is sealed")
    func deferAtRecipient() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["MixedRecipients defer"])
        let run = try a.submit(Mail.message(to: ["bob@b.example", "nina@plain.example", "bert@b.example"]))
        let answers = run.recipientResponses.map { "\($0.recipient.address) \($0.response.status) \($0.response.replyText ?? "")" }
        #expect(answers == [
            "<bob@b.example> continue ",
            "<nina@plain.example> tempfail 452 4.5.3 FedMail: recipients of another federation class must be sent separately",
            "<bert@b.example> continue ",
        ])
        #expect(run.response == .continue)
        #expect(run.result.recipients == ["<bob@b.example>", "<bert@b.example>"])
        #expect(run.result.values(of: "Content-Type").first?.contains("pkcs7-mime") == true)
    }

    @Test("defer: the first recipient decides the class (traditional first defers the federated one)")
    func deferTraditionalFirst() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"], settings: ["MixedRecipients defer"])
        let original = Mail.message(to: ["nina@plain.example", "bob@b.example"])
        let run = try a.submit(original)
        #expect(run.recipientResponses.map(\.response.status) == [.continue, .tempfail])
        // Nothing to seal is left: accepted at end of headers, no body read.
        #expect(run.stage == .endOfHeaders)
        #expect(run.response == .accept)
        #expect(run.actions.isEmpty)
        #expect(run.result.body == original.body)
    }

    @Test("defer applies to outbound mail only: inbound recipients are never deferred")
    func deferOutboundOnly() throws {
        let b = try Gateway(org: "b", allowlist: ["plain.example  require  cert=a.crt"], settings: ["MixedRecipients defer"])
        let run = try b.receive(Mail.message(from: "x@else.example", to: ["bob@b.example", "pat@plain.example"], sender: "<x@else.example>"))
        #expect(run.recipientResponses.allSatisfy { $0.response == .continue })
    }

    @Test("split without Reinject: 451 4.3.5, nothing changed")
    func splitWithoutReinject() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let run = try a.submit(Mail.message(to: Self.mixed))
        #expect(run.response.status == .tempfail)
        #expect(run.response.replyText == "451 4.3.5 FedMail: mixed recipients but no Reinject service configured")
        #expect(run.actions.isEmpty)
    }

    @Test("split: the sealed copy is re-injected for the federated recipients, who are removed; the others keep the original")
    func split() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let original = Mail.message(to: Self.mixed)
        let run = try a.submit(original)
        let received = try #require(sink.received())
        #expect(run.response == .continue)
        #expect(run.actions == [.deleteRecipient("<bob@b.example>")])
        #expect(run.result.recipients == ["<nina@plain.example>"])
        #expect(run.result.headers == original.headers)
        #expect(run.result.body == original.body)

        #expect(received.sender == "alice@a.example")
        #expect(received.recipients == ["bob@b.example"])
        let copy = MilterMessage(eml: received.data, sender: "<alice@a.example>", recipients: ["<bob@b.example>"])
        #expect(copy.values(of: "Content-Type").first?.contains("pkcs7-mime") == true)

        // The re-injected copy opens at B.
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let opened = try b.receive(copy)
        #expect(opened.response == .continue)
        #expect(opened.result.body == original.body)
        #expect(opened.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=pass") == true)
    }

    @Test("split: a re-injection the service refuses tempfails the whole message (451 4.3.0), no recipient removed")
    func splitReinjectionFails() throws {
        let sink = try SMTPSink(rcptReply: "451 4.3.0 try later")
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let run = try a.submit(Mail.message(to: Self.mixed))
        _ = sink.received()
        #expect(run.response.status == .tempfail)
        #expect(run.response.replyText == "451 4.3.0 FedMail: re-injection of the sealed copy failed")
        #expect(run.actions.isEmpty)
    }

    // MARK: exactly once (issue 15)

    @Test("split retried (a later milter or step tempfailed the first attempt): the sealed copy is not re-injected twice")
    func splitRetryIsNotReinjectedAgain() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let original = Mail.message(to: Self.mixed)
        let first = try a.submit(original)
        #expect(first.response == .continue)
        #expect(try #require(sink.received()).recipients == ["bob@b.example"])
        // The client retries the same message; the MTA adds a new Received field.
        var retry = original
        retry.headers.insert(MilterHeaderField(name: "Received", rawValue: " from client by mx.a.test id RETRY2"), at: 0)
        let second = try a.submit(retry)
        // The sink takes one connection: a second re-injection would have
        // failed to connect and tempfailed. The recipient is removed again.
        #expect(second.response == .continue)
        #expect(second.actions == [.deleteRecipient("<bob@b.example>")])
        #expect(second.result.recipients == ["<nina@plain.example>"])
        #expect(a.splitLedger.count == 1)
    }

    @Test("a message without a Message-ID is split every time (never dropped as a retry), and not recorded")
    func splitWithoutMessageIDIsNotRecorded() throws {
        let first = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(first.port)@127.0.0.1"])
        var alert = Mail.message(to: Self.mixed)
        alert.headers.removeAll { $0.hasName("Message-ID") || $0.hasName("Date") }
        let run = try a.submit(alert)
        #expect(run.response == .continue)
        #expect(try #require(first.received()).recipients == ["bob@b.example"])
        #expect(a.splitLedger.count == 0)
        #expect(a.splitLedger.reservationCount == 0)
    }

    @Test("one recipient in two spellings is re-injected once, not taken for a split in flight")
    func splitSameRecipientTwoSpellings() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let run = try a.submit(Mail.message(to: ["bob@b.example", "\"bob\"@B.example.", "nina@plain.example"]))
        let received = try #require(sink.received())
        #expect(run.response == .continue)
        #expect(received.recipients == ["bob@b.example"])
        #expect(run.result.recipients == ["<nina@plain.example>"])
    }

    @Test("a failure removing the sealed recipients after the split tempfails, even with On-InternalError accept")
    func failureAfterSplitTempfails() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1", "On-InternalError accept"])
        var harness = a.harness
        harness.failsRecipientDeletion = true
        let run = try harness.run(a.handler(), message: Mail.message(to: Self.mixed), envelope: Gateway.internalClient)
        _ = sink.received()
        #expect(run.response.status == .tempfail)
        #expect(run.actions.isEmpty)
        // The copy is queued and recorded: the client's retry finishes the split without a second copy.
        #expect(a.splitLedger.count == 1)
    }

    @Test("the split id ignores Received fields and recipient spelling, and covers sender, headers and body")
    func splitIDCoverage() throws {
        let message = Mail.message(to: Self.mixed)
        func id(_ m: MilterMessage, _ recipients: [String] = ["<bob@b.example>"]) throws -> [UInt8] {
            try SplitID(transaction: Self.transaction(m), sealedRecipients: recipients).bytes
        }
        var received = message
        received.headers.insert(MilterHeaderField(name: "Received", rawValue: " by mx.a.test id XYZ"), at: 0)
        #expect(try id(received) == id(message))
        #expect(try id(message, ["<BOB@b.example>", "bob@b.example"]) == id(message))
        var sender = message
        sender.sender = "<mallory@a.example>"
        #expect(try id(sender) != id(message))
        var subject = message
        subject.headers = subject.headers.map { $0.hasName("Subject") ? MilterHeaderField(name: "Subject", rawValue: " other") : $0 }
        #expect(try id(subject) != id(message))
        var body = message
        body.body += Array("x\r\n".utf8)
        #expect(try id(body) != id(message))
        // Another message (another Message-ID), or other sealed recipients.
        #expect(try id(Mail.message(to: Self.mixed)) != id(message))
        #expect(try id(message, ["<bob@b.example>", "<bert@b.example>"]) != id(message))
    }

    @Test("a split whose re-injection failed is not remembered: the retry re-injects")
    func failedSplitIsReleased() throws {
        let sink = try SMTPSink(rcptReply: "451 4.3.0 try later")
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let message = Mail.message(to: Self.mixed)
        let run = try a.submit(message)
        _ = sink.received()
        #expect(run.response.status == .tempfail)
        #expect(a.splitLedger.count == 0)
        #expect(a.splitLedger.reservationCount == 0)
        let id = try SplitID(transaction: Self.transaction(message), sealedRecipients: ["<bob@b.example>"])
        #expect(a.splitLedger.claim(sealID: id.bytes, recipients: ["<bob@b.example>"], queueID: "Q").fresh == ["<bob@b.example>"])
    }

    @Test("a split in flight elsewhere (same message, not yet queued) tempfails the concurrent attempt")
    func concurrentSplitWaits() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let message = Mail.message(to: Self.mixed)
        let id = try SplitID(transaction: Self.transaction(message), sealedRecipients: ["<bob@b.example>"])
        _ = a.splitLedger.claim(sealID: id.bytes, recipients: ["<bob@b.example>"], queueID: "OTHER")
        let run = try a.submit(message)
        _ = sink.received()
        #expect(run.response.status == .tempfail)
        #expect(run.response.replyText == "451 4.3.0 FedMail: the same message is being split by another transaction, try again")
        #expect(run.actions.isEmpty)
    }

    @Test("the sealed copy keeps the DSN and SMTPUTF8 parameters (RET, ENVID, NOTIFY, ORCPT, SMTPUTF8), not SIZE or BODY")
    func splitCarriesESMTPParameters() throws {
        let sink = try SMTPSink(extensions: ["DSN", "SMTPUTF8", "8BITMIME"])
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let run = try a.submit(Mail.message(to: Self.mixed),
                               senderArguments: ["SIZE=1234", "BODY=8BITMIME", "RET=HDRS", "ENVID=QQ314159", "SMTPUTF8"],
                               recipientArguments: ["<bob@b.example>": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@b.example"],
                                                    "<nina@plain.example>": ["NOTIFY=NEVER"]])
        let received = try #require(sink.received())
        #expect(run.response == .continue)
        #expect(received.commands == [
            "MAIL FROM:<alice@a.example> RET=HDRS ENVID=QQ314159 SMTPUTF8",
            "RCPT TO:<bob@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@b.example",
        ])
    }

    @Test("a service without DSN still gets the copy, without the DSN parameters; without SMTPUTF8 a UTF-8 envelope tempfails")
    func splitParametersAgainstServiceExtensions() throws {
        let plain = try SMTPSink(extensions: ["8BITMIME"])
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(plain.port)@127.0.0.1"])
        let run = try a.submit(Mail.message(to: Self.mixed), senderArguments: ["RET=FULL"],
                               recipientArguments: ["<bob@b.example>": ["NOTIFY=SUCCESS"]])
        let received = try #require(plain.received())
        #expect(run.response == .continue)
        #expect(received.commands == ["MAIL FROM:<alice@a.example>", "RCPT TO:<bob@b.example>"])

        let noUTF8 = try SMTPSink(extensions: ["DSN"])
        let b = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(noUTF8.port)@127.0.0.1"])
        let utf8 = try b.submit(Mail.message(to: Self.mixed, sender: "<jörg@a.example>"), senderArguments: ["SMTPUTF8"])
        _ = noUTF8.received()
        #expect(utf8.response.status == .tempfail)
        #expect(utf8.response.replyText == "451 4.3.0 FedMail: re-injection of the sealed copy failed")
    }

    /// The transaction a handler would see for `message` (for split ids).
    static func transaction(_ message: MilterMessage) throws -> MilterTransaction {
        let session = MilterSession(id: 1, spoolThreshold: 1 << 20, spoolDirectory: NSTemporaryDirectory())
        let transaction = session.beginTransaction(sender: message.sender, arguments: [])
        for recipient in message.recipients { transaction.recordRecipient(MilterRecipient(address: recipient, arguments: [])) }
        for header in message.headers { transaction.recordHeader(header) }
        try transaction.body.append(contentsOf: message.body)
        return transaction
    }

    @Test("local recipients with a federated one and split: the local one keeps the original, the partner gets the sealed copy")
    func localAndFederated() throws {
        let sink = try SMTPSink()
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                            settings: ["Reinject inet:\(sink.port)@127.0.0.1"])
        let run = try a.submit(Mail.message(to: ["colleague@a.example", "bob@b.example"]))
        let received = try #require(sink.received())
        #expect(run.response == .continue)
        #expect(run.result.recipients == ["<colleague@a.example>"])
        #expect(received.recipients == ["bob@b.example"])
    }
}

/// TEST DOUBLE of the re-injection service (a Postfix smtpd without
/// milters in production): an SMTP server on an ephemeral loopback port that
/// takes one connection per entry of `endOfData`, one after the other,
/// records the envelope and the data of each, answers RCPT as told and the
/// end of data as that connection's entry says — including not at all (the
/// reply lost: the copy counts as queued, the connection closes). The real
/// service is exercised by t-federation.sh and t-faults.sh.
final class SMTPSink: @unchecked Sendable {
    struct Received {
        var sender = ""
        var recipients: [String] = []
        var data: [UInt8] = []
        /// The MAIL FROM and RCPT TO commands as sent.
        var commands: [String] = []
        /// The client ended the session with QUIT.
        var finished = false
    }

    /// How a connection answers the end of data.
    enum EndOfData {
        case reply(String)
        /// Closes the connection without a reply, as a service terminated
        /// after it queued the message and before it said so.
        case closeWithoutReply
        static let queued = EndOfData.reply("250 2.0.0 Ok: queued")
    }

    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private var sessions: [Received] = []

    private let extensions: [String]

    /// - Parameter extensions: the EHLO keywords it offers.
    /// Called at each end of data, before the reply.
    private let atEndOfData: (@Sendable () -> Void)?

    init(rcptReply: String = "250 2.1.5 Ok", extensions: [String] = ["8BITMIME"], endOfData: [EndOfData] = [.queued],
         atEndOfData: (@Sendable () -> Void)? = nil) throws {
        self.extensions = extensions
        self.atEndOfData = atEndOfData
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw FixtureError("socket: \(errno)") }
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 1) == 0 else { close(listener); throw FixtureError("bind/listen: \(errno)") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            for answer in endOfData {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                sessions.append(serve(fd, rcptReply: rcptReply, endOfData: answer))
                close(fd)
            }
        }
    }

    private func serve(_ fd: Int32, rcptReply: String, endOfData: EndOfData) -> Received {
        var transcript = Received()
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func say(_ line: String) { _ = Array((line + "\r\n").utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        func readLine() -> [UInt8]? {
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) == 1 {
                if byte == 10 { return line.last == 13 ? Array(line.dropLast()) : line }
                line.append(byte)
            }
            return nil
        }
        func address(_ line: String) -> String {
            guard let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">"), open < close else { return "" }
            return String(line[line.index(after: open)..<close])
        }
        say("220 sink ESMTP")
        var inData = false
        while let bytes = readLine() {
            if inData {
                if bytes == [UInt8(ascii: ".")] {
                    inData = false
                    atEndOfData?()
                    switch endOfData {
                    case .reply(let reply): say(reply)
                    case .closeWithoutReply: return transcript
                    }
                    continue
                }
                // Undo dot-stuffing.
                let line = bytes.first == UInt8(ascii: ".") ? Array(bytes.dropFirst()) : bytes
                transcript.data += line + [13, 10]
                continue
            }
            let line = String(decoding: bytes, as: UTF8.self)
            switch line.prefix(4).uppercased() {
            case "EHLO", "HELO":
                say(extensions.isEmpty ? "250 sink" : "250-sink")
                for (index, keyword) in extensions.enumerated() { say((index == extensions.count - 1 ? "250 " : "250-") + keyword) }
            case "MAIL": transcript.sender = address(line); transcript.commands.append(line); say("250 2.1.0 Ok")
            case "RCPT":
                transcript.commands.append(line)
                if rcptReply.hasPrefix("2") { transcript.recipients.append(address(line)) }
                say(rcptReply)
            case "DATA": inData = true; say("354 go ahead")
            case "QUIT": say("221 bye"); transcript.finished = true; return transcript
            case "RSET": say("250 Ok")
            default: say("502 5.5.2 what")
            }
        }
        return transcript
    }

    /// Every connection's session once the client is done. Waits for the
    /// sessions to end — the client has already returned, so this does not
    /// block for long — and takes no more connections.
    func allSessions() -> [Received] {
        // The client already returned: its connections (if any) were
        // accepted; a listener still waiting for one stops now.
        shutdown(listener, Int32(SHUT_RDWR))
        _ = done.wait(timeout: .now() + 30)
        close(listener)
        return sessions
    }

    /// What the last session received once the client is done (`nil` when
    /// no message was accepted and the session ended with QUIT).
    func received() -> Received? {
        guard let last = allSessions().last, last.finished, !last.data.isEmpty else { return nil }
        return last
    }
}
