@testable import FedMailCrypto
import Foundation
import Testing

@Suite struct KeyAndCertificateTests {
    @Test("a private key readable by group or others is refused", arguments: [0o640, 0o604, 0o644, 0o660])
    func insecureKeyFileRefused(mode: Int) throws {
        let scratch = try Scratch()
        let key = try PrivateKey.generate(.p256)
        try key.write(toPath: scratch.file("k.pem"))
        #expect(try PrivateKey.load(path: scratch.file("k.pem")).algorithmDescription == "EC P-256")
        chmod(scratch.file("k.pem"), mode_t(mode))
        do {
            _ = try PrivateKey.load(path: scratch.file("k.pem"))
            Issue.record("loaded a key with mode \(String(mode, radix: 8))")
        } catch {
            #expect(error.code == .insecureKeyFile)
            #expect(error.message.contains("too open"))
        }
    }

    @Test func keyFilesAreWrittenWithMode0600() throws {
        let scratch = try Scratch()
        let path = scratch.file("k.pem")
        _ = FileManager.default.createFile(atPath: path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        try PrivateKey.generate(.p256).write(toPath: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func weakRSAKeyRefused() throws {
        let scratch = try Scratch()
        try Shell.run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", scratch.file("weak.pem"))
        chmod(scratch.file("weak.pem"), 0o600)
        #expect(throws: CryptoError.self) { try PrivateKey.load(path: scratch.file("weak.pem")) }
    }

    @Test func certificateAccessors() throws {
        let pki = try TestPKI.get()
        let cert = pki.ecOrg.certificate
        #expect(cert.dnsNames == ["ec.example"])
        #expect(cert.organization == "ecorg")
        #expect(cert.subjectKeyIdentifier == cert.publicKeyIdentifier)
        #expect(cert.sha256Fingerprint.count == 32)
        let pem = try cert.pemEncoded()
        #expect(try OpenSSLCertificate.parse(pem: pem + pem).count == 2)
        #expect(throws: CryptoError.self) { try OrganizationIdentity(key: pki.rsaOrg.key, certificate: cert).validateMatch() }
    }
}

extension OrganizationIdentity {
    /// Re-checks key/certificate pairing through the loader path.
    func validateMatch() throws {
        let scratch = try Scratch()
        try key.write(toPath: scratch.file("k"))
        _ = scratch.write("c", try certificate.pemEncoded())
        _ = try OrganizationIdentity.load(keyPath: scratch.file("k"), certificatePath: scratch.file("c"))
    }
}
