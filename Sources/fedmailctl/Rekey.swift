import ArgumentParser
import BrokerClient
import FedMailCore
import FedMailCrypto
import FederationProtocol
import Foundation
import SystemIO
import X509

/// `fedmailctl rekey`: a new organization key and its certificate, over mutual TLS.
struct Rekey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Replace the organization key: generate a new one and get its certificate over mutual TLS.",
        discussion: """
        Generates a new key (the type of the current one unless --type says otherwise) into KEY.new (mode 0600), \
        sends a CSR signed by it (proof of possession) to POST /v1/rekey over mutual TLS with the current \
        certificate and key (which proves the request comes from the organization: no operator approval), \
        checks the new certificate (pinned CA, same organization, the new key), then keeps the current key and \
        certificate as KEY.previous and CERT.previous and installs the new ones atomically (same owner and \
        group; key 0600, certificate 0644).

        From then on partners seal to the new key (their cached key containers end within the broker's \
        KeyContainerLifetime); mail sealed to the old key can still arrive for TokenLifetime + MaxMessageAge, \
        so the milter must keep opening with it: set
          PreviousOrgKey          KEY.previous
          PreviousOrgCertificate  CERT.previous
        in fedmail-milter.conf (rekey warns when the configuration does not name them) and remove them after \
        that grace period. The broker revokes the old certificate (superseded).

        --reload-unit fedmail-milter (or --reload-pid-file) makes the milter pick up the new files at once. \
        If the broker cannot be reached, KEY.new is kept (the broker may have rekeyed before the answer was \
        lost; if the old certificate is then refused, enroll KEY.new again as a key replacement). \
        Files: as for `fedmailctl renew` (the milter configuration's OrgKey, OrgCertificate, BrokerURL, \
        BrokerCA, or the options). Exit status: 0 rekeyed, 1 error.
        """)

    @OptionGroup var files: OrgCredentialOptions
    @Option(help: "Type of the new key: rsa3072 or p256 (default: the type of the current key).") var type: String?
    @OptionGroup var reload: ReloadOptions

    func validate() throws {
        if let type, KeyType(rawValue: type) == nil { throw ValidationError("--type must be rsa3072 or p256, not '\(type)'") }
    }

    func run() async throws {
        let resolved: OrgCredentialOptions.Resolved
        let current: Certificate
        do {
            resolved = try files.resolve()
            current = try OrgFiles.certificate(at: resolved.cert)
        } catch {
            fail("\(error)")
        }
        guard let organization = current.subject.commonNameValue else { fail("\(resolved.cert) names no organization") }
        let keyType: KeyType
        if let type, let chosen = KeyType(rawValue: type) {
            keyType = chosen
        } else if case .rsa = OrganizationKeyPolicy.Key(current.publicKey) {
            keyType = .rsa3072
        } else {
            keyType = .p256
        }
        OrgFiles.warnIfExpiring(resolved.cert)
        let newKeyPath = resolved.key + ".new"
        let csr: String
        let newKeyPEM: [UInt8]
        let newKeySHA256: String
        do {
            let key = try PrivateKey.generate(keyType)
            newKeyPEM = try key.pemEncoded()
            try OrgFiles.install(newKeyPEM, at: newKeyPath, mode: 0o600, ownerOf: resolved.key)
            csr = try CSRBuilder.makeCSR(privateKeyPEM: String(decoding: newKeyPEM, as: UTF8.self), organization: organization)
            newKeySHA256 = try Fingerprint.publicKey(try CertificateSigningRequest(pemEncoded: csr).publicKey)
        } catch {
            unlink(newKeyPath)
            fail("cannot make the new key: \(error)")
        }
        let client: BrokerClient
        do {
            client = try BrokerClient(configuration: BrokerClientConfiguration(
                brokerURL: resolved.broker, caPath: resolved.ca, certificatePath: resolved.cert, keyPath: resolved.key))
        } catch {
            unlink(newKeyPath)
            fail("\(error)")
        }
        var status: Int32 = 0
        do {
            let (response, certificate) = try await client.rekey(csr: csr, newKeySHA256: newKeySHA256)
            try OrgFiles.keepPrevious(resolved.key, mode: 0o600)
            try OrgFiles.keepPrevious(resolved.cert, mode: 0o644)
            try OrgFiles.install(newKeyPEM, at: resolved.key, mode: 0o600)
            try OrgFiles.install(Array(response.certificate.utf8), at: resolved.cert, mode: 0o644)
            unlink(newKeyPath)
            print("rekeyed \(response.organization): new key \(newKeySHA256) in \(resolved.key), certificate \(resolved.cert) valid until \(RFC3339.format(secondsSince1970: Int64(certificate.notValidAfter.timeIntervalSince1970))); previous key and certificate kept as \(resolved.key).previous and \(resolved.cert).previous")
            if let federation = resolved.configuration?.federation,
               federation.previousOrgKeyPath != resolved.key + ".previous" || federation.previousOrgCertificatePath != resolved.cert + ".previous" {
                CommandIO.printError("warning: set 'PreviousOrgKey \(resolved.key).previous' and 'PreviousOrgCertificate \(resolved.cert).previous' in the milter configuration so that mail sealed to the old key still opens")
            }
            if !reload.reload() { status = 1 }
        } catch let error as BrokerClientError where error.code == .unavailable {
            CommandIO.printError("\(error); the new key is kept in \(newKeyPath)")
            status = 1
        } catch {
            unlink(newKeyPath)
            CommandIO.printError("\(error)")
            status = 1
        }
        try? await client.shutdown()
        if status != 0 { throw ExitCode(status) }
    }
}
