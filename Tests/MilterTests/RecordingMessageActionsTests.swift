import Milter
import MilterTesting
import Testing

/// The recording double refuses what libmilter refuses (the shared
/// MilterActionRules) and applies actions as the MTA does.
@Suite("recording message actions (MilterTesting)")
struct RecordingMessageActionsTests {
    static let all: MilterActions = [.addHeaders, .changeHeaders, .replaceBody, .addRecipients, .deleteRecipients, .quarantine, .changeSender]

    @Test("an action the MTA did not grant throws action-not-negotiated and is not recorded")
    func notNegotiated() {
        let actions = RecordingMessageActions(granted: [.addHeaders], rawHeaderValues: true)
        #expect(throws: MilterError(code: .actionNotNegotiated, message: "delete recipient: action not negotiated with the MTA")) {
            try actions.deleteRecipient("<a@b.example>")
        }
        #expect(actions.recorded.isEmpty)
    }

    @Test("after end of message every action throws, as with libmilter")
    func outsideEndOfMessage() {
        let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        actions.close()
        #expect(throws: MilterError.self) { try actions.addHeader(name: "X-A", value: "1") }
        #expect(throws: MilterError.self) { try actions.progress() }
        #expect(actions.recorded.isEmpty)
    }

    @Test("names, values, occurrences and reasons libmilter refuses are refused", arguments: [
        "bad name", "colon", "nul", "occurrence", "index", "reason",
    ])
    func invalidArguments(kind: String) {
        let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        #expect(throws: MilterError.self) {
            switch kind {
            case "bad name": try actions.addHeader(name: "Bad Name", value: "x")
            case "colon": try actions.insertHeader(at: 0, name: "X-A:", value: "x")
            case "nul": try actions.changeHeader(name: "X-A", occurrence: 1, value: [0x61, 0, 0x62])
            case "occurrence": try actions.deleteHeader(name: "X-A", occurrence: 0)
            case "index": try actions.insertHeader(at: -1, name: "X-A", value: "x")
            default: try actions.quarantine(reason: "two\r\nlines")
            }
        }
        #expect(actions.recorded.isEmpty)
    }

    @Test("actions applied to a message: insert at index, change, delete by occurrence, body replaced in chunks, recipients")
    func apply() throws {
        let message = MilterMessage(eml: Array("A: 1\r\nB: 2\r\nA: 3\r\nSubject: folded\r\n\tline\r\n\r\nbody\r\n".utf8),
                                    sender: "<s@x.example>", recipients: ["<r1@x.example>", "<r2@x.example>"])
        #expect(message.headers.map(\.name) == ["A", "B", "A", "Subject"])
        #expect(message.values(of: "Subject") == ["folded\n\tline"])
        let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        try actions.insertHeader(at: 0, name: "Top", value: "t")
        try actions.changeHeader(name: "a", occurrence: 2, value: "three")
        try actions.deleteHeader(name: "B", occurrence: 1)
        try actions.deleteHeader(name: "Missing", occurrence: 1)
        try actions.addHeader(name: "Z", value: " z")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: MilterActionRules.replacementChunkSize + 10)
        try actions.replaceBody(with: big)
        try actions.deleteRecipient("r1@x.example")
        try actions.addRecipient("<r3@x.example>")
        try actions.quarantine(reason: "held")
        let result = actions.apply(to: message)
        #expect(result.headers.map { "\($0.name):\($0.value)" } == ["Top:t", "A:1", "a:three", "Subject:folded\n\tline", "Z:z"])
        #expect(result.bytes.starts(with: Array("Top: t\r\nA: 1\r\na: three\r\nSubject: folded\r\n\tline\r\nZ: z\r\n\r\n".utf8)))
        #expect(result.body == big)
        #expect(actions.recorded.contains(.replaceBody(big, largestChunk: MilterActionRules.replacementChunkSize)))
        #expect(result.recipients == ["<r2@x.example>", "<r3@x.example>"])
        #expect(result.quarantineReason == "held")
    }

    @Test("an empty replacement empties the body")
    func emptyBody() throws {
        let message = MilterMessage(eml: Array("A: 1\r\n\r\nbody\r\n".utf8), sender: "<>", recipients: ["<r@x.example>"])
        let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        try actions.replaceBody { _ in }
        #expect(actions.apply(to: message).body == [])
    }
}

