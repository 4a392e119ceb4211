import ArgumentParser
import FedMailCore
import FedMailCrypto
import Foundation

extension FedMailCtl {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a sealed message carries.",
            discussion: """
            Without keys, prints what needs no decryption: the CMS content type \
            (refusing nothing), each recipientInfo (kind, key identifier, algorithm) \
            and the FedMail-Token headers. With --key/--cert (or --pop-key/--pop-id) \
            and --ca, also decrypts and verifies in private temporary files (the \
            original is not printed) and shows the signer, the signing time, the \
            control flags and the signed token ids.
            """
        )

        @Option(name: .long, help: "Our organization private key, to also show signer and control flags.")
        var key: String?

        @Option(name: .long, help: "Our organization certificate (with --key).")
        var cert: String?

        @Option(name: .long, help: "The broker CA certificate (with --key or --pop-key).")
        var ca: String?

        @Option(name: .customLong("pop-key"), help: "PoP key: 64 hex digits.")
        var popKey: String?

        @Option(name: .customLong("pop-id"), help: "Key id of --pop-key.")
        var popID: String?

        @Argument(help: "Sealed message file ('-' or absent: standard input).")
        var input: String?

        func run() throws {
            let temps = TemporaryFiles()
            let inputPath = try CommandIO.inputPath(input, temporaries: temps)
            do {
                let summary = try Opener.inspect(sealedPath: inputPath)
                var lines = ["content type: \(summary.contentType)\(summary.isAEAD ? "" : " (NOT AEAD: would be refused)")"]
                for r in summary.recipients {
                    lines.append("recipient: \(r.kind) id=\(r.keyName) alg=\(r.algorithm)")
                }
                for t in summary.tokenHeaders {
                    lines.append("token: d=\(t.domain) jti=\(t.unverifiedTokenID ?? "?")")
                }
                print(lines.joined(separator: "\n"))
            } catch {
                CommandIO.printError(temps.named(error.description))
                throw ExitCode(1)
            }
            guard (key != nil && cert != nil) || (popKey != nil && popID != nil) else { return }
            guard let ca else { throw ValidationError("--ca is needed to verify the signer") }
            var identities: [OrganizationIdentity] = []
            if let key, let cert { identities.append(try OrganizationIdentity.load(keyPath: key, certificatePath: cert)) }
            var pops: [ProofOfPossessionKey] = []
            if let popKey, let popID { pops.append(try ProofOfPossessionKey(hexKey: popKey, id: popID)) }
            let opener = Opener(identities: identities, popKeys: pops, brokerCA: try OpenSSLCertificate.load(path: ca))
            let scratch = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-inspect")
            temps.paths.append(scratch)
            do {
                let opened = try opener.open(sealedPath: inputPath, outputPath: scratch)
                print(Open.describe(opened), terminator: "")
            } catch {
                CommandIO.printError(temps.named(error.description))
                throw ExitCode(1)
            }
        }
    }
}
