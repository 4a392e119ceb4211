import FedMailCore
import Foundation
@testable import Scanner
import Testing

@Suite("clamd replies")
struct ClamdReplyTests {
    @Test func okIsClean() {
        #expect(ClamdReply.scanResult("stream: OK", address: "x") == .clean)
    }

    @Test func foundNamesTheSignature() {
        #expect(ClamdReply.scanResult("stream: FedMail.Test.Marker.UNOFFICIAL FOUND", address: "x")
                == .infected(signature: "FedMail.Test.Marker.UNOFFICIAL"))
        #expect(ClamdReply.scanResult("stream: Win.Test.EICAR_HDB-1 FOUND\n", address: "x")
                == .infected(signature: "Win.Test.EICAR_HDB-1"))
    }

    @Test func sizeLimitIsItsOwnNonTransientError() throws {
        guard case .error(let error) = ClamdReply.scanResult("INSTREAM size limit exceeded. ERROR", address: "unix:/c") else {
            Issue.record("not an error"); return
        }
        #expect(error.code == .sizeLimitExceeded)
        #expect(!error.isTransient)
        #expect(error.message.contains("StreamMaxLength"))
    }

    @Test func otherErrorsAndGarbage() {
        guard case .error(let clamd) = ClamdReply.scanResult("Error processing command. ERROR", address: "x"),
              case .error(let garbage) = ClamdReply.scanResult("hello", address: "x"),
              case .error(let empty) = ClamdReply.scanResult("", address: "x") else {
            Issue.record("expected errors"); return
        }
        #expect(clamd.code == .clamdError && clamd.isTransient)
        #expect(garbage.code == .protocolError)
        #expect(empty.code == .protocolError && empty.message.contains("empty"))
        // "FOUND" without a signature is not a verdict.
        #expect(ClamdReply.scanResult("stream:  FOUND", address: "x") != .clean)
    }

    @Test func versionWithAndWithoutDatabase() throws {
        let full = try #require(ClamdVersion(reply: "ClamAV 1.4.6/27400/Mon Nov 23 09:30:00 2026\n"))
        #expect(full.engine == "ClamAV 1.4.6")
        #expect(full.databaseVersion == 27400)
        #expect(full.databaseDate == "Mon Nov 23 09:30:00 2026")
        #expect(full.controlFlagEngine == "ClamAV 1.4.6/27400")
        let bare = try #require(ClamdVersion(reply: "ClamAV 1.4.6"))
        #expect(bare.databaseVersion == nil)
        #expect(bare.controlFlagEngine == "ClamAV 1.4.6")
        #expect(ClamdVersion(reply: "PONG") == nil)
    }
}

@Suite("clamd client failures")
struct ClamdClientFailureTests {
    private func quick() -> ClamdClient.Options {
        var options = ClamdClient.Options()
        options.connectTimeout = .milliseconds(500)
        options.writeTimeout = .milliseconds(400)
        options.replyTimeout = .milliseconds(400)
        return options
    }