/// What counts as a change sent to the MTA (``MilterMessageActions/hasSentChanges``):
/// the shared rules both implementations run, so the double answers for the bridge.
@Suite("changes sent to the MTA (MilterActionRules)")
struct SentChangesTests {
    static let all: MilterActions = [.addHeaders, .changeHeaders, .replaceBody, .addRecipients, .deleteRecipients, .quarantine, .changeSender]
    struct WriterFailure: Error {}

    @Test("a header, recipient or sender change counts as sent; quarantine, progress and a refused change do not")
    func whatCounts() throws {
        let changes: [(RecordingMessageActions) throws -> Void] = [
            { try $0.addHeader(name: "X-A", value: "1") }, { try $0.insertHeader(at: 0, name: "X-A", value: "1") },
            { try $0.changeHeader(name: "X-A", occurrence: 1, value: "2") }, { try $0.deleteHeader(name: "X-A", occurrence: 1) },
            { try $0.addRecipient("<a@b.example>") }, { try $0.deleteRecipient("<a@b.example>") }, { try $0.changeSender("<s@b.example>") },
        ]
        for change in changes {
            let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
            #expect(!actions.hasSentChanges)
            try change(actions)
            #expect(actions.hasSentChanges)
        }
        let actions = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        try actions.quarantine(reason: "held")
        try actions.progress()
        #expect(throws: MilterError.self) { try actions.addHeader(name: "Bad Name", value: "x") }
        #expect(!actions.hasSentChanges)
    }

    @Test("a new body: a writer that fails before its first byte sends and records nothing; one that fails after sends what it wrote")
    func bodyReplacement() throws {
        let early = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        #expect(throws: WriterFailure.self) { try early.replaceBody { _ in throw WriterFailure() } }
        #expect(!early.hasSentChanges)
        #expect(early.recorded.isEmpty)

        let late = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        #expect(throws: WriterFailure.self) {
            try late.replaceBody { write in
                try [UInt8](repeating: 0x61, count: 70_000).withUnsafeBytes { try write($0) }
                throw WriterFailure()
            }
        }
        #expect(late.hasSentChanges)
        #expect(late.recorded == [.replaceBody([UInt8](repeating: 0x61, count: 70_000), largestChunk: MilterActionRules.replacementChunkSize)])

        let empty = RecordingMessageActions(granted: Self.all, rawHeaderValues: true)
        try empty.replaceBody { _ in }
        #expect(empty.hasSentChanges)
        #expect(empty.recorded == [.replaceBody([], largestChunk: 0)])
    }

    @Test("the answer to a failed end of message: continue or accept become tempfail once a change was sent; others stand")
    func answerAfterFailure() {
        for response in [MilterResponse.continue, .accept] {
            #expect(MilterActionRules.answerAfterFailure(response, sentChanges: true) == .tempfail)
            #expect(MilterActionRules.answerAfterFailure(response, sentChanges: false) == response)
        }
        for response in [MilterResponse.tempfail, .reject, .discard] {
            #expect(MilterActionRules.answerAfterFailure(response, sentChanges: true) == response)
        }
    }

    /// A handler whose failure policy says continue (On-InternalError accept).
    final class AcceptingAfterAChange: MilterHandler {
        let changeFirst: Bool
        init(changeFirst: Bool) { self.changeFirst = changeFirst }
        func endOfMessage(session: MilterSession, actions: any MilterMessageActions) throws -> MilterResponse {
            if changeFirst { try actions.addHeader(name: "X-Half", value: "done") }
            throw MilterError(code: .invalidArgument, message: "failed (test)")
        }
        func failed(_ error: any Error, stage: MilterStage, session: MilterSession) -> MilterResponse { .continue }
    }

    @Test("a handler that throws after a change is answered tempfail even when its failure policy says continue; before any change, continue stands")
    func bridgeFallback() throws {
        let harness = MilterHarness(requirements: MilterRequirements(actions: [.addHeaders], stages: []), spoolDirectory: "/tmp")
        let message = MilterMessage(eml: Array("A: 1\n\nbody\n".utf8), sender: "<s@x.example>", recipients: ["<r@x.example>"])
        #expect(try harness.run(AcceptingAfterAChange(changeFirst: true), message: message).response.status == .tempfail)
        #expect(try harness.run(AcceptingAfterAChange(changeFirst: false), message: message).response.status == .continue)
    }
}

