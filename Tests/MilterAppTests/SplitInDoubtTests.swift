import FedMailCore
import Foundation
import Milter
import MilterTesting
import Logging
import Synchronization
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#endif

/// A split whose re-injection ends in doubt (RFC 1047): the end of data was
/// sent and the service's reply never came, so the copy may be queued. The
/// message is tempfailed and the sealed copy kept; the client's retry re-sends
/// the very same bytes, and the partner's replay cache delivers that seal
/// once. Through real Postfix: t-faults.sh `reinject-lost-reply`.
@Suite("split: a re-injection that ends in doubt")
struct SplitInDoubtTests {
    static let mixed = ["bob@b.example", "nina@plain.example"]

    /// The client's retry of `message`: the MTA adds its own Received field.
    static func retry(of message: MilterMessage, id: String) -> MilterMessage {
        var retry = message
        retry.headers.insert(MilterHeaderField(name: "Received", rawValue: " from client by mx.a.test id \(id)"), at: 0)
        return retry
    }

    static func gateway(_ sink: SMTPSink, settings: [String] = []) throws -> Gateway {
        try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"],
                    settings: ["Reinject inet:\(sink.port)@127.0.0.1"] + settings)
    }

    @Test("the reply to the end of data lost: tempfail, the sealed copy kept; the retry re-sends the same bytes, and B delivers them once")
    func lostReplyResendsTheSameSeal() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .queued])
        let a = try Self.gateway(sink)
        let original = Mail.message(to: Self.mixed)

        let first = try a.submit(original)
        #expect(first.response.status == .tempfail)
        #expect(first.response.replyText == "451 4.3.0 FedMail: re-injection of the sealed copy failed")
        #expect(first.actions.isEmpty)
        #expect(a.splitInDoubt.count == 1)
        #expect(a.splitLedger.count == 0)

        let second = try a.submit(Self.retry(of: original, id: "RETRY1"))
        #expect(second.response == .continue)
        #expect(second.actions == [.deleteRecipient("<bob@b.example>")])
        #expect(second.result.recipients == ["<nina@plain.example>"])
        #expect(a.splitInDoubt.count == 0)
        #expect(a.splitLedger.count == 1)

        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions.map(\.recipients) == [["bob@b.example"], ["bob@b.example"]])
        #expect(!sessions[0].data.isEmpty)
        #expect(sessions[0].data == sessions[1].data)

        // Both copies reach B (the first was queued after all): one seal,
        // delivered once.
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let copies = sessions.map { MilterMessage(eml: $0.data, sender: "<alice@a.example>", recipients: ["<bob@b.example>"]) }
        let opened = try b.receive(copies[0])
        #expect(opened.response == .continue)
        #expect(opened.result.body == original.body)
        #expect(opened.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=pass") == true)
        let again = try b.receive(copies[1])
        #expect(again.response == .discard)
    }

    @Test("the copy is kept before the end of data is sent (a milter killed while it waits for the reply leaves it), and removed once queued")
    func keptBeforeTheEndOfData() throws {
        let kept = Mutex<[Int]>([])
        let directory = Mutex<String?>(nil)
        let sink = try SMTPSink(endOfData: [.queued]) {
            guard let path = directory.withLock({ $0 }) else { return }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            kept.withLock { $0.append(names.filter { !$0.hasPrefix(".") }.count) }
        }
        let a = try Self.gateway(sink)
        directory.withLock { $0 = a.splitInDoubt.directory }
        #expect(try a.submit(Mail.message(to: Self.mixed)).response == .continue)
        _ = sink.allSessions()
        #expect(kept.withLock { $0 } == [1])
        #expect(a.splitInDoubt.count == 0)
    }

    @Test("a restart between the attempts (a new split ledger, the same StateDirectory) still re-sends the kept seal")
    func restartBetweenAttempts() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .queued])
        let a = try Self.gateway(sink)
        let original = Mail.message(to: Self.mixed)
        #expect(try a.submit(original).response.status == .tempfail)
        // The restarted milter: an empty ledger (as after a SIGKILL before its
        // write), the copies on disk.
        let restarted = FederationHandler(
            runtime: a.runtime, spoolDirectory: a.spoolDirectory, replayCache: a.replayCache,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            splitLedger: ReplayCache(maxAge: FederationHandler.splitLedgerRetention, recipientDelimiters: ""),
            splitInDoubt: try InDoubtSealedCopies(directory: a.splitInDoubt.directory, retention: FederationHandler.splitLedgerRetention))
        let run = try a.harness.run(restarted, message: Self.retry(of: original, id: "R1"), envelope: Gateway.internalClient)
        #expect(run.response == .continue)
        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions[0].data == sessions[1].data)
    }

    @Test("the kept copy is re-sent until one attempt is confirmed, across several lost replies")
    func severalLostReplies() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .closeWithoutReply, .queued])
        let a = try Self.gateway(sink)
        let original = Mail.message(to: Self.mixed)
        #expect(try a.submit(original).response.status == .tempfail)
        #expect(try a.submit(Self.retry(of: original, id: "R1")).response.status == .tempfail)
        #expect(a.splitInDoubt.count == 1)
        #expect(try a.submit(Self.retry(of: original, id: "R2")).response == .continue)
        #expect(a.splitInDoubt.count == 0)
        let sessions = sink.allSessions()
        try #require(sessions.count == 3)
        #expect(Set(sessions.map(\.data)).count == 1)
    }

    @Test("a refusal of the end of data (451) is no doubt: nothing kept, the retry seals afresh")
    func refusedEndOfDataIsNotInDoubt() throws {
        let sink = try SMTPSink(endOfData: [.reply("451 4.3.0 queue file write error"), .queued])
        let a = try Self.gateway(sink)
        let original = Mail.message(to: Self.mixed)
        #expect(try a.submit(original).response.status == .tempfail)
        #expect(a.splitInDoubt.count == 0)
        #expect(try a.submit(Self.retry(of: original, id: "R1")).response == .continue)
        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions[0].data != sessions[1].data)
    }

    @Test("a message without a single Message-ID is never re-sent from doubt (another message with the same text would be discarded as a replay)")
    func noMessageIDIsNotKept() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .queued])
        let a = try Self.gateway(sink)
        var alert = Mail.message(to: Self.mixed)
        alert.headers.removeAll { $0.hasName("Message-ID") || $0.hasName("Date") }
        #expect(try a.submit(alert).response.status == .tempfail)
        #expect(a.splitInDoubt.count == 0)
        #expect(try a.submit(Self.retry(of: alert, id: "R1")).response == .continue)
        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions[0].data != sessions[1].data)
    }

    @Test("a kept copy older than half of MaxMessageAge is dropped and the message sealed again")
    func staleCopyIsSealedAgain() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .queued])
        let a = try Self.gateway(sink, settings: ["MaxMessageAge 2h"])
        let original = Mail.message(to: Self.mixed)
        #expect(try a.submit(original).response.status == .tempfail)
        let names = try FileManager.default.contentsOfDirectory(atPath: a.splitInDoubt.directory)
        try #require(names.count == 1)
        // Made 61 minutes ago.
        let path = a.splitInDoubt.directory + "/" + names[0]
        let then = Date().addingTimeInterval(-61 * 60)
        try FileManager.default.setAttributes([.modificationDate: then], ofItemAtPath: path)
        #expect(try a.submit(Self.retry(of: original, id: "R1")).response == .continue)
        #expect(a.splitInDoubt.count == 0)
        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions[0].data != sessions[1].data)
    }

    @Test("the retry of a split whose copy was confirmed does not touch the kept copies of others")
    func otherMessagesAreUntouched() throws {
        let sink = try SMTPSink(endOfData: [.closeWithoutReply, .queued])
        let a = try Self.gateway(sink)
        #expect(try a.submit(Mail.message(to: Self.mixed)).response.status == .tempfail)
        // Another message: sealed afresh, its own copy; the first stays kept.
        #expect(try a.submit(Mail.message(to: Self.mixed)).response == .continue)
        #expect(a.splitInDoubt.count == 1)
        let sessions = sink.allSessions()
        try #require(sessions.count == 2)
        #expect(sessions[0].data != sessions[1].data)
    }
}

