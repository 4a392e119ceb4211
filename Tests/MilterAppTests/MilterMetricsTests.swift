@testable import BrokerClient
import FedMailCore
import Foundation
import Milter
import MilterTesting
@testable import MilterApp
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The milter's metrics: what the handler counts for each message (from
/// the decision it logs), the bounded labels, the exposition and `/metrics`.
@Suite("MilterMetrics")
struct MilterMetricsTests {
    /// The value of one series in an exposition (nil when absent).
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    static func messages(_ direction: String, _ decision: String, _ check: String = "none") -> String {
        #"fedmail_milter_messages_total{direction="\#(direction)",decision="\#(decision)",check="\#(check)"}"#
    }

    // MARK: the decision a log line states

    @Test(arguments: [
        ("direction=outbound decision=sealed sealed=1 plain=0 organizations=1 tokens=abc virus=clean", "outbound", "sealed", "none"),
        ("direction=inbound decision=opened signer=B from=b.example tokens=x recipient=org", "inbound", "opened", "none"),
        ("direction=outbound decision=plaintext sealed=0 plain=1 (opportunistic: broker unavailable)", "outbound", "plaintext", "none"),
        ("direction=inbound decision=untouched (plaintext) at end of headers", "inbound", "untouched", "none"),
        ("direction=other decision=untouched", "other", "untouched", "none"),
        ("direction=inbound decision=discard (duplicate of 4F2: sealed by B, already delivered to every recipient) tokens=t", "inbound", "discard", "none"),
        ("direction=outbound decision=split split=ab12 sealed=1 plain=1 tokens=t reinjected=bob@b.example", "outbound", "split", "none"),
        ("direction=inbound decision=reject (tag-mismatch: the AES-GCM tag does not verify)", "inbound", "reject", "tag-mismatch"),
        ("direction=inbound decision=tempfail (revocation-unknown: no current CRL)", "inbound", "tempfail", "revocation-unknown"),
        ("direction=inbound decision=quarantine (token-binding: the token is not named in the control part)", "inbound", "quarantine", "token-binding"),
        ("direction=inbound decision=reject (not sealed, From names b.example, a require partner)", "inbound", "reject", "spoofed-partner"),
        ("direction=outbound decision=tempfail (FedMail: federation required for b.example but the broker is unavailable)", "outbound", "tempfail", "no-token"),
        ("direction=outbound decision=reject (On-ForeignFrom: From mallory@evil.example is not ours)", "outbound", "reject", "foreign-from"),
        ("direction=outbound decision=reject (virus scan before sealing, clamd: infected: Eicar-Signature)", "outbound", "reject", "infected"),
        ("direction=outbound decision=tempfail (virus scan before sealing, clamd: scan failed: connection refused)", "outbound", "tempfail", "scan-error"),
        ("direction=inbound decision=reject signer=Org (Europe) B from=b.example (infected: Eicar (scanned after opening: not trusted))", "inbound", "reject", "infected"),
        ("direction=outbound decision=reject (mixed sealed and plaintext recipients, MixedRecipients reject)", "outbound", "reject", "mixed-recipients"),
        ("direction=outbound decision=tempfail (mixed recipients need Reinject inet:PORT@HOST)", "outbound", "tempfail", "no-reinject"),
        ("direction=outbound decision=tempfail (split=ab12 is being re-injected by another transaction)", "outbound", "tempfail", "split-in-progress"),
        ("direction=outbound decision=tempfail (re-injection of the sealed copy failed: timeout)", "outbound", "tempfail", "reinjection-failed"),
        ("direction=inbound decision=reject (cannot tell the domain of recipient bob%b.example@a.example)", "inbound", "reject", "recipient-unreadable"),
        ("direction=outbound decision=reject (FedMail: cannot seal this message: the header section has a CR that may start a new line (not followed by LF, space or tab) in the Subject field)", "outbound", "reject", "unsealable-original"),
        ("direction=inbound decision=reject (Something Unexpected happened)", "inbound", "reject", "other"),
        ("direction=sideways decision=exploded", "other", "other", "none"),
    ])
    func outcomeOfLogLine(line: String, direction: String, decision: String, check: String) throws {
        let outcome = try #require(MessageOutcome(logText: line))
        #expect(outcome == MessageOutcome(direction: direction, decision: decision, check: check))
    }

