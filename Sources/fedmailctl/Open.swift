import ArgumentParser
import FedMailCore
import FedMailCrypto
import Foundation

extension FedMailCtl {
    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a sealed message: decrypt, verify, and write the exact original.",
            discussion: """
            Checks, in order: a recipientInfo for our key (or PoP key id); the \
            AES-GCM tag; the signature; the signer certificate's chain to the broker CA \
            (--ca only, never the system store), or, for a static partner, that the signer \
            is exactly a --pin certificate (within its validity); the control part; that every From \
            domain is one of the signer's certificate domains; that signingTime is \
            within --max-age of now. Only then is the original written to OUT \
            (default standard output) and the exit status 0.

            On failure nothing is written to OUT or standard output, the error is \
            printed on standard error as 'CODE: details' and the exit status is 1 \
            (75 for a local failure such as an unwritable temporary directory). \
            CODE is one of not-for-us, tag-mismatch, bad-signature, signer-not-chained, \
            signer-domain-mismatch, too-old, malformed, not-aead, refused-algorithm, internal.

            Token checks are the caller's: with --verbose the FedMail-Token headers and \
            the signed token ids are printed on standard error with the report.
            """
        )

        @Option(name: .long, help: "Our organization private key (mode 0600); repeat during a rekey, in the order of --cert.")
        var key: [String] = []

        @Option(name: .long, help: "Our organization certificate, one per --key.")
        var cert: [String] = []

        @Option(name: .long, help: "The broker CA certificate (trust anchor).")
        var ca: String?

        @Option(name: .long, help: ArgumentHelp("A static partner certificate: a signer that is exactly this certificate is accepted without a chain to --ca (repeatable; the allowlist's cert=).", valueName: "cert"))
        var pin: [String] = []

        @Option(name: .customLong("pop-key"), help: "PoP key (pop mode): 64 hex digits.")
        var popKey: String?

        @Option(name: .customLong("pop-id"), help: "Key id of --pop-key (the token jti).")
        var popID: String?

        @Option(name: .customLong("max-age"), help: "Maximum message age in seconds (default 432000, 5 days).")
        var maxAge: Int = 5 * 86400

        @Flag(name: .long, help: "Print the verification report on standard error.")
        var verbose = false

        @Argument(help: "Sealed message file ('-' or absent: standard input).")
        var input: String?

        @Argument(help: "Output file for the original ('-' or absent: standard output).")
        var output: String?

        func validate() throws {
            if key.count != cert.count { throw ValidationError("give one --cert per --key") }
            if (popKey == nil) != (popID == nil) { throw ValidationError("--pop-key and --pop-id go together") }
            if key.isEmpty && popKey == nil { throw ValidationError("give --key/--cert or --pop-key/--pop-id") }
            if ca == nil && pin.isEmpty { throw ValidationError("give --ca (the broker CA) or --pin (a static partner certificate)") }
        }

        func run() throws {
            let temps = TemporaryFiles()
            let opener: Opener
            do { opener = try makeOpener() } catch {
                CommandIO.printError("\(error)")
                throw ExitCode(75)
            }
            do {
                let inputPath = try CommandIO.inputPath(input, holder: &temps.paths)
                let toStdout = output == nil || output == "-"
                // OUT itself when a finished file can be renamed onto it;
                // otherwise (stdout, /dev/null, a FIFO) a private file copied there.
                let direct = !toStdout && CommandIO.isReplaceable(output ?? "-")
                var target = output ?? "-"
                if !direct {
                    target = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-open")
                    temps.paths.append(target)
                }
                let opened = try opener.open(sealedPath: inputPath, outputPath: target)
                if verbose { FileHandle.standardError.write(Data(Self.describe(opened).utf8)) }
                if toStdout { try CommandIO.copyToStandardOutput(target) }
                else if !direct, let output { try CommandIO.copy(target, into: output) }
            } catch let error as OpenError {
                CommandIO.printError(error.description)
                throw ExitCode(error.code == .internalError ? 75 : 1)
            }
        }

        func makeOpener() throws -> Opener {
            var identities: [OrganizationIdentity] = []
            for (k, c) in zip(key, cert) { identities.append(try OrganizationIdentity.load(keyPath: k, certificatePath: c)) }
            var pops: [ProofOfPossessionKey] = []
            if let popKey, let popID { pops.append(try ProofOfPossessionKey(hexKey: popKey, id: popID)) }
            var opener = Opener(identities: identities, popKeys: pops, brokerCA: try ca.map { try Certificate.load(path: $0) } ?? [],
                                maxMessageAge: TimeInterval(maxAge))
            opener.pinnedSigners = try pin.map { try Certificate.loadOne(path: $0) }
            return opener
        }

        static func describe(_ opened: OpenedMessage) -> String {
            let report = opened.report
            var lines = [
                "signer: \(report.signerOrganization) (\(report.signerSubject))",
                "signer domains: \(report.signerDomains.joined(separator: ", "))",
                "signer certificate sha256: \(Hex.encode(report.signerCertificateSHA256))",
                "signing time: \(ISO8601DateFormatter().string(from: report.signingTime))",
                "from domains: \(report.fromDomains.joined(separator: ", "))",
                "recipient: \(report.recipientKind)",
                "checks passed: \(report.checks.joined(separator: " "))",
                "signer accepted as: \(report.signerPinned ? "pinned static partner certificate" : "chained to the broker CA")",
                "sealed by: \(opened.control.sealedBy ?? "-")",
                "signed token ids: \(opened.signedTokenIDs.joined(separator: " "))",
            ]
            if let v = opened.control.virusScan { lines.append("virus scan: \(v.status) \(v.engine ?? "") \(v.at ?? "")") }
            if let s = opened.control.spamScan { lines.append("spam scan: \(s.status) \(s.engine ?? "") \(s.at ?? "")") }
            for t in opened.tokenHeaders { lines.append("token header: d=\(t.domain) jti=\(t.unverifiedTokenID ?? "?")") }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