    @Test func badAddressIsRefusedUpFront() {
        for text in ["clamd.sock", "tcp:3310", "inet:99999@127.0.0.1", "unix:relative/path"] {
            #expect(throws: ScanError.self) { try ClamdClient(address: text) }
            do { _ = try ClamdClient(address: text) } catch { #expect(error.code == .invalidAddress) }
        }
    }

    @Test func missingUnixSocketIsATransientConnectFailure() throws {
        let client = try ClamdClient(address: "unix:/tmp/fm-no-such-dir-\(UUID().uuidString.prefix(8))/clamd.sock", options: quick())
        guard case .error(let error) = client.scan(bytes: Array("hello".utf8)) else { Issue.record("no error"); return }
        #expect(error.code == .connectFailed)
        #expect(error.isTransient)
        #expect(error.message.contains("No such file"))
        #expect(throws: ScanError.self) { try client.ping() }
    }

    @Test func refusedTCPPortIsAConnectFailure() throws {
        // A port that was free a moment ago and has no listener.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(probe)
        let client = try ClamdClient(address: "inet:\(port)@127.0.0.1", options: quick())
        guard case .error(let error) = client.scan(bytes: [1, 2, 3]) else { Issue.record("no error"); return }
        #expect(error.code == .connectFailed)
        #expect(error.message.contains("refused"))
    }

    @Test func clamdThatNeverAnswersTimesOut() throws {
        let fake = try MisbehavingClamd(.neverAnswer)
        let client = try ClamdClient(address: fake.address, options: quick())
        let started = ContinuousClock.now
        guard case .error(let error) = client.scan(bytes: Array("small message".utf8)) else { Issue.record("no error"); return }
        #expect(error.code == .timedOut)
        #expect(error.isTransient)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(throws: ScanError.self) { try client.version() }
    }

    @Test func clamdThatStopsReadingTimesOutOnWrite() throws {
        let fake = try MisbehavingClamd(.neverAnswer)
        let client = try ClamdClient(address: fake.address, options: quick())
        // Far more than a unix socket buffer holds.
        guard case .error(let error) = client.scan(bytes: [UInt8](repeating: 65, count: 8 << 20)) else {
            Issue.record("no error"); return
        }
        #expect(error.code == .timedOut)
        #expect(error.message.contains("write timeout"))
    }

    @Test func scanTimeoutBoundsTheWholeScan() throws {
        let fake = try MisbehavingClamd(.neverAnswer)
        var options = ClamdClient.Options()
        options.writeTimeout = .seconds(30)
        options.replyTimeout = .seconds(30)
        options.scanTimeout = .milliseconds(500)
        let client = try ClamdClient(address: fake.address, options: options)
        let start = ContinuousClock.now
        guard case .error(let error) = client.scan(bytes: Array("small message".utf8)) else { Issue.record("no error"); return }
        #expect(error.code == .timedOut)
        #expect(error.isTransient)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func clamdThatHangsUpIsConnectionClosed() throws {
        let fake = try MisbehavingClamd(.hangUp)
        let client = try ClamdClient(address: fake.address, options: quick())
        guard case .error(let error) = client.scan(bytes: Array("x".utf8)) else { Issue.record("no error"); return }
        #expect(error.code == .connectionClosed)
        #expect(error.isTransient)
    }

    @Test func garbageAnswerIsAProtocolError() throws {
        let fake = try MisbehavingClamd(.answer("I am not clamd", after: 10))
        let client = try ClamdClient(address: fake.address, options: quick())
        guard case .error(let error) = client.scan(bytes: Array("hello".utf8)) else { Issue.record("no error"); return }
        #expect(error.code == .protocolError)
        #expect(error.message.contains("I am not clamd"))
    }

    @Test func earlyAnswerStopsTheStreamWithTheSizeLimitResult() throws {
        // Stands in for clamd hitting StreamMaxLength after 1 MiB of a 64 MiB stream.
        let fake = try MisbehavingClamd(.answer("INSTREAM size limit exceeded. ERROR", after: 1 << 20))
        var options = quick()
        options.writeTimeout = .seconds(5)
        let client = try ClamdClient(address: fake.address, options: options)
        let chunk = [UInt8](repeating: 66, count: 1 << 20)
        var produced = 0
        let result = client.scan { stream in
            for _ in 0..<64 {
                try stream.write(chunk)
                produced += chunk.count
            }
        }
        guard case .error(let error) = result else { Issue.record("no error: \(result)"); return }
        #expect(error.code == .sizeLimitExceeded)
        #expect(produced < 64 << 20, "the producer was stopped early")
    }

    @Test func clientSideLimitRefusesLargeFilesBeforeConnecting() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fm-scan-\(UUID().uuidString)").path
        try Data(repeating: 1, count: 4096).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        var options = quick()
        options.maximumStreamLength = 1000
        // No clamd at this address: the limit answers first.
        let client = try ClamdClient(address: "unix:/tmp/fm-no-clamd-\(UUID().uuidString.prefix(8)).sock", options: options)
        guard case .error(let error) = client.scan(fileAt: path) else { Issue.record("no error"); return }
        #expect(error.code == .sizeLimitExceeded)
        #expect(!error.isTransient)
    }

    @Test func unreadableFileIsNotTransient() throws {
        let client = try ClamdClient(address: "unix:/tmp/fm-unused.sock", options: quick())
        guard case .error(let error) = client.scan(fileAt: "/nonexistent/message.eml") else { Issue.record("no error"); return }
        #expect(error.code == .unreadableInput)
        #expect(!error.isTransient)
        #expect(error.message.contains("/nonexistent/message.eml"))
    }
}
