import FedMailCrypto
import Foundation

/// A test PKI made once per test run with the real `openssl` command line:
/// a broker CA, organization certificates (RSA 3072, P-256) with keys made
/// by FedMailCrypto, and a rogue CA with a look-alike signer.
struct TestPKI: Sendable {
    let directory: String
    let caPath: String
    let ca: [OpenSSLCertificate]
    /// Sender organization, P-256, domains sender.example, mail.sender.example.
    let sender: OrganizationIdentity
    /// Recipient organization with an RSA 3072 key, domain rsa.example.
    let rsaOrg: OrganizationIdentity
    /// Recipient organization with a P-256 key, domain ec.example.
    let ecOrg: OrganizationIdentity
    /// A third organization that is never a recipient, domain other.example.
    let otherOrg: OrganizationIdentity
    /// A signer for sender.example whose certificate chains to a rogue CA.
    let rogueSender: OrganizationIdentity
    /// The paths of each organization's key and certificate.
    let paths: [String: (key: String, cert: String)]

    static let shared: Result<TestPKI, TestFailure> = Result { () throws(TestFailure) in try TestPKI.make() }

    static func get() throws -> TestPKI { try shared.get() }

    static func make() throws(TestFailure) -> TestPKI {
        let dir = NSTemporaryDirectory() + "fedmail-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw TestFailure("mkdir \(dir): \(error)")
        }
        func ca(_ name: String) throws(TestFailure) {
            try Shell.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                          "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt", "-subj", "/O=\(name)/CN=\(name)",
                          "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        }
        try ca("broker-ca")
        try ca("rogue-ca")
        var paths: [String: (key: String, cert: String)] = [:]
        func org(_ name: String, _ type: KeyType, _ domains: [String], ca: String = "broker-ca") throws(TestFailure) -> OrganizationIdentity {
            let keyPath = "\(dir)/\(name).key", csrPath = "\(dir)/\(name).csr", certPath = "\(dir)/\(name).crt"
            do { try PrivateKey.generate(type).write(toPath: keyPath) } catch { throw TestFailure("\(name): \(error)") }
            try Shell.run("openssl", "req", "-new", "-key", keyPath, "-subj", "/O=\(name)/CN=\(name)", "-out", csrPath)
            let usage = type == .rsa3072 ? "digitalSignature,keyEncipherment" : "digitalSignature,keyAgreement"
            let ext = """
            basicConstraints=CA:FALSE
            subjectKeyIdentifier=hash
            authorityKeyIdentifier=keyid
            keyUsage=critical,\(usage)
            extendedKeyUsage=emailProtection
            subjectAltName=\(domains.map { "DNS:\($0)" }.joined(separator: ","))
            """
            _ = FileManager.default.createFile(atPath: "\(dir)/\(name).ext", contents: Data(ext.utf8))
            try Shell.run("openssl", "x509", "-req", "-in", csrPath, "-CA", "\(dir)/\(ca).crt", "-CAkey", "\(dir)/\(ca).key",
                          "-CAcreateserial", "-days", "30", "-extfile", "\(dir)/\(name).ext", "-out", certPath)
            paths[name] = (keyPath, certPath)
            do { return try OrganizationIdentity.load(keyPath: keyPath, certificatePath: certPath) } catch {
                throw TestFailure("\(name): \(error)")
            }
        }
        let sender = try org("sender", .p256, ["sender.example", "mail.sender.example"])
        let rsaOrg = try org("rsaorg", .rsa3072, ["rsa.example"])
        let ecOrg = try org("ecorg", .p256, ["ec.example"])
        let otherOrg = try org("otherorg", .p256, ["other.example"])
        let rogue = try org("rogue", .p256, ["sender.example"], ca: "rogue-ca")
        let caCerts: [OpenSSLCertificate]
        do { caCerts = try OpenSSLCertificate.load(path: "\(dir)/broker-ca.crt") } catch { throw TestFailure("\(error)") }
        return TestPKI(directory: dir, caPath: "\(dir)/broker-ca.crt", ca: caCerts, sender: sender, rsaOrg: rsaOrg,
                       ecOrg: ecOrg, otherOrg: otherOrg, rogueSender: rogue, paths: paths)
    }

    /// A fixed PoP key for pop-mode tests.
    static func popKey(id: String = "jti-pop-1", fill: UInt8 = 0x42) -> ProofOfPossessionKey {
        // 32 bytes, so the initializer cannot fail.
        (try? ProofOfPossessionKey(key: (0..<32).map { UInt8($0) ^ fill }, id: Array(id.utf8)))!
    }
}

/// A failure of test set-up, with what went wrong.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Running command-line tools (openssl) from tests.
enum Shell {
    @discardableResult
    static func run(_ arguments: String..., stdin: Data? = nil) throws(TestFailure) -> Data {
        try run(arguments, stdin: stdin)
    }

    @discardableResult
    static func run(_ arguments: [String], stdin: Data? = nil) throws(TestFailure) -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        do { try process.run() } catch { throw TestFailure("cannot run \(arguments[0]): \(error)") }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
        }
        return output
    }
}

/// A per-test scratch directory, removed at the end.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "fedmail-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
    func read(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: file(name)).map { [UInt8]($0) } }
    /// Names of files left in the directory.
    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
