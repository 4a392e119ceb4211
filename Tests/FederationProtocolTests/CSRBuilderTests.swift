import Crypto
import CryptoExtras
import FederationProtocol
import Foundation
import Testing
import X509

struct CSRBuilderTests {
    @Test func csrCarriesOrganizationAndDomains() throws {
        let key = P256.Signing.PrivateKey()
        let pem = try CSRBuilder.makeCSR(privateKeyPEM: key.pemRepresentation, organization: "Example Corp",
                                         domains: ["example.com", "Example.NET"])
        let csr = try CertificateSigningRequest(pemEncoded: pem)
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        #expect(csr.subject.organizationNameValue == "Example Corp" && csr.subject.commonNameValue == "Example Corp")
        let requested = try #require(try csr.attributes.extensionRequest)
        let names = try #require(try requested.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.dnsName("example.com"), .dnsName("example.net")])
        if let text = try OpenSSLTool.run(["req", "-noout", "-text", "-verify"], input: pem) {
            #expect(text.contains("O = Example Corp"))
            #expect(text.contains("DNS:example.com, DNS:example.net"))
        }
        #expect(throws: FederationProtocolError.self) {
            try CSRBuilder.makeCSR(privateKeyPEM: key.pemRepresentation, organization: "X", domains: ["bad domain,DNS:evil.example"])
        }
    }

    @Test func withoutDomainsTheCSRRequestsNoExtensions() throws {
        let pem = try CSRBuilder.makeCSR(privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation, organization: "x")
        #expect(try CertificateSigningRequest(pemEncoded: pem).attributes.extensionRequest == nil)
    }

    @Test func internationalizedDomainsAreRequestedAsALabels() throws {
        let pem = try CSRBuilder.makeCSR(privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation, organization: "x",
                                         domains: ["Bücher.Example.", "xn--bcher-kva.example"])
        let requested = try #require(try CertificateSigningRequest(pemEncoded: pem).attributes.extensionRequest)
        #expect(Array(try #require(try requested.extensions.subjectAlternativeNames)) == [.dnsName("xn--bcher-kva.example")])
    }

    @Test func onlyOrganizationKeysSign() throws {
        let weak = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(throws: FederationProtocolError.self) { try CSRBuilder.makeCSR(privateKeyPEM: weak.pemRepresentation, organization: "weak") }
        #expect(throws: FederationProtocolError.self) {
            try CSRBuilder.makeCSR(privateKeyPEM: P384.Signing.PrivateKey().pemRepresentation, organization: "p384")
        }
        #expect(throws: FederationProtocolError.self) { try CSRBuilder.makeCSR(privateKeyPEM: "not a key", organization: "x") }
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits3072)
        let pem = try CSRBuilder.makeCSR(privateKeyPEM: rsa.pemRepresentation, organization: "rsa", domains: ["rsa.example"])
        if let text = try OpenSSLTool.run(["req", "-noout", "-text", "-verify"], input: pem) {
            #expect(text.contains("DNS:rsa.example"))
        }
    }
}

/// Runs the `openssl` command line tool when it is installed.
enum OpenSSLTool {
    /// Standard output and error of `openssl ARGUMENTS` fed `input`, or nil
    /// when there is no openssl on PATH; a failing command fails the test.
    static func run(_ arguments: [String], input: String) throws -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/openssl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        #expect(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " ")): \(text)")
        return text
    }
}
