import ArgumentParser
import BrokerClient
import FedMailCore
import FederationProtocol
import Foundation

/// `fedmailctl renew`: a new organization certificate for the same key, over mutual TLS.
struct Renew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew the organization certificate (same key) over mutual TLS with the current one.",
        discussion: """
        Calls POST /v1/renewal with the organization certificate and key, checks that the new certificate chains \
        to the pinned broker CA, names the same organization and carries the same key, keeps the old certificate \
        as CERT.previous and replaces CERT atomically (same owner and group, mode 0644). The broker revokes the \
        old certificate (superseded) once it has issued the new one; if the answer is lost, running renew again \
        with the old certificate still works, as long as it has not expired and the key is unchanged. Renewal \
        also fetches a certificate the broker's operator reissued after a domain change. No operator approval \
        is needed.

        Organization certificates are short-lived (the broker's CertificateLifetime, 30 days by default). The \
        fedmail-milter package's fedmail-renew.timer runs
          fedmailctl renew --if-needed --days 10 --reload-pid-file /run/fedmail/fedmail-milter.pid
        daily; the milter picks up the new certificate on reload (SIGUSR1) without dropping connections.

        Files: by default those of the milter configuration (--config, default /etc/fedmail/fedmail-milter.conf): \
        OrgKey, OrgCertificate, BrokerURL, BrokerCA; options override them.

        fedmailctl warns on standard error when the certificate expires within 7 days. \
        Exit status: 0 renewed, or not needed with --if-needed; 1 error (nothing was replaced).
        """)

    @OptionGroup var files: OrgCredentialOptions
    @Flag(help: "Renew only when the certificate expires within --days days (for timers).") var ifNeeded = false
    @Option(help: ArgumentHelp("With --if-needed: renew when fewer than this many days are left.", valueName: "N")) var days: Int = 10
    @OptionGroup var reload: ReloadOptions

    func validate() throws {
        if days < 1 { throw ValidationError("--days must be at least 1") }
    }

    func run() async throws {
        let resolved: OrgCredentialOptions.Resolved
        do { resolved = try files.resolve() } catch { fail("\(error)") }
        if ifNeeded {
            let current: Int
            do { current = OrgFiles.daysLeft(try OrgFiles.certificate(at: resolved.cert)) } catch { fail("\(error)") }
            OrgFiles.warnIfExpiring(resolved.cert)
            if current >= days {
                print("\(resolved.cert) is valid for \(current) more days; not renewed (--if-needed --days \(days))")
                return
            }
        }
        if !ifNeeded { OrgFiles.warnIfExpiring(resolved.cert) }
        let client: BrokerClient
        do {
            client = try BrokerClient(configuration: BrokerClientConfiguration(
                brokerURL: resolved.broker, caPath: resolved.ca, certificatePath: resolved.cert, keyPath: resolved.key))
        } catch {
            fail("\(error)")
        }
        var status: Int32 = 0
        do {
            let (response, certificate) = try await client.renew()
            try OrgFiles.keepPrevious(resolved.cert, mode: 0o644)
            try OrgFiles.install(Array(response.certificate.utf8), at: resolved.cert, mode: 0o644)
            print("renewed \(response.organization): \(resolved.cert) valid until \(RFC3339.format(secondsSince1970: Int64(certificate.notValidAfter.timeIntervalSince1970))) (domains \(response.domains.joined(separator: ", ")); previous certificate \(response.replacedCertificateSHA256) kept as \(resolved.cert).previous)")
            if !reload.reload() { status = 1 }
        } catch {
            CommandIO.printError("\(error)")
            status = 1
        }
        try? await client.shutdown()
        if status != 0 { throw ExitCode(status) }
    }
}
