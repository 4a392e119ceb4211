import ArgumentParser
import FedMailCore
import FedMailCrypto
import Foundation

extension FedMailCtl {
    struct Seal: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal a message file for one or more recipient organizations.",
            discussion: """
            Reads the original message (IN, default standard input) and writes the \
            sealed S/MIME message (OUT, default standard output): the original and the \
            control flags in a multipart/mixed, signed by the sender organization key \
            (CMS SignedData with signingTime), then encrypted once with AES-256-GCM \
            (CMS AuthEnvelopedData) with one recipientInfo per organization: RSA \
            certificates get RSAES-OAEP SHA-256 key transport, EC P-256 ones ECDH key \
            agreement with a SHA-256 KDF, a PoP key (pop mode) AES-256 key wrap. \
            Recipients are named by subjectKeyIdentifier. From, To, Cc, Date, \
            Message-ID, In-Reply-To, References and MIME-Version are copied outside; \
            Subject too unless --protect-subject. Line endings follow the input.

            Example: fedmailctl seal --key org.key --cert org.crt --to partner.crt msg.eml sealed.eml
            """
        )

        @Option(name: .long, help: "Sender organization private key (mode 0600).")
        var key: String

        @Option(name: .long, help: "Sender organization certificate.")
        var cert: String

        @Option(name: .long, help: "Recipient organization certificate or key container (repeat for each organization).")
        var to: [String] = []

        @Option(name: .customLong("pop-key"), help: "PoP key for a pop-mode recipient: 64 hex digits.")
        var popKey: String?

        @Option(name: .customLong("pop-id"), help: "Key id of --pop-key (the token jti).")
        var popID: String?

        @Option(name: .long, help: "Control flags JSON file (application/vnd.fedmail.control+json).")
        var control: String?

        @Option(name: .long, help: "A FedMail-Token header to add, as DOMAIN=JWS (repeat per organization); its jti is added to the signed control tokens.")
        var token: [String] = []

        @Option(name: .customLong("sealed-by"), help: "The sealing gateway name put in the control part (default: this host).")
        var sealedBy: String?

        @Option(name: .customLong("signing-time"),
                help: ArgumentHelp("For tests and interoperability only: the signingTime to sign with, seconds since the epoch (default: now).",
                                   visibility: .hidden))
        var signingTime: Int64?

        @Flag(name: .customLong("protect-subject"), help: "Replace the outer Subject by '[sealed]'; the real one stays inside.")
        var protectSubject = false

        @Argument(help: "Original message file ('-' or absent: standard input).")
        var input: String?

        @Argument(help: "Sealed output file ('-' or absent: standard output).")
        var output: String?

        func validate() throws {
            if (popKey == nil) != (popID == nil) { throw ValidationError("--pop-key and --pop-id go together") }
            if to.isEmpty && popKey == nil { throw ValidationError("give at least one --to certificate or a --pop-key") }
        }

        func run() throws {
            let temps = TemporaryFiles()
            let signer = try OrganizationIdentity.load(keyPath: key, certificatePath: cert)
            var recipients: [RecipientOrganization] = []
            for path in to { recipients.append(.certificate(try OpenSSLCertificate.loadOne(path: path))) }
            if let popKey, let popID {
                recipients.append(.proofOfPossession(try ProofOfPossessionKey(hexKey: popKey, id: popID)))
            }
            var flags = ControlFlags(sealedBy: sealedBy ?? ProcessInfo.processInfo.hostName)
            if let control {
                guard let data = FileManager.default.contents(atPath: control) else { throw CLIError("cannot read \(control)") }
                do { flags = try JSONDecoder().decode(ControlFlags.self, from: data) } catch {
                    throw CLIError("\(control) is not control JSON: \(error)")
                }
                if let sealedBy { flags.sealedBy = sealedBy }
            }
            var tokens: [FedMailTokenHeader] = []
            for item in token {
                guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--token must be DOMAIN=JWS") }
                let header = FedMailTokenHeader(domain: String(item[..<eq]).lowercased(), token: String(item[item.index(after: eq)...]))
                tokens.append(header)
                if let jti = header.unverifiedTokenID, !flags.tokens.contains(jti) { flags.tokens.append(jti) }
            }
            if let popID, !flags.tokens.contains(popID) { flags.tokens.append(popID) }

            let inputPath = try CommandIO.inputPath(input, temporaries: temps)
            let sealer = Sealer(signer: signer)
            do {
                if let output, output != "-" {
                    try sealer.seal(originalPath: inputPath, outputPath: output, recipients: recipients, control: flags,
                                    tokens: tokens, protectSubject: protectSubject, signingTime: signingTime)
                } else {
                    let out = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-out")
                    temps.paths.append(out)
                    try sealer.seal(originalPath: inputPath, outputPath: out, recipients: recipients, control: flags,
                                    tokens: tokens, protectSubject: protectSubject, signingTime: signingTime)
                    try CommandIO.copyToStandardOutput(out)
                }
            } catch let error as CryptoError {
                throw CLIError(temps.named(error.message))
            }
        }
    }
}