    @Test("lines that state no decision, and addresses or domains never become labels")
    func noDecisionNoStrangers() {
        #expect(MessageOutcome(logText: "removed 1 verdict field(s) not added by us") == nil)
        let text = "caf\u{E9} direction=outbound decision=sealed"
        #expect(MessageOutcome.firstRange(of: "decision=", in: text[...]).map { String(text[$0.upperBound...]) } == "sealed")
        #expect(MessageOutcome.firstRange(of: "decisions", in: text[...]) == nil)
        #expect(MessageOutcome.firstRange(of: "", in: text[...]) == nil)
        #expect(MessageOutcome(logText: "internal error: cannot write") == nil)
        let hostile = MessageOutcome(logText: "direction=inbound decision=reject (alice@evil.example: boom)")
        #expect(hostile?.check == "other")
        let long = MessageOutcome(logText: "direction=inbound decision=reject (\(String(repeating: "a", count: 60)): x)")
        #expect(long?.check == "other")
    }

    @Test("the last decision stated stands (a failure accepted by On-ForeignFrom that ends sealed)")
    func lastDecisionStands() {
        let recorder = MessageOutcomeRecorder()
        recorder.note("direction=outbound decision=accept (On-ForeignFrom: not ours)")
        recorder.note("broker lookup for b.example failed: timeout")
        recorder.note("direction=outbound decision=sealed sealed=1")
        #expect(recorder.current == MessageOutcome(direction: "outbound", decision: "sealed"))
    }

    // MARK: the registry

    @Test("every known outcome and family exists at zero before any message")
    func seriesExistAtZero() {
        let text = MilterMetrics(cacheStatistics: LookupCacheStatistics()).exposition()
        for direction in ["inbound", "outbound"] {
            for decision in ["sealed", "opened", "plaintext", "untouched", "split", "discard"] {
                #expect(Self.value(Self.messages(direction, decision), in: text) == 0, "\(direction) \(decision)")
            }
        }
        for series in ["fedmail_milter_seal_duration_seconds_count", "fedmail_milter_open_duration_seconds_count",
                       #"fedmail_milter_broker_lookup_duration_seconds_count{result="ok"}"#,
                       "fedmail_milter_broker_cache_hits_total", "fedmail_milter_broker_cache_misses_total",
                       "fedmail_milter_clamd_scan_duration_seconds_count", #"fedmail_milter_clamd_scans_total{verdict="infected"}"#,
                       #"fedmail_milter_reinjections_total{result="ok"}"#, #"fedmail_milter_duplicates_discarded_total{ledger="replay"}"#,
                       #"fedmail_milter_config_reloads_total{result="refused"}"#, "fedmail_milter_spool_bytes",
                       "fedmail_milter_split_in_doubt_copies", "fedmail_milter_split_in_doubt_bytes"] {
            #expect(Self.value(series, in: text) == 0, "\(series)")
        }
    }

    @Test("records: messages, latencies by decision, scans, re-injections, duplicates, reloads")
    func recording() {
        let metrics = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        metrics.record(MessageOutcome(direction: "outbound", decision: "sealed"), duration: .milliseconds(30))
        metrics.record(MessageOutcome(direction: "outbound", decision: "split"), duration: .milliseconds(40))
        metrics.record(MessageOutcome(direction: "inbound", decision: "opened"), duration: .milliseconds(20))
        metrics.record(MessageOutcome(direction: "inbound", decision: "reject", check: "tag-mismatch"), duration: .milliseconds(5))
        metrics.recordScan(duration: .milliseconds(3), verdict: .infected)
        metrics.recordReinjection(succeeded: true)
        metrics.recordDuplicates(ledger: "replay", count: 2)
        metrics.recordDuplicates(ledger: "anything else", count: 1)
        metrics.recordReload(succeeded: false)
        metrics.recordBrokerLookup(duration: .milliseconds(8), available: true)
        let text = metrics.exposition()
        #expect(Self.value(Self.messages("outbound", "sealed"), in: text) == 1)
        #expect(Self.value(Self.messages("inbound", "reject", "tag-mismatch"), in: text) == 1)
        #expect(Self.value("fedmail_milter_seal_duration_seconds_count", in: text) == 2)
        #expect(Self.value("fedmail_milter_open_duration_seconds_count", in: text) == 1)
        #expect(Self.value(#"fedmail_milter_clamd_scans_total{verdict="infected"}"#, in: text) == 1)
        #expect(Self.value("fedmail_milter_clamd_scan_duration_seconds_count", in: text) == 1)
        #expect(Self.value(#"fedmail_milter_reinjections_total{result="ok"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_milter_duplicates_discarded_total{ledger="replay"}"#, in: text) == 3)
        #expect(Self.value(#"fedmail_milter_config_reloads_total{result="refused"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_milter_broker_lookup_duration_seconds_count{result="ok"}"#, in: text) == 1)
    }

