import ArgumentParser
import BrokerClient
import FederationProtocol
import Foundation

/// `fedmailctl enroll`: enroll the organization key with a broker.
struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll this organization's key with a FedMail broker and fetch the organization certificate.",
        discussion: """
        Builds a certificate signing request from the organization key (RSA ≥ 3072 bits or EC P-256),
        submits it with the organization name and mail domains to POST /v1/enrollments (no client
        certificate needed) and prints the enrollment id.

        Domain control: the broker answers one DNS challenge per domain (as ACME dns-01), printed
        as zone-file lines to publish in each domain's zone, for example
          _fedmail-challenge.example.org. 300 IN TXT "kD0c...43 characters"
        The value binds this enrollment, this key and that domain; it is printed again by --id.
        While the broker has not seen every record the enrollment is `pending-dns`; the broker looks
        again each time it is polled (at most every 5 s) and the operator's `fedmail-broker org
        validate ID` or `org approve ID` does too. Once all are seen it is `pending` until the
        operator approves it with `fedmail-broker org approve ID`.

        With --wait, fedmailctl polls until the enrollment is decided, saying when the records have
        been seen, and writes the issued certificate to --cert (default: the key file name with
        .crt). With --id, it does not submit again but fetches the state of an earlier enrollment.

        An organization that is already enrolled does not enroll again: it renews (`fedmailctl renew`) or
        replaces its key (`fedmailctl rekey`) over mutual TLS with its current certificate. An enrollment
        naming an existing organization (say, after the key was lost) is held as `key-replacement`, which
        the operator accepts only with `fedmail-broker org approve --replace-key` after checking out of band
        who asked. With --id, fedmailctl warns when the certificate it writes expires within 7 days.
        The broker CA file (--ca) is the pinned trust anchor: the broker's TLS certificate and the issued
        certificate must chain to it. Exit status: 0 approved (or submitted without --wait), 1 error,
        2 rejected, 3 still pending at the --wait timeout.
        """)

    @Option(help: ArgumentHelp("Broker base URL, e.g. https://broker.example:8443.", valueName: "URL")) var broker: String
    @Option(help: ArgumentHelp("Pinned broker CA certificate (PEM).", valueName: "CA.crt")) var ca: String
    @Option(help: ArgumentHelp("Organization private key (PEM, mode 0600).", valueName: "ORG.key")) var key: String
    @Option(help: ArgumentHelp("Organization name (letters, digits, '.', '_', '-').", valueName: "NAME")) var org: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Mail domain(s) the organization serves (repeatable).", valueName: "D"))
    var domain: [String] = []
    @Flag(help: "Wait until the enrollment is approved or rejected and write the certificate.") var wait = false
    @Option(help: ArgumentHelp("Where to write the certificate (default: KEY with .crt).", valueName: "FILE")) var cert: String?
    @Option(help: ArgumentHelp("Fetch the state of an earlier enrollment instead of submitting.", valueName: "ID")) var id: String?
    @Option(help: "Seconds to wait with --wait.") var timeout: Int = 600
    @Option(help: "Seconds between polls with --wait.") var interval: Int = 2

    func validate() throws {
        if id == nil && domain.isEmpty { throw ValidationError("give at least one --domain") }
        if timeout < 1 || interval < 1 { throw ValidationError("--timeout and --interval must be positive") }
    }

    func run() async throws {
        let client: BrokerClient
        do {
            client = try BrokerClient(configuration: BrokerClientConfiguration(brokerURL: broker, caPath: ca))
        } catch {
            fail("\(error)")
        }
        defer { Task { try? await client.shutdown() } }
        let status = await runEnrollment(client)
        try? await client.shutdown()
        if status != 0 { throw ExitCode(status) }
    }

    func runEnrollment(_ client: BrokerClient) async -> Int32 {
        do {
            var state: EnrollmentResponse
            if let id {
                state = try await client.enrollment(id: id)
            } else {
                let keyPEM = try CommandIO.readPrivateKey(key)
                let csr = try CSRBuilder.makeCSR(privateKeyPEM: keyPEM, organization: org, domains: domain)
                state = try await client.enroll(EnrollmentRequest(organization: org, domains: domain, csr: csr))
                print("enrollment \(state.id) submitted for \(state.organization) (\(state.domains.joined(separator: ", "))): \(state.status)")
            }
            printChallenges(state)
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            var shown = state.status
            if wait && Self.isPending(state.status) {
                if state.status == "pending", !(state.challenges ?? []).isEmpty {
                    // Resumed (--id) after the broker already saw the records.
                    print("enrollment \(state.id): the broker has seen every DNS record; waiting for the operator")
                }
                print(state.status == "pending-dns"
                      ? "waiting until the broker sees the DNS records and the operator approves (up to \(timeout) s)"
                      : "waiting for the operator to approve (up to \(timeout) s)")
            }
            while wait && Self.isPending(state.status) && Date() < deadline {
                // Progress reaches a log file or pipe as it happens (fflush(nil): every stream).
                fflush(nil)
                try await Task.sleep(for: .seconds(interval))
                state = try await client.enrollment(id: state.id)
                if state.status != shown {
                    if state.status == "pending" { print("enrollment \(state.id): the broker has seen every DNS record; waiting for the operator") }
                    shown = state.status
                }
            }
            switch state.status {
            case "approved":
                guard let pem = state.certificate else { throw BrokerClientError(.badAnswer, "approved without a certificate") }
                let path = cert ?? (key.hasSuffix(".key") ? String(key.dropLast(4)) + ".crt" : key + ".crt")
                try pem.write(toFile: path, atomically: true, encoding: .utf8)
                print("enrollment \(state.id) approved; certificate written to \(path)")
                OrgFiles.warnIfExpiring(path)
                return 0
            case "rejected":
                FileHandle.standardError.write(Data("fedmailctl: enrollment \(state.id) rejected: \(state.reason ?? "")\n".utf8))
                return 2
            case "key-replacement":
                print("enrollment \(state.id) is a key replacement for the existing organization \(state.organization): the broker's operator must verify it with you and approve it with --replace-key")
                return wait ? 3 : 0
            default:
                if state.status == "pending-dns", let missing = state.challenges?.filter({ !$0.validated }), !missing.isEmpty {
                    print("enrollment \(state.id) pending-dns: the broker has not seen \(missing.map(\.name).joined(separator: ", "))")
                } else {
                    print("enrollment \(state.id) \(state.status)")
                }
                return wait ? 3 : 0
            }
        } catch {
            FileHandle.standardError.write(Data("fedmailctl: \(error)\n".utf8))
            return 1
        }
    }
}

extension Enroll {
    static func isPending(_ status: String) -> Bool { status == "pending" || status == "pending-dns" || status == "key-replacement" }

    /// Prints the DNS records still to publish, as zone-file lines.
    func printChallenges(_ state: EnrollmentResponse) {
        guard Self.isPending(state.status), let challenges = state.challenges, !challenges.isEmpty else { return }
        let missing = challenges.filter { !$0.validated }
        guard !missing.isEmpty else { return }
        print("publish these DNS records (one per domain) to prove control of the domains:")
        for challenge in missing { print("  \(challenge.zoneFileLine)") }
    }
}

/// Prints `message` as an error and exits 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fedmailctl: \(message)\n".utf8))
    Foundation.exit(1)
}
