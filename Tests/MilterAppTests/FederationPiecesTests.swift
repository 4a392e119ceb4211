import FedMailCore
import Foundation
import Milter
import Testing
@testable import MilterApp
#if canImport(Glibc)
import Glibc
#endif

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "fedmail-federation-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("federation state loading")
struct FederationLoadingTests {
    @Test("a malformed allowlist line is a load error naming the allowlist and its line")
    func malformedAllowlist() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "partner.example require\nbad.example sometimes\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        try "Socket local:\(dir)/s\nFederationAllowlist \(dir)/allow\nMixedRecipients reject\n"
            .write(toFile: "\(dir)/m.conf", atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.check(path: "\(dir)/m.conf") }
        do {
            _ = try ConfigurationLoader.check(path: "\(dir)/m.conf")
        } catch {
            #expect(error.description == "\(dir)/allow:2: unknown policy 'sometimes': use require, opportunistic or never")
        }
    }

    @Test("federated partners without OrgKey/BrokerCA are refused at load")
    func missingKeys() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "partner.example require\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nFederationAllowlist \(dir)/allow\n", path: "m")
        #expect(throws: FederationLoadError.self) {
            _ = try FederationRuntime(configuration: configuration, hostname: "h", connect: false)
        }
        // Open-only gateways need no sealing keys to load the allowlist (anti-spoofing).
        let openOnly = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        let runtime = try FederationRuntime(configuration: openOnly, hostname: "mx.example", connect: false)
        #expect(runtime.allowlist.entries.count == 1)
        #expect(runtime.authservID == "mx.example")
    }

    @Test("a cert= file that is missing, not PEM or a weak key is a load error naming the allowlist line", arguments: [
        ("missing.pem", nil as String?, "cannot read"),
        ("garbage.pem", "not a certificate\n", "PEM"),
        ("weak.pem", "rsa:2048", "3072"),
    ])
    func badStaticCertificate(name: String, content: String?, fragment: String) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if content == "rsa:2048" {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/weak.key", "-out", "\(dir)/\(name)",
                                 "-subj", "/CN=weak.example", "-days", "1"]
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            #expect(openssl.terminationStatus == 0)
        } else if let content {
            try content.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
        }
        try "# partners\nstatic.example require cert=\(name)\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        do {
            _ = try FederationRuntime(configuration: configuration, hostname: "h", connect: false)
            Issue.record("loaded with cert=\(name)")
        } catch {
            let problem = try #require(error.configurationError)
            #expect(problem.file == "\(dir)/allow")
            #expect(problem.line == 2)
            #expect(error.message.contains("cert=\(dir)/\(name)"), "\(error.message)")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test("a reload replaces the allowlist; connections keep the state they started with")
    func reloadAllowlist() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "legacy.example never\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        let configuration = try MilterConfiguration(parsing: "Socket local:\(dir)/s\nMode open\nFederationAllowlist \(dir)/allow\n", path: "m")
        let store = FederationRuntimeStore(try FederationRuntime(configuration: configuration, hostname: "h", connect: false))
        let inFlight = store.current
        try "legacy.example never\npartner.example require\n".write(toFile: "\(dir)/allow", atomically: true, encoding: .utf8)
        store.replace(with: try FederationRuntime(configuration: configuration, hostname: "h", connect: false))
        #expect(store.current.allowlist.entry(for: DomainName("partner.example")!)?.policy == .require)
        #expect(inFlight.allowlist.entry(for: DomainName("partner.example")!) == nil)
    }
}

@Suite("message files")
struct MessageFilesTests {
    @Test("the original is rebuilt from milter header values and the body with CRLF")
    func original() throws {
        #expect(MessageFiles.rawField(MilterHeaderField(name: "Subject", rawValue: " Hello\n\tworld"), rawValues: true)
                == Array("Subject: Hello\r\n\tworld\r\n".utf8))
        #expect(MessageFiles.rawField(MilterHeaderField(name: "X", rawValue: "v"), rawValues: false) == Array("X: v\r\n".utf8))
        let field = MessageHeaderField(name: "Subject", raw: Array("Subject: Hello\r\n\tworld\r\n".utf8))
        #expect(MessageFiles.milterValue(of: field) == Array(" Hello\n\tworld".utf8))
    }
}

/// TEST DOUBLE (failure injection): a scripted SMTP server on a loopback
/// port that records what the client sends and answers RCPT as told. The
/// real re-injection path (Postfix smtpd) is exercised by t-federation.sh.
private final class ScriptedSMTPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private var received: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    init(rcptReply: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 1)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            let fd = accept(listener, nil, nil)
            defer { close(fd); done.signal() }
            func say(_ line: String) { _ = Array((line + "\r\n").utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } }
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
                    if line == "." { inData = false; say("250 2.0.0 Ok: queued") }
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

    @Test("nothing listening: a clear error, no hang")
    func nobodyHome() throws {
        let client = ReinjectionClient(host: "127.0.0.1", port: 1, heloName: "gw", timeout: 2)
        #expect(throws: ReinjectionError.self) {
            try client.send(messageAt: "/nonexistent", sender: "a@a.example", recipients: ["b@b.example"])
        }
    }
}