    @Test("broker cache counts are read at scrape time and only ever grow")
    func cacheCounts() {
        let statistics = LookupCacheStatistics()
        let metrics = MilterMetrics(cacheStatistics: statistics)
        statistics.record(hits: 3, misses: 1)
        var text = metrics.exposition()
        #expect(Self.value("fedmail_milter_broker_cache_hits_total", in: text) == 3)
        #expect(Self.value("fedmail_milter_broker_cache_misses_total", in: text) == 1)
        statistics.record(hits: 2, misses: 0)
        text = metrics.exposition()
        #expect(Self.value("fedmail_milter_broker_cache_hits_total", in: text) == 5)
        #expect(Self.value("fedmail_milter_broker_cache_misses_total", in: text) == 1)
    }

    @Test("spool bytes: the regular files in the spool directories")
    func spoolBytes() throws {
        let directory = NSTemporaryDirectory() + "fedmail-spool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(count: 1000).write(to: URL(fileURLWithPath: directory + "/original-1"))
        try Data(count: 234).write(to: URL(fileURLWithPath: directory + "/sealed-1"))
        let metrics = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        metrics.setSpoolDirectories([directory, directory + "/missing"])
        #expect(Self.value("fedmail_milter_spool_bytes", in: metrics.exposition()) == 1234)
    }

    @Test("copies in doubt: counted with their bytes at each scrape, temporary files aside, nothing removed")
    func splitInDoubt() throws {
        let parent = NSTemporaryDirectory() + "fedmail-doubt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let store = try InDoubtSealedCopies(directory: parent + "/copies", retention: 3600)
        let metrics = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        metrics.setSplitInDoubt(store)
        var text = metrics.exposition()
        #expect(Self.value("fedmail_milter_split_in_doubt_copies", in: text) == 0)
        #expect(Self.value("fedmail_milter_split_in_doubt_bytes", in: text) == 0)
        try Data(count: 700).write(to: URL(fileURLWithPath: parent + "/copies/" + String(repeating: "a", count: 64) + ".700.x"))
        try Data(count: 300).write(to: URL(fileURLWithPath: parent + "/copies/" + String(repeating: "b", count: 64) + ".300.y"))
        try Data(count: 50).write(to: URL(fileURLWithPath: parent + "/copies/.keep.abcdef"))
        text = metrics.exposition()
        #expect(Self.value("fedmail_milter_split_in_doubt_copies", in: text) == 2)
        #expect(Self.value("fedmail_milter_split_in_doubt_bytes", in: text) == 1000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent + "/copies").count == 3, "a scrape removes nothing")
        try FileManager.default.removeItem(atPath: parent + "/copies/" + String(repeating: "a", count: 64) + ".700.x")
        #expect(Self.value("fedmail_milter_split_in_doubt_copies", in: metrics.exposition()) == 1)
    }

