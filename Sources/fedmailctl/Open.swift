import ArgumentParser
import BrokerClient
import FedMailCore
import FederationProtocol
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

            The decision after the cryptographic checks is the milter's own (the \
            opening policy): the signed control part must name our key and one of our \
            certificate's domains (recipient-binding); every From and Sender mailbox, \
            parsed strictly (RFC 5322), must be a domain of the signer \
            (signer-domain-mismatch, from-unparseable); a --pin certificate signs only \
            for the domains it names and a domain it names only with it \
            (signer-not-pinned-for-domain); signingTime within --max-age (too-old). \
            With --check-tokens (needs --ca), the message's FedMail-Token fields for our \
            domains are verified against --ca and held against the message as the milter \
            does: at least one (token-missing), signature (token-signature), audience, \
            purpose, scf and sub naming the signer (token-signer), signingTime inside \
            [iat, exp] (token-validity), jti in the control part (token-binding), every \
            author domain in sdom (token-sender-domain). Without it, tokens are not checked; \
            with --verbose the FedMail-Token headers and the signed token ids are printed \
            on standard error with the report. With --crl (the broker's CRL, DER or PEM, as \
            GET /v1/crl serves it; needs --ca), the signer is checked as the milter checks it: \
            revoked for key compromise, or for another reason at or before signingTime \
            (signer-revoked); a CRL older than --crl-max-age (revocation-unknown). Without \
            --crl revocation is not checked.
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

        @Flag(name: .customLong("check-tokens"), help: "Verify the FedMail-Token fields for our domains against --ca and bind them to the message, as the milter does.")
        var checkTokens = false

        @Option(help: ArgumentHelp("The broker's CRL (DER or PEM, from GET /v1/crl), verified against --ca; the signer must not be on it.", valueName: "FILE"))
        var crl: String?

        @Option(name: .customLong("crl-max-age"), help: "Seconds the --crl may be old (default 86400, as the milter's CRLMaxAge).")
        var crlMaxAge: Int = 86_400

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
            if checkTokens && ca == nil { throw ValidationError("--check-tokens needs --ca (the broker CA the tokens chain to)") }
            if crl != nil && ca == nil { throw ValidationError("--crl needs --ca (the broker CA that signed it)") }
        }

        func run() throws {
            let temps = TemporaryFiles()
            let opener: Opener
            let revocation: RevocationState
            do {
                opener = try makeOpener()
                revocation = try revocationState()
            } catch {
                CommandIO.printError("\(error)")
                throw ExitCode(75)
            }
            do {
                let inputPath = try CommandIO.inputPath(input, temporaries: temps)
                let toStdout = output == nil || output == "-"
                // OUT itself when a finished file can be renamed onto it;
                // otherwise (stdout, /dev/null, a FIFO) a private file copied there.
                let direct = !toStdout && CommandIO.isReplaceable(output ?? "-")
                var target = output ?? "-"
                if !direct {
                    target = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-open")
                    temps.paths.append(target)
                }
                let opened: OpenedMessage
                if checkTokens {
                    opened = try openCheckingTokens(opener, sealedPath: inputPath, outputPath: target, revocation: revocation)
                } else if revocation != .notChecked {
                    let policy = opener.standardPolicy(tokenRule: .checkedIfPresent)
                    let now = Date()
                    opened = try opener.open(sealedPath: inputPath, outputPath: target, now: now) { seal, _ throws(OpenError) in
                        let facts = OpeningFacts(seal: seal, tokens: [], envelopeSender: nil, now: Int64(now.timeIntervalSince1970),
                                                 revocation: revocation)
                        if case .fail(let failure) = policy.evaluate(facts) { throw OpenError(policy: failure) }
                    }
                } else {
                    opened = try opener.open(sealedPath: inputPath, outputPath: target)
                }
                if verbose { FileHandle.standardError.write(Data(Self.describe(opened).utf8)) }
                if toStdout { try CommandIO.copyToStandardOutput(target) }
                else if !direct, let output { try CommandIO.copy(target, into: output) }
            } catch let error as OpenError {
                CommandIO.printError(temps.named(error.description))
                throw ExitCode(error.code == .internalError ? 75 : 1)
            }
        }

        /// Opens with the milter's policy, tokens required and verified against --ca.
        func openCheckingTokens(_ opener: Opener, sealedPath: String, outputPath: String,
                                revocation: RevocationState) throws -> OpenedMessage {
            guard let ca else { throw ValidationError("--check-tokens needs --ca") }
            let verifier = try TokenVerifier(brokerCAPath: ca)
            let policy = opener.standardPolicy(tokenRule: .required)
            let now = Date()
            return try opener.open(sealedPath: sealedPath, outputPath: outputPath, now: now) { seal, outerTokens throws(OpenError) in
                let signingTime = Date(timeIntervalSince1970: TimeInterval(seal.signer.signingTime))
                let tokens: [OpeningFacts.Token] = outerTokens
                    .filter { DomainName($0.domain).map(policy.ourDomains.contains) == true }
                    .map { header in
                        do { return .verified(try verifier.verifyBlocking(header.token, audience: header.domain, at: signingTime)) } catch {
                            return .unverifiable(domain: header.domain, reason: "\(error)")
                        }
                    }
                let facts = OpeningFacts(seal: seal, tokens: tokens, envelopeSender: nil, now: Int64(now.timeIntervalSince1970),
                                         revocation: revocation)
                if case .fail(let failure) = policy.evaluate(facts) { throw OpenError(policy: failure) }
            }
        }

        /// The --crl, verified against --ca (DER, or PEM "X509 CRL").
        func revocationState() throws -> RevocationState {
            guard let crl, let ca else { return .notChecked }
            guard let data = FileManager.default.contents(atPath: crl), data.count <= CertificateRevocationList.maximumSize else {
                throw CLIError("cannot read the CRL \(crl) (or it is larger than \(CertificateRevocationList.maximumSize) bytes)")
            }
            var der = Array(data)
            if let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN X509 CRL-----") {
                let base64 = text.components(separatedBy: "-----BEGIN X509 CRL-----")[1]
                    .components(separatedBy: "-----END X509 CRL-----")[0].filter { !$0.isWhitespace }
                guard let decoded = Data(base64Encoded: base64) else { throw CLIError("\(crl) is not a PEM CRL") }
                der = Array(decoded)
            }
            return .list(try BrokerClient.verifyCRL(der, brokerCAPath: ca), maxAge: Int64(crlMaxAge))
        }

        func makeOpener() throws -> Opener {
            var identities: [OrganizationIdentity] = []
            for (k, c) in zip(key, cert) { identities.append(try OrganizationIdentity.load(keyPath: k, certificatePath: c)) }
            var pops: [ProofOfPossessionKey] = []
            if let popKey, let popID { pops.append(try ProofOfPossessionKey(hexKey: popKey, id: popID)) }
            var opener = Opener(identities: identities, popKeys: pops, brokerCA: try ca.map { try OpenSSLCertificate.load(path: $0) } ?? [],
                                maxMessageAge: TimeInterval(maxAge))
            opener.pinnedSigners = try pin.map { try OpenSSLCertificate.loadOne(path: $0) }
            return opener
        }

        static func describe(_ opened: OpenedMessage) -> String {
            let report = opened.report
            var lines = [
                "signer: \(report.signerOrganization) (\(report.signerSubject))",
                "signer domains: \(report.signerDomains.joined(separator: ", "))",
                "signer certificate sha256: \(Hex.encode(report.signerCertificateSHA256))",
                "signing time: \(RFC3339.format(secondsSince1970: report.signingTime.timeIntervalSince1970))",
                "author fields: \((opened.seal.fromFields + opened.seal.senderFields).joined(separator: " / "))",
                "recipient key id: \(report.recipientKeyID)",
                "sealed for: \(opened.control.recipients.map { "\($0.keyId) (\($0.domains.joined(separator: ", ")))" }.joined(separator: "; "))",
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
