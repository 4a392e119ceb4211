import FedMailCore
import Foundation
import Reinjection
import Testing
#if canImport(Glibc)
import Glibc
#endif

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "fedmail-reinjection-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// TEST DOUBLE (failure injection): a scripted SMTP server on a loopback
/// port that records what the client sends and answers RCPT as told. The
/// real re-injection path (Postfix smtpd) is exercised by t-federation.sh.
private final class ScriptedSMTPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private var received: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    /// - Parameter dataReply: the reply to the end of data; nil closes the
    ///   connection without one (the reply lost).
    /// - Parameter replyDelay: seconds before each reply (a service that trickles).
    /// - Parameter unixPath: listen on a unix socket there instead of a loopback port.
    init(rcptReply: String, dataReply: String? = "250 2.0.0 Ok: queued", replyDelay: Double = 0,
         unixPath: String? = nil) throws {
        if let unixPath {
            let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            self.listener = listener
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in unixPath.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            port = 0
        } else {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.listener = listener
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
            port = Int(UInt16(bigEndian: address.sin_port))
        }
        let listener = self.listener
        listen(listener, 1)
        Thread.detachNewThread { [self] in
            let fd = accept(listener, nil, nil)
            defer { close(fd); done.signal() }
            func say(_ line: String) {
                if replyDelay > 0 { Thread.sleep(forTimeInterval: replyDelay) }
                _ = Array((line + "\r\n").utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            }
            func readLine() -> String? {
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while recv(fd, &byte, 1, 0) == 1 {
                    received.append(byte)
                    if byte == 10 { return String(decoding: line, as: UTF8.self) }
                    if byte != 13 { line.append(byte) }
                }
                return nil
            }
            say("220 scripted ESMTP")
            var inData = false
            while let line = readLine() {
                if inData {
                    if line == "." {
                        inData = false
                        guard let dataReply else { return }
                        say(dataReply)
                    }
                    continue
                }
                switch line.prefix(4).uppercased() {
                case "EHLO": say("250-scripted"); say("250 8BITMIME")
                case "MAIL": say("250 2.1.0 Ok")
                case "RCPT": say(rcptReply)
                case "DATA": inData = true; say("354 go ahead")
                case "QUIT": say("221 bye"); return
                default: say("502 5.5.2 what")
                }
            }
        }
    }

    func transcript() -> String {
        _ = done.wait(timeout: .now() + 10)
        close(listener)
        return String(decoding: received, as: UTF8.self)
    }
}

