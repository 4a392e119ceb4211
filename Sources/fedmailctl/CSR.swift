import ArgumentParser
import FederationProtocol
import Foundation

extension FedMailCtl {
    struct CSR: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csr",
            abstract: "Create a certificate signing request for the organization key.",
            discussion: """
            The request's subject is O=NAME, CN=NAME; its subjectAltName has one \
            dNSName per --domain (every mail domain the organization serves). It is \
            signed with SHA-256 by the key. Submit it at enrollment; the broker issues \
            the organization certificate once an operator approves.

            Example: fedmailctl csr --key org.key --org "Example Corp" --domain example.com --domain example.net --out org.csr
            """
        )

        @Option(name: .long, help: "The organization private key (mode 0600).")
        var key: String

        @Option(name: .long, help: "The organization name.")
        var org: String

        @Option(name: .long, help: "A mail domain of the organization (repeat for each).")
        var domain: [String]

        @Option(name: .long, help: "Output file (PEM); '-' for standard output.")
        var out: String = "-"

        func run() throws {
            guard !domain.isEmpty else { throw ValidationError("give at least one --domain") }
            let pem = Data(try CSRBuilder.makeCSR(privateKeyPEM: try CommandIO.readPrivateKey(key), organization: org, domains: domain).utf8)
            if out == "-" {
                FileHandle.standardOutput.write(pem)
            } else {
                guard FileManager.default.createFile(atPath: out, contents: pem) else {
                    throw CLIError("cannot write \(out)")
                }
            }
        }
    }
}