/// The harness drives a handler through the steps in order, with the bridge's rules.
@Suite("milter harness (MilterTesting)")
struct MilterHarnessTests {
    final class Recorder: MilterHandler {
        var steps: [String] = []
        var rejectRecipient: String?
        func connect(session: MilterSession) throws -> MilterResponse { steps.append("connect \(session.client?.address ?? "-")"); return .continue }
        func helo(_ name: String, session: MilterSession) throws -> MilterResponse { steps.append("helo \(name)"); return .continue }
        func envelopeSender(_ sender: String, arguments: [String], session: MilterSession) throws -> MilterResponse {
            steps.append("mail \(sender) i=\(session.macro("i") ?? "-")"); return .continue
        }
        func envelopeRecipient(_ recipient: MilterRecipient, session: MilterSession) throws -> MilterResponse {
            steps.append("rcpt \(recipient.address)")
            return recipient.mailbox == rejectRecipient ? .reject : .continue
        }
        func header(_ field: MilterHeaderField, session: MilterSession) throws -> MilterResponse { steps.append("header \(field.name)"); return .continue }
        func endOfHeaders(session: MilterSession) throws -> MilterResponse { steps.append("eoh"); return .continue }
        func body(_ chunk: UnsafeRawBufferPointer, session: MilterSession) throws -> MilterResponse { steps.append("body \(chunk.count)"); return .continue }
        func endOfMessage(session: MilterSession, actions: any MilterMessageActions) throws -> MilterResponse {
            guard let transaction = session.transaction else { throw MilterError(code: .invalidArgument, message: "no transaction") }
            steps.append("eom rcpts=\(transaction.recipients.count) headers=\(transaction.headers.count) body=\(transaction.body.count)")
            try actions.addHeader(name: "X-Seen", value: "yes")
            throw MilterError(code: .invalidArgument, message: "after the header")
        }
        func close(session: MilterSession) { steps.append("close") }
    }

    @Test("steps in order, recipients refused at RCPT left out, a throw at end of message goes to the failure policy (tempfail)")
    func drives() throws {
        let requirements = MilterRequirements(actions: [.addHeaders], stages: [.connect, .helo, .envelopeSender, .envelopeRecipient, .endOfHeaders],
                                              macros: [.envelopeSender: ["i"]], rawHeaderValues: true, collectsHeaders: true, collectsBody: true)
        let harness = MilterHarness(requirements: requirements, spoolDirectory: "/tmp", bodyChunkSize: 4)
        let handler = Recorder()
        handler.rejectRecipient = "no@x.example"
        let message = MilterMessage(eml: Array("A: 1\nB: 2\n\n123456\n".utf8), sender: "<s@x.example>",
                                    recipients: ["<r@x.example>", "<no@x.example>"])
        let run = try harness.run(handler, message: message)
        #expect(handler.steps == [
            "connect 127.0.0.1", "helo client.example", "mail <s@x.example> i=TESTQUEUEID", "rcpt <r@x.example>", "rcpt <no@x.example>",
            "header A", "header B", "eoh", "body 4", "body 4", "eom rcpts=1 headers=2 body=8", "close",
        ])
        #expect(run.stage == .endOfMessage)
        #expect(run.response == .tempfail)
        #expect(run.actions == [.addHeader(name: "X-Seen", value: Array("yes".utf8))])
        #expect(run.original.recipients == ["<r@x.example>"])
        #expect(run.recipientResponses.map(\.response) == [.continue, .reject])
    }

    @Test("an MTA that does not offer a required action is refused at negotiation")
    func negotiationRefused() {
        let harness = MilterHarness(requirements: MilterRequirements(actions: [.quarantine], stages: []), spoolDirectory: "/tmp",
                                    offeredActions: 0)
        #expect(throws: MilterNegotiation.Refusal.self) {
            _ = try harness.run(Recorder(), message: MilterMessage(eml: [], sender: "<>", recipients: ["<r@x.example>"]))
        }
    }
}