    @Test("many threads counting at once lose nothing")
    func concurrentCounting() async {
        let metrics = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 {
                        metrics.record(MessageOutcome(direction: "inbound", decision: "opened"), duration: .milliseconds(1))
                    }
                }
            }
        }
        let text = metrics.exposition()
        #expect(Self.value(Self.messages("inbound", "opened"), in: text) == 4000)
        #expect(Self.value("fedmail_milter_open_duration_seconds_count", in: text) == 4000)
    }

    // MARK: through the handler

    @Test("the handler counts what it decides: sealed at A, opened, duplicate and tampered at B, untouched")
    func handlerCounts() throws {
        let a = try Gateway(org: "a", allowlist: ["b.example  require  cert=b.crt"])
        let b = try Gateway(org: "b", allowlist: ["a.example  require  cert=a.crt"])
        let metricsA = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        let metricsB = MilterMetrics(cacheStatistics: LookupCacheStatistics())
        a.metrics = metricsA
        b.metrics = metricsB
        let sealed = try a.submit(Mail.message())
        try #require(sealed.response == .continue)
        _ = try a.submit(Mail.message(to: ["carol@elsewhere.example"]))
        #expect(try b.receive(Mail.relayed(sealed)).response == .continue)
        #expect(try b.receive(Mail.relayed(sealed)).response == .discard)
        var tampered = Mail.relayed(try a.submit(Mail.message()))
        tampered.body = Tamper.flipBase64(tampered.body)
        #expect(try b.receive(tampered).response.status == .reject)

        let textA = metricsA.exposition()
        #expect(Self.value(Self.messages("outbound", "sealed"), in: textA) == 2)
        #expect(Self.value(Self.messages("outbound", "untouched"), in: textA) == 1)
        #expect(Self.value("fedmail_milter_seal_duration_seconds_count", in: textA) == 2)
        // Static partners: no broker lookup is timed.
        #expect(Self.value(#"fedmail_milter_broker_lookup_duration_seconds_count{result="ok"}"#, in: textA) == 0)
        let textB = metricsB.exposition()
        #expect(Self.value(Self.messages("inbound", "opened"), in: textB) == 1)
        #expect(Self.value(Self.messages("inbound", "discard"), in: textB) == 1)
        #expect(Self.value("fedmail_milter_open_duration_seconds_count", in: textB) == 1)
        #expect(Self.value(#"fedmail_milter_duplicates_discarded_total{ledger="replay"}"#, in: textB) == 1)
        let rejected = textB.split(separator: "\n").filter { $0.hasPrefix(#"fedmail_milter_messages_total{direction="inbound",decision="reject""#) }
        #expect(rejected.count == 1, "\(rejected)")
        #expect(rejected.first?.hasSuffix(" 1") == true)
        #expect(rejected.first?.contains(#"check="none""#) == false)
    }

    // MARK: /metrics over HTTP

    @Test(arguments: [
        ("GET /metrics HTTP/1.1", "200 OK", false),
        ("HEAD /metrics HTTP/1.0", "200 OK", true),
        ("GET /metrics?x=1 HTTP/1.1", "200 OK", false),
        ("POST /metrics HTTP/1.1", "405 Method Not Allowed", false),
        ("GET / HTTP/1.1", "404 Not Found", false),
        ("GET /metrics", "400 Bad Request", false),
    ])
    func requests(line: String, status: String, headOnly: Bool) {
        let answer = MetricsRequest.answer(to: line) { "x 1\n" }
        #expect(answer.status == status)
        #expect(answer.headOnly == headOnly)
    }

    @Test("a request head is complete at its empty line, not before")
    func requestHead() {
        #expect(MetricsRequest.head(of: Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)) == nil)
        #expect(MetricsRequest.head(of: Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) == "GET /metrics HTTP/1.1")
        #expect(MetricsRequest.head(of: Array("GET /metrics HTTP/1.0\n\n".utf8)) == "GET /metrics HTTP/1.0")
    }

    @Test("the listener serves the exposition on loopback and refuses other methods")
    func listener() throws {
        let listener = try MetricsListener(listen: MetricsListen(host: "127.0.0.1", port: 0)) { "fedmail_test_total 7\n" }
        defer { listener.shutdown() }
        let port = try #require(Int(listener.localAddress.split(separator: ":").last ?? ""))
        let ok = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.contains("text/plain; version=0.0.4"))
        #expect(ok.hasSuffix("\r\n\r\nfedmail_test_total 7\n"))
        let post = try Self.exchange(port: port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 "))
        let huge = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000))
        #expect(huge.hasPrefix("HTTP/1.1 431 "))
    }

    @Test("a flood of idle connections is cut at 16 open at once; a scrape gets through again once they are gone")
    func listenerConnectionCap() throws {
        let listener = try MetricsListener(listen: MetricsListen(host: "127.0.0.1", port: 0)) { "fedmail_test_total 7\n" }
        defer { listener.shutdown() }
        let port = try #require(Int(listener.localAddress.split(separator: ":").last ?? ""))
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<MetricsListener.maxConnections {
            idle.append(try Self.openConnection(port: port))
        }
        // Let the listener accept them all.
        Thread.sleep(forTimeInterval: 0.3)
        // One more is closed at once, without an answer, long before the 10 s request timeout.
        let started = Date()
        let refused = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n")
        #expect(refused.isEmpty)
        #expect(Date().timeIntervalSince(started) < 3)
        for fd in idle { close(fd) }
        idle.removeAll()
        Thread.sleep(forTimeInterval: 0.3)
        let ok = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// A connected socket to 127.0.0.1:`port`.
    static func openConnection(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd) }
        try #require(connected == 0)
        return fd
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the answer until the server closes.
    static func exchange(port: Int, _ request: String) throws -> String {
        let fd = try openConnection(port: port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