@Suite("re-injection SMTP client")
struct ReinjectionClientTests {
    @Test("the sealed copy is sent to the sealed recipients only, dot-stuffed, with CRLF")
    func sends() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\n\n.leading dot\nlast line".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let server = try ScriptedSMTPServer(rcptReply: "250 2.1.5 Ok")
        let client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw.example", timeout: 5)
        let reply = try client.send(messageAt: "\(dir)/m", sender: "<alice@a.example>", recipients: ["<bob@b.example>", "carol@b.example"])
        #expect(reply.hasPrefix("250 2.0.0"))
        let transcript = server.transcript()
        #expect(transcript.contains("EHLO gw.example\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nRCPT TO:<carol@b.example>\r\nDATA\r\n"))
        #expect(transcript.contains("Subject: x\r\n\r\n..leading dot\r\nlast line\r\n.\r\nQUIT\r\n"))
    }

    @Test("over a unix socket (Reinject unix:PATH), the same exchange")
    func unixSocket() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\n\nbody\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let server = try ScriptedSMTPServer(rcptReply: "250 2.1.5 Ok", unixPath: "\(dir)/reinject")
        let spec = try SocketSpec(parsing: "unix:\(dir)/reinject")
        let client = try #require(ReinjectionClient(spec: spec, heloName: "gw.example", timeout: 5))
        #expect(client.endpoint == .unix(path: "\(dir)/reinject"))
        let reply = try client.send(messageAt: "\(dir)/m", sender: "<alice@a.example>", recipients: ["<bob@b.example>"])
        #expect(reply.hasPrefix("250 2.0.0"))
        #expect(server.transcript().contains("RCPT TO:<bob@b.example>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"))
    }

    @Test("a unix socket the milter's user may not connect to fails the re-injection, naming the path")
    func unixSocketRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\n\nbody\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let client = ReinjectionClient(endpoint: .unix(path: "\(dir)/missing"), heloName: "gw", timeout: 2)
        #expect {
            try client.send(messageAt: "\(dir)/m", sender: "a@a.example", recipients: ["b@b.example"])
        } throws: { error in
            "\(error)".contains("\(dir)/missing")
        }
    }

    @Test("a refused recipient fails the re-injection (the message is then tempfailed)")
    func refusedRecipient() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\r\n\r\nbody\r\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let server = try ScriptedSMTPServer(rcptReply: "451 4.3.0 try later")
        let client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw", timeout: 5)
        #expect(throws: ReinjectionError.self) {
            try client.send(messageAt: "\(dir)/m", sender: "a@a.example", recipients: ["b@b.example"])
        }
        _ = server.transcript()
    }

    @Test("the connection lost after the end of data: the outcome is unknown (the copy may be queued)")
    func lostReplyIsInDoubt() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\r\n\r\nbody\r\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let server = try ScriptedSMTPServer(rcptReply: "250 2.1.5 Ok", dataReply: nil)
        let client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw", timeout: 5)
        do {
            try client.send(messageAt: "\(dir)/m", sender: "a@a.example", recipients: ["b@b.example"])
            Issue.record("a lost reply must fail the re-injection")
        } catch {
            #expect(error.outcomeUnknown)
            #expect(error.message.contains("may have queued"))
        }
        _ = server.transcript()
    }

    @Test("a refusal of the end of data, or a refusal before it, is no doubt: the copy was not queued")
    func refusalsAreNotInDoubt() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\r\n\r\nbody\r\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        for (rcpt, data) in [("250 2.1.5 Ok", "451 4.3.0 queue file write error"), ("250 2.1.5 Ok", "554 5.7.1 no"),
                             ("451 4.3.0 try later", "250 2.0.0 Ok")] {
            let server = try ScriptedSMTPServer(rcptReply: rcpt, dataReply: data)
            let client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw", timeout: 5)
            do {
                try client.send(messageAt: "\(dir)/m", sender: "a@a.example", recipients: ["b@b.example"])
                Issue.record("\(rcpt) / \(data) must fail the re-injection")
            } catch {
                #expect(!error.outcomeUnknown, "\(rcpt) / \(data)")
            }
            _ = server.transcript()
        }
    }

    @Test("a reply to the end of data that is not SMTP leaves the outcome unknown")
    func garbageReplyIsInDoubt() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "Subject: x\r\n\r\nbody\r\n".write(toFile: "\(dir)/m", atomically: true, encoding: .utf8)
        let server = try ScriptedSMTPServer(rcptReply: "250 2.1.5 Ok", dataReply: "HTTP/1.1 400 Bad Request")
        let client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw", timeout: 5)
        do {
            try client.send(messageAt: "\(dir)/m", sender: "a@a.example", recipients: ["b@b.example"])
            Issue.record("a garbage reply must fail the re-injection")
        } catch {
            #expect(error.outcomeUnknown)
        }
        _ = server.transcript()
    }

    @Test("nothing listening: a clear error, no hang")
    func nobodyHome() throws {
        let client = ReinjectionClient(host: "127.0.0.1", port: 1, heloName: "gw", timeout: 2)
        #expect(throws: ReinjectionError.self) {
            try client.send(messageAt: "/nonexistent", sender: "a@a.example", recipients: ["b@b.example"])
        }
    }

    @Test("a service that accepts the connection but never answers fails within the timeout, not at Postfix's milter timeout")
    func silentService() throws {
        // TEST DOUBLE (failure injection): a listening socket nobody accepts
        // from; the kernel completes the connection, no greeting ever comes.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 4)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let client = ReinjectionClient(host: "127.0.0.1", port: port, heloName: "gw", timeout: 1)
        do {
            try client.send(messageAt: "/nonexistent", sender: "a@a.example", recipients: ["b@b.example"])
            Issue.record("a silent service must fail the re-injection")
        } catch {
            #expect(error.message.contains("no answer") && error.message.contains("in time"))
        }
    }
}

@Suite("re-injection envelope: which ESMTP parameters travel")
struct ReinjectionEnvelopeTests {
    let envelope = ReinjectionEnvelope(
        sender: "<alice@a.example>", senderParameters: ["SIZE=99", "BODY=8BITMIME", "ret=hdrs", "ENVID=x+2B1", "AUTH=<>"],
        recipients: [.init(address: "<bob@b.example>", parameters: ["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@b.example", "XFOO=1"]),
                     .init(address: "carol@b.example")])