@Suite("in-doubt sealed copies: the store")
struct InDoubtSealedCopiesTests {
    static func store(retention: TimeInterval = 3_600, capacity: Int = 1_000, maxBytes: Int = 1 << 30) throws -> (InDoubtSealedCopies, String) {
        let parent = NSTemporaryDirectory() + "fedmail-indoubt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        return (try InDoubtSealedCopies(directory: parent + "/copies", retention: retention, capacity: capacity, maxBytes: maxBytes), parent)
    }

    /// A stand-in for a sealed message, `parent/sealed` holding `text`.
    static func sealedFile(in parent: String, _ text: String) throws -> String {
        let path = parent + "/sealed"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func splitID(_ body: String) throws -> SplitID {
        var message = Mail.message(to: ["bob@b.example", "nina@plain.example"])
        message.body = Array(body.utf8)
        let transaction = try MixedRecipientsTests.transaction(message)
        return try SplitID(transaction: transaction, sealedRecipients: ["<bob@b.example>"])
    }

    @Test("a kept copy is the sealed file's bytes, mode 0600 in a 0700 directory, found by its key")
    func keepAndFind() throws {
        let (store, parent) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let sealed = try Self.sealedFile(in: parent, "sealed bytes\r\n")
        let key = InDoubtSealedCopies.key(split: try Self.splitID("x"), recipients: ["<bob@b.example>"])
        #expect(store.copy(for: key, youngerThan: 60) == nil)
        try store.keep(sealedAt: sealed, for: key)
        let path = try #require(store.copy(for: key, youngerThan: 60))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("sealed bytes\r\n".utf8))
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(store.directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
        store.remove(key)
        #expect(store.copy(for: key, youngerThan: 60) == nil)
        #expect(store.count == 0)
    }

    @Test("a copy shorter than its name records (cut short by a system crash) is dropped, never re-sent")
    func truncatedCopyIsDropped() throws {
        let (store, parent) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let sealed = try Self.sealedFile(in: parent, "sealed bytes\r\n")
        try store.keep(sealedAt: sealed, for: "k1")
        let path = try #require(store.copy(for: "k1", youngerThan: 60))
        #expect(path.contains("/k1.14."))
        #expect(truncate(path, 5) == 0)
        #expect(store.copy(for: "k1", youngerThan: 60) == nil)
        #expect(store.count == 0)
    }

    @Test("a copy of the right size with other bytes (zeros after a crash) is dropped, never re-sent")
    func garbledCopyIsDropped() throws {
        let (store, parent) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let sealed = try Self.sealedFile(in: parent, "sealed bytes\r\n")
        try store.keep(sealedAt: sealed, for: "k1")
        let path = try #require(store.copy(for: "k1", youngerThan: 60))
        try Data(repeating: 0, count: 14).write(to: URL(fileURLWithPath: path))
        #expect(store.copy(for: "k1", youngerThan: 60) == nil)
        #expect(store.count == 0)
    }

    @Test("the byte budget: a copy that would pass it is not kept")
    func byteBudget() throws {
        let (store, parent) = try Self.store(maxBytes: 20)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let sealed = try Self.sealedFile(in: parent, "0123456789ABCDEF")
        try store.keep(sealedAt: sealed, for: "k1")
        #expect(throws: (any Error).self) { try store.keep(sealedAt: sealed, for: "k2") }
        #expect(store.count == 1)
    }

    @Test("a key change (partner's or ours) between attempts makes another file name: the copy is not re-sent")
    func keyChangeIsAnotherName() throws {
        let id = try Self.splitID("x")
        let before = InDoubtSealedCopies.key(split: id, recipients: ["<bob@b.example>"], sealedWith: ["cert:aa", "signer:11"])
        #expect(InDoubtSealedCopies.key(split: id, recipients: ["<bob@b.example>"], sealedWith: ["signer:11", "cert:aa"]) == before)
        #expect(InDoubtSealedCopies.key(split: id, recipients: ["<bob@b.example>"], sealedWith: ["cert:bb", "signer:11"]) != before)
        #expect(InDoubtSealedCopies.key(split: id, recipients: ["<bob@b.example>"], sealedWith: ["cert:aa", "signer:22"]) != before)
    }

    @Test("the key covers the split and its unconfirmed recipients (any spelling)")
    func keyCoverage() throws {
        let one = try Self.splitID("x"), other = try Self.splitID("y")
        let key = InDoubtSealedCopies.key(split: one, recipients: ["<bob@b.example>"])
        #expect(key.count == 64)
        #expect(InDoubtSealedCopies.key(split: one, recipients: ["<BOB@b.example>", "bob@b.example"]) == key)
        #expect(InDoubtSealedCopies.key(split: one, recipients: ["<bob@b.example>", "<bert@b.example>"]) != key)
        #expect(InDoubtSealedCopies.key(split: other, recipients: ["<bob@b.example>"]) != key)
    }

    @Test("copies past the retention and temporary files left by a crash are swept")
    func sweep() throws {
        let (store, parent) = try Self.store(retention: 3_600)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let old = Date().addingTimeInterval(-7_200)
        for name in ["aaaa", ".keep.XXXXXX", "bbbb"] {
            _ = FileManager.default.createFile(atPath: store.directory + "/" + name, contents: Data("x".utf8))
        }
        for name in ["aaaa", ".keep.XXXXXX"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: store.directory + "/" + name)
        }
        let reopened = try InDoubtSealedCopies(directory: store.directory, retention: 3_600)
        #expect(reopened.sweep().count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory) == ["bbbb"])
        #expect(reopened.count == 1)
    }

    @Test("a full store refuses to keep more (the retry then seals again: a possible second copy, never a lost one)")
    func capacity() throws {
        let (store, parent) = try Self.store(capacity: 1)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let sealed = try Self.sealedFile(in: parent, "x")
        try store.keep(sealedAt: sealed, for: "k1")
        #expect(throws: (any Error).self) { try store.keep(sealedAt: sealed, for: "k2") }
        #expect(store.count == 1)
    }

    @Test("a directory open to others is made 0700; a symbolic link in its place is refused, never followed")
    func directoryChecks() throws {
        let parent = NSTemporaryDirectory() + "fedmail-indoubt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try FileManager.default.createDirectory(atPath: parent + "/open", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        _ = try InDoubtSealedCopies(directory: parent + "/open", retention: 60)
        var info = stat()
        #expect(stat(parent + "/open", &info) == 0 && info.st_mode & 0o777 == 0o700)
        try FileManager.default.createDirectory(atPath: parent + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: parent + "/link", withDestinationPath: parent + "/elsewhere")
        #expect(throws: (any Error).self) { try InDoubtSealedCopies(directory: parent + "/link", retention: 60) }
    }
}
