import ArgumentParser
import BrokerClient
import FedMailCore
import FederationProtocol
import Foundation

/// `fedmailctl lookup`: ask the broker for tokens and key containers, validated.
struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Ask the broker for federation tokens and key containers and print the validated result per domain.",
        discussion: """
        Sends one batched POST /v1/tokens over mutual TLS with the organization certificate and key,
        validates every answer against the pinned broker CA (token signature, issuer, aud, purpose,
        exp; key container chain, validity, SAN and key) and prints a JSON object keyed by domain:

          {"partner.example": {"status": "ok", "claims": {...}, "token": "...", "keyContainer": "-----BEGIN...",
                               "expires": 1700000000, "expiresAt": "2023-11-14T22:13:20Z"},
           "other.example": {"status": "not-federated", ...}}

        With --cache-dir answers are cached there (and re-validated when read back); --cache-only
        answers from the cache without asking the broker. --address fetches the key container for a
        mail address (GET /v1/certificates/ADDRESS) instead. Exit status: 0 when the broker answered
        and every answer validated, 1 otherwise.
        """)

    @Option(help: ArgumentHelp("Broker base URL.", valueName: "URL")) var broker: String
    @Option(help: ArgumentHelp("Pinned broker CA certificate (PEM).", valueName: "CA.crt")) var ca: String
    @Option(help: ArgumentHelp("Organization private key (PEM, mode 0600).", valueName: "ORG.key")) var key: String
    @Option(help: ArgumentHelp("Organization certificate (PEM).", valueName: "ORG.crt")) var cert: String
    @Option(help: "direct (default) or pop.") var mode: String = "direct"
    @Option(help: ArgumentHelp("Cache answers in DIR (0700).", valueName: "DIR")) var cacheDir: String?
    @Flag(help: "Answer from the cache only; fail for domains without a valid cached answer.") var cacheOnly = false
    @Option(help: ArgumentHelp("Fetch the key container for this address instead.", valueName: "ADDRESS")) var address: String?
    @Argument(help: "Recipient domains.") var domains: [String] = []

    func validate() throws {
        guard FederationMode(rawValue: mode) != nil else { throw ValidationError("--mode must be direct or pop") }
        if address == nil && domains.isEmpty { throw ValidationError("give at least one DOMAIN (or --address)") }
    }

    func run() async throws {
        var configuration = BrokerClientConfiguration(brokerURL: broker, caPath: ca, certificatePath: cert, keyPath: key,
                                                      cacheDirectory: cacheDir)
        configuration.requestTimeout = .seconds(15)
        OrgFiles.warnIfExpiring(cert)
        let client: BrokerClient
        do {
            client = try BrokerClient(configuration: configuration)
        } catch {
            fail("\(error)")
        }
        var status: Int32 = 0
        do {
            let output: Data
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            if let address {
                output = try encoder.encode(try await client.keyContainer(forAddress: address))
            } else {
                let selected = FederationMode(rawValue: mode) ?? .direct
                let answers = try await client.lookup(domains: domains, mode: selected, useNetwork: !cacheOnly)
                var printed: [String: Printed] = [:]
                for (domain, answer) in answers {
                    var entry = Printed(answer)
                    if selected == .pop, let envelope = answer.popKey {
                        _ = try PoPKeyEnvelope.open(envelope, privateKeyPEM: try CommandIO.readPrivateKey(key))
                        entry.popKeyOpened = true
                    }
                    printed[domain] = entry
                }
                output = try encoder.encode(printed)
            }
            print(String(decoding: output, as: UTF8.self))
        } catch {
            FileHandle.standardError.write(Data("fedmailctl: \(error)\n".utf8))
            status = 1
        }
        try? await client.shutdown()
        if status != 0 { throw ExitCode(status) }
    }

    /// What `lookup` prints per domain.
    struct Printed: Encodable {
        var status: String
        var claims: FederationClaims?
        var token: String?
        var keyContainer: String?
        var expires: Int64
        var expiresAt: String
        var popKey: String?
        var popKeyOpened: Bool?
        var reason: String?

        init(_ answer: ValidatedLookup) {
            status = answer.status.rawValue
            claims = answer.claims
            token = answer.token
            keyContainer = answer.keyContainer
            expires = answer.expires
            expiresAt = RFC3339.format(secondsSince1970: answer.expires)
            popKey = answer.popKey
            reason = answer.reason
        }
    }
}
