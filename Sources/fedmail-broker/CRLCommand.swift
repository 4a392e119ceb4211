import ArgumentParser
import Broker
import Foundation

/// `fedmail-broker crl`: the current CRL, as `GET /v1/crl` serves it.
struct CRLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl",
        abstract: "Print the broker's current signed CRL (PEM, or DER with --der), as GET /v1/crl serves it.",
        discussion: "Check it with: openssl crl -in crl.pem -CAfile StateDir/ca.crt -noout -text")

    @ParentCommand var root: FedmailBroker
    @Flag(help: "Write DER to standard output instead of PEM.") var der = false

    func run() async throws {
        try await withService(root) { service in
            let crl = try await service.certificateRevocationList()
            if der {
                FileHandle.standardOutput.write(Data(crl.der))
            } else {
                let base64 = Data(crl.der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                print("-----BEGIN X509 CRL-----\n\(base64)\n-----END X509 CRL-----")
            }
        }
    }
}