    @Test("a service that answers every step in time but trickles fails within the whole exchange's limit")
    func tricklingService() throws {
        // Each reply well inside the per-reply timeout (5 s), the exchange
        // (greeting, EHLO, MAIL, three RCPT, DATA, end of data) far over the
        // total given here (1 s).
        let server = try ScriptedSMTPServer(rcptReply: "250 2.1.5 Ok", replyDelay: 0.3)
        let directory = temporaryDirectory()
        let path = directory + "/sealed.eml"
        try Data("Subject: s\r\n\r\nbody\r\n".utf8).write(to: URL(fileURLWithPath: path))
        var client = ReinjectionClient(host: "127.0.0.1", port: server.port, heloName: "gw", timeout: 5)
        client.totalTimeout = .seconds(1)
        let started = ContinuousClock.now
        do {
            try client.send(messageAt: path, sender: "a@a.example", recipients: ["b@b.example", "c@b.example", "d@b.example"])
            Issue.record("a trickling service must fail the re-injection")
        } catch {
            #expect(error.message.contains("no answer"), "\(error.message)")
        }
        #expect(ContinuousClock.now - started < .seconds(4), "stopped at the total limit, not after every step's own timeout")
        _ = server.transcript()
    }

    @Test("DSN parameters travel when the service offers DSN; SIZE, BODY, AUTH and unknown ones never")
    func withDSN() throws {
        let commands = try envelope.commands(serviceExtensions: ["DSN", "8BITMIME"])
        #expect(commands.mail == "MAIL FROM:<alice@a.example> ret=hdrs ENVID=x+2B1")
        #expect(commands.recipients == ["RCPT TO:<bob@b.example> NOTIFY=SUCCESS ORCPT=rfc822;bob@b.example", "RCPT TO:<carol@b.example>"])
        #expect(commands.dropped.isEmpty)
    }

    @Test("without DSN at the service the copy goes without them, and they are reported")
    func withoutDSN() throws {
        let commands = try envelope.commands(serviceExtensions: ["8BITMIME"])
        #expect(commands.mail == "MAIL FROM:<alice@a.example>")
        #expect(commands.recipients == ["RCPT TO:<bob@b.example>", "RCPT TO:<carol@b.example>"])
        #expect(commands.dropped == ["ret=hdrs", "ENVID=x+2B1", "NOTIFY=SUCCESS", "ORCPT=rfc822;bob@b.example"])
    }

    @Test("SMTPUTF8: carried with a UTF-8 envelope; a service without it is refused a UTF-8 address, an ASCII envelope goes without it")
    func smtputf8() throws {
        let utf8 = ReinjectionEnvelope(sender: "<jörg@a.example>", senderParameters: ["SMTPUTF8"],
                                       recipients: [.init(address: "<δοκιμή@b.example>")])
        let commands = try utf8.commands(serviceExtensions: ["SMTPUTF8"])
        #expect(commands.mail == "MAIL FROM:<jörg@a.example> SMTPUTF8")
        #expect(commands.recipients == ["RCPT TO:<δοκιμή@b.example>"])
        #expect(throws: ReinjectionError.self) { try utf8.commands(serviceExtensions: ["DSN"]) }
        let ascii = ReinjectionEnvelope(sender: "<a@a.example>", senderParameters: ["SMTPUTF8"], recipients: [.init(address: "<b@b.example>")])
        let plain = try ascii.commands(serviceExtensions: ["DSN"])
        #expect(plain.mail == "MAIL FROM:<a@a.example>")
        #expect(plain.dropped == ["SMTPUTF8"])
        // Without SMTPUTF8 an 8-bit address is the service's to judge, as it was the first hop's.
        let unflagged = ReinjectionEnvelope(sender: "<jörg@a.example>", recipients: [.init(address: "<bob@b.example>")])
        #expect(try unflagged.commands(serviceExtensions: []).mail == "MAIL FROM:<jörg@a.example>")
    }

    @Test("a control character in an address or parameter is refused, never sent as a second command")
    func controlCharacters() {
        let injected = ReinjectionEnvelope(sender: "<a@a.example>\r\nRCPT TO:<x@evil.example>", recipients: [.init(address: "<b@b.example>")])
        #expect(throws: ReinjectionError.self) { try injected.commands(serviceExtensions: ["DSN"]) }
        let parameter = ReinjectionEnvelope(sender: "<a@a.example>", recipients: [.init(address: "<b@b.example>", parameters: ["NOTIFY=SUCCESS\r\nDATA"])])
        #expect(throws: ReinjectionError.self) { try parameter.commands(serviceExtensions: ["DSN"]) }
        let empty = ReinjectionEnvelope(sender: "<a@a.example>", recipients: [.init(address: "<>")])
        #expect(throws: ReinjectionError.self) { try empty.commands(serviceExtensions: []) }
    }

    @Test("the null sender stays the null sender")
    func nullSender() throws {
        let bounce = ReinjectionEnvelope(sender: "<>", recipients: [.init(address: "<b@b.example>")])
        #expect(try bounce.commands(serviceExtensions: []).mail == "MAIL FROM:<>")
    }
}
