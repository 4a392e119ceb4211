import COpenSSL
import FedMailCore
@testable import FedMailCrypto
import FederationProtocol
import Foundation
import Testing
import X509

/// Issue 13: FedMail has two X.509 path validators in one process, and this
/// suite pins what each says about the same certificates.
///
/// - (a) **OpenSSL**, the CMS signer check of `SignerVerification` (FedMailCrypto):
///   `X509ChainVerification` with the broker CA as the only anchor, the CMS's
///   certificates as untrusted intermediates, purpose `X509_PURPOSE_SMIME_SIGN`,
///   time = now, no partial chain. Rows without intermediates are also checked
///   end to end: sealed with the row's certificate (`Sealer`) and opened
///   (`Opener`), where a rejection is `OpenError.Code.signerNotChained`.
/// - (b) **swift-certificates**, `KeyContainerValidator.validate` (FederationProtocol)
///   called as is, without a domain or address (the name match is a separate
///   check its callers always add): `Verifier(rootCertificates: [brokerCA]) {
///   RFC5280Policy(validationTime: now) }` with *no* intermediates, then EKU
///   emailProtection on the leaf.
/// - (b0) the bare RFC 5280 chain, with intermediates: the same `Verifier`
///   and policy as the x5c check of `TokenVerifier` (jwt-kit's `X5CVerifier`
///   builds `Verifier(rootCertificates:) { RFC5280Policy(fixedExpiryValidationTime: now) }`
///   over the x5c chain) and as `BrokerClient.enrollment(id:)` (which passes no
///   intermediates). Mirrored here, not called; it shows which of (b)'s verdicts
///   come from the chain and which from its EKU check.
///
/// Where (a) and (b) agree, a row has no `why`. Where they disagree the row
/// says why, and `everyDisagreementIsExplained` keeps the two in step. The
/// disagreements, and why none lets a wrong certificate through:
///
/// 1. **Purpose, not path.** (a) asks "may this key sign mail?", (b) "may mail
///    be encrypted to this key?". The broker's key containers have keyUsage
///    keyAgreement / keyEncipherment only (`CertificateAuthority.issueKeyContainer`):
///    (b) must accept them, (a) must refuse them as signers. Expected.
/// 2. **No EKU.** OpenSSL's S/MIME purpose alone accepts a leaf with no
///    extendedKeyUsage at all (no EKU means any purpose, as RFC 8550 has it);
///    under the real broker CA such a certificate is the broker's own
///    token-signing certificate. This test found that; the signer check now
///    also demands emailProtection (`requireEmailProtection`), as (b) does,
///    so the two agree and the token-signing certificate cannot sign mail.
/// 3. **Critical EKU.** `RFC5280Policy` does not list extendedKeyUsage among
///    the critical extensions it handles, so swift-certificates refuses a
///    certificate whose EKU is critical; OpenSSL processes it. (b) is stricter;
///    the broker issues EKU non-critical. Interop note only.
/// 4. **Intermediates.** (b) passes no intermediates: a key container must be
///    issued by the pinned CA itself. (a) takes intermediates from the CMS (as
///    `openssl cms -sign -certfile` sends them), so under a CA without a path
///    length limit it accepts a leaf under a proper intermediate. The real
///    broker CA has pathLen 0 (`CertificateAuthority.initialize`), and both
///    refuse any intermediate under it (row "intermediate CA under the
///    pathlen:0 broker CA"). Expected.
/// 5. **EKU of the CA certificates.** OpenSSL applies the S/MIME purpose to
///    every certificate of the path: an intermediate or an anchor whose EKU
///    lacks emailProtection makes it refuse. `RFC5280Policy` ignores EKU (b0),
///    and (b) reads it on the leaf only. The real broker CA has no EKU and
///    admits no intermediate, so neither FedMail path meets such a CA.
/// 6. **CN under name constraints.** With no SAN, OpenSSL checks a host-like
///    CN against DNS name constraints; swift-certificates does not. Callers of
///    (b) always pass the domain or address to match a SAN entry
///    (`BrokerClient`), so a certificate without SAN is refused there anyway.
///
/// Agreements worth knowing: a leaf with CA:TRUE is accepted by both (it can
/// issue nothing under the pathLen-0 broker CA; the broker never issues one;
/// `TokenVerifier` refuses a CA token signer); keyUsage nonRepudiation alone
/// is a signing usage for OpenSSL's S/MIME purpose, and `RFC5280Policy` does
/// not police keyUsage at all; an absent keyUsage is accepted by both.
///
/// Judgement: no row lets a wrong certificate through (b), the token and
/// key-container path. The only place where (a) is looser than (b) on a
/// certificate the real broker CA can issue is 2 (no EKU), closed downstream
/// by the signer's domains.
struct AgreementRow: Sendable, CustomTestStringConvertible {
    enum Verdict: String, Sendable { case accept, reject }

    var name: String
    /// The trust anchor's name in `ValidatorAgreementPKI`.
    var anchor: String
    var leaf: String
    /// Untrusted CA certificates, leaf side first.
    var intermediates: [String] = []
    /// (a) OpenSSL, CMS signer.
    var openSSL: Verdict
    /// (b) KeyContainerValidator.
    var keyContainer: Verdict
    /// (b0) the bare RFC 5280 chain with the intermediates.
    var chain: Verdict
    /// Why (a) and (b) disagree; nil when they agree.
    var why: String? = nil

    var testDescription: String { name }

    static let rows: [AgreementRow] = [
        AgreementRow(name: "organization certificate under the broker CA", anchor: "broker", leaf: "org",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "key container profile (keyUsage keyAgreement only, no digitalSignature)", anchor: "broker", leaf: "container",
                     openSSL: .reject, keyContainer: .accept, chain: .accept,
                     why: "encryption-only key: may be encrypted to, may not sign (1)"),
        AgreementRow(name: "expired (2020)", anchor: "broker", leaf: "expired",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "not yet valid (2099)", anchor: "broker", leaf: "future",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "issued by a rogue CA with the broker CA's name", anchor: "broker", leaf: "rogue",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "extendedKeyUsage serverAuth only", anchor: "broker", leaf: "serverauth",
                     openSSL: .reject, keyContainer: .reject, chain: .accept),
        AgreementRow(name: "extendedKeyUsage anyExtendedKeyUsage only", anchor: "broker", leaf: "anyeku",
                     openSSL: .reject, keyContainer: .reject, chain: .accept),
        AgreementRow(name: "no extendedKeyUsage", anchor: "broker", leaf: "noeku",
                     openSSL: .reject, keyContainer: .reject, chain: .accept),
        AgreementRow(name: "broker token-signing profile (digitalSignature, no EKU, no SAN)", anchor: "broker", leaf: "token",
                     openSSL: .reject, keyContainer: .reject, chain: .accept),
        AgreementRow(name: "critical extendedKeyUsage emailProtection", anchor: "broker", leaf: "criticaleku",
                     openSSL: .accept, keyContainer: .reject, chain: .reject,
                     why: "RFC5280Policy does not handle a critical EKU (3)"),
        AgreementRow(name: "keyUsage keyEncipherment only (RSA-style container)", anchor: "broker", leaf: "kuencipher",
                     openSSL: .reject, keyContainer: .accept, chain: .accept,
                     why: "encryption-only key (1)"),
        AgreementRow(name: "keyUsage nonRepudiation only", anchor: "broker", leaf: "kunonrep",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "no keyUsage", anchor: "broker", leaf: "noku",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "unknown critical extension", anchor: "broker", leaf: "unknowncritical",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "leaf is itself a CA (CA:TRUE) under the pathlen:0 broker CA", anchor: "broker", leaf: "leafca",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "intermediate CA under the pathlen:0 broker CA", anchor: "broker", leaf: "underint-broker",
                     intermediates: ["int-broker"], openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "leaf under a proper intermediate (CA without pathlen)", anchor: "open", leaf: "underint-ok",
                     intermediates: ["int-ok"], openSSL: .accept, keyContainer: .reject, chain: .accept,
                     why: "key containers carry no intermediates (4)"),
        AgreementRow(name: "leaf under an intermediate without CA:TRUE", anchor: "open", leaf: "underint-noca",
                     intermediates: ["int-noca"], openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "leaf under an intermediate with EKU serverAuth only", anchor: "open", leaf: "underint-serverauth",
                     intermediates: ["int-serverauth"], openSSL: .reject, keyContainer: .reject, chain: .accept),
        AgreementRow(name: "broker CA with EKU serverAuth only", anchor: "ekuca", leaf: "under-ekuca",
                     openSSL: .reject, keyContainer: .accept, chain: .accept,
                     why: "OpenSSL applies the S/MIME purpose to the anchor's EKU too; RFC5280Policy ignores EKU (5)"),
        AgreementRow(name: "name constraint a.example, SAN a.example", anchor: "nc", leaf: "nc-inside",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "name constraint a.example, SAN mail.a.example", anchor: "nc", leaf: "nc-sub",
                     openSSL: .accept, keyContainer: .accept, chain: .accept),
        AgreementRow(name: "name constraint a.example, SAN b.example", anchor: "nc", leaf: "nc-outside",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "name constraint a.example, SAN a.example and b.example", anchor: "nc", leaf: "nc-mixed",
                     openSSL: .reject, keyContainer: .reject, chain: .reject),
        AgreementRow(name: "name constraint a.example, no SAN, CN b.example", anchor: "nc", leaf: "nc-cn-outside",
                     openSSL: .reject, keyContainer: .accept, chain: .accept,
                     why: "OpenSSL checks a host-like CN against DNS constraints when there is no SAN; callers of (b) always match a SAN name (6)"),
    ]
}

@Suite struct ValidatorAgreementTests {
    struct Observed {
        var openSSL: AgreementRow.Verdict
        var openSSLReason: String?
        var keyContainer: AgreementRow.Verdict
        var keyContainerReason: String?
        var chain: AgreementRow.Verdict
        var chainReason: String?
    }

    @Test(arguments: AgreementRow.rows)
    func verdicts(_ row: AgreementRow) async throws {
        let pki = try ValidatorAgreementPKI.get()
        let now = Date()
        let observed = try await pki.observe(row, now: now)
        #expect(observed.openSSL == row.openSSL, "(a) OpenSSL CMS signer check: \(observed.openSSLReason ?? "accepted")")
        #expect(observed.keyContainer == row.keyContainer, "(b) KeyContainerValidator: \(observed.keyContainerReason ?? "accepted")")
        #expect(observed.chain == row.chain, "(b0) RFC 5280 chain: \(observed.chainReason ?? "accepted")")
        if row.why == nil {
            #expect(observed.openSSL == observed.keyContainer, "the validators disagree on a row that says they agree")
        }
        // The real CMS path: seal with the row's certificate (From in its first dNSName), open with the
        // row's anchor as broker CA. Past the signer check, a signer that names no domain is refused for any From.
        if row.intermediates.isEmpty {
            let domains = try pki.openSSLCertificate(row.leaf).dnsNames
            let code = try pki.openSealed(signedBy: row.leaf, anchor: row.anchor, from: domains.first ?? "org.example", now: now)
            let expected: OpenError.Code? = row.openSSL == .reject ? .signerNotChained : domains.isEmpty ? .signerDomainMismatch : nil
            #expect(code == expected, "opening gave \(code.map { "\($0)" } ?? "no error")")
        }
    }

    /// A row says why exactly when its two validators disagree.
    @Test func everyDisagreementIsExplained() {
        for row in AgreementRow.rows {
            #expect((row.openSSL != row.keyContainer) == (row.why != nil), "\(row.name)")
        }
    }

    /// The table covers each kind of certificate issue 13 names: expired,
    /// wrong purpose, wrong CA, name constraints (and the rest of the brief).
    @Test func tableCoversTheIssue() {
        let leaves = Set(AgreementRow.rows.map(\.leaf))
        for leaf in ["org", "expired", "future", "rogue", "serverauth", "container", "leafca", "underint-noca", "nc-inside", "nc-outside"] {
            #expect(leaves.contains(leaf), "\(leaf)")
        }
    }
}

/// The certificates of the table, made once per run with the `openssl`
/// command line (`req` for the self-signed anchors, `ca` for the rest so
/// validity dates can be set in the past or future).
struct ValidatorAgreementPKI: Sendable {
    let directory: String

    static let shared: Result<ValidatorAgreementPKI, TestFailure> = Result { () throws(TestFailure) in try make() }
    static func get() throws -> ValidatorAgreementPKI { try shared.get() }

    func certificatePath(_ name: String) -> String { "\(directory)/\(name).crt" }
    func keyPath(_ name: String) -> String { "\(directory)/\(name).key" }

    static let brokerSubject = "/O=FedMail Test Broker/CN=FedMail Test Broker CA"

    /// Extension sections, by name.
    static func sections() -> [String: [String]] {
        let leafIDs = ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
        func org(san: String? = "DNS:org.example", ku: String? = "critical,digitalSignature,keyAgreement",
                 eku: String? = "emailProtection,clientAuth", basic: String = "critical,CA:FALSE", extra: [String] = []) -> [String] {
            ["basicConstraints=\(basic)"] + (ku.map { ["keyUsage=\($0)"] } ?? []) + (eku.map { ["extendedKeyUsage=\($0)"] } ?? [])
                + (san.map { ["subjectAltName=\($0)"] } ?? []) + leafIDs + extra
        }
        let ca = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign", "subjectKeyIdentifier=hash"]
        return [
            // Anchors (self-signed); the broker's own CA has pathLen 0, like CertificateAuthority.initialize.
            "anchor_broker": ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign",
                              "subjectKeyIdentifier=hash"],
            "anchor_open": ca,
            "anchor_nc": ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign",
                          "subjectKeyIdentifier=hash", "nameConstraints=critical,permitted;DNS:a.example"],
            "anchor_ekuca": ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign",
                             "subjectKeyIdentifier=hash", "extendedKeyUsage=serverAuth"],
            // Intermediates.
            "int_ok": ca + ["authorityKeyIdentifier=keyid"],
            "int_noca": ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,keyCertSign,cRLSign", "subjectKeyIdentifier=hash",
                         "authorityKeyIdentifier=keyid"],
            "int_serverauth": ca + ["authorityKeyIdentifier=keyid", "extendedKeyUsage=serverAuth"],
            // Leaves.
            "org": org(),
            "container": org(ku: "critical,keyAgreement", eku: "emailProtection"),
            "serverauth": org(eku: "serverAuth"),
            "anyeku": org(eku: "anyExtendedKeyUsage"),
            "noeku": org(eku: nil),
            "token": org(san: nil, ku: "critical,digitalSignature", eku: nil),
            "criticaleku": org(eku: "critical,emailProtection"),
            "kuencipher": org(ku: "critical,keyEncipherment", eku: "emailProtection"),
            "kunonrep": org(ku: "critical,nonRepudiation"),
            "noku": org(ku: nil),
            "unknowncritical": org(extra: ["1.3.6.1.4.1.55555.1=critical,ASN1:NULL"]),
            "leafca": org(ku: "critical,digitalSignature,keyCertSign", basic: "critical,CA:TRUE"),
            "nc_inside": org(san: "DNS:a.example"),
            "nc_sub": org(san: "DNS:mail.a.example"),
            "nc_outside": org(san: "DNS:b.example"),
            "nc_mixed": org(san: "DNS:a.example,DNS:b.example"),
            "nc_cn": org(san: nil),
        ]
    }

    static func make() throws(TestFailure) -> ValidatorAgreementPKI {
        let dir = NSTemporaryDirectory() + "fedmail-agreement-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: "\(dir)/newcerts", withIntermediateDirectories: true)
        } catch { throw TestFailure("mkdir \(dir): \(error)") }
        let sectionText = sections().sorted { $0.key < $1.key }.map { "[ \($0.key) ]\n" + $0.value.joined(separator: "\n") }
        let config = """
        [ req ]
        distinguished_name = req_dn
        [ req_dn ]
        [ ca ]
        default_ca = ca_default
        [ ca_default ]
        database = \(dir)/index.txt
        new_certs_dir = \(dir)/newcerts
        serial = \(dir)/serial
        default_md = sha256
        default_days = 30
        policy = policy_any
        unique_subject = no
        email_in_dn = no
        copy_extensions = none
        [ policy_any ]
        organizationName = optional
        commonName = optional

        """ + sectionText.joined(separator: "\n") + "\n"
        let cnf = "\(dir)/openssl.cnf"
        _ = FileManager.default.createFile(atPath: cnf, contents: Data(config.utf8))
        _ = FileManager.default.createFile(atPath: "\(dir)/index.txt", contents: Data())
        _ = FileManager.default.createFile(atPath: "\(dir)/serial", contents: Data("1000\n".utf8))

        func request(_ name: String, subject: String) throws(TestFailure) {
            try Shell.run("openssl", "req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                          "-keyout", "\(dir)/\(name).key", "-subj", subject, "-out", "\(dir)/\(name).csr")
            chmod("\(dir)/\(name).key", 0o600)
        }
        func anchor(_ name: String, subject: String) throws(TestFailure) {
            try Shell.run("openssl", "req", "-x509", "-config", cnf, "-extensions", "anchor_\(name)", "-newkey", "ec",
                          "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt",
                          "-subj", subject, "-days", "30")
            chmod("\(dir)/\(name).key", 0o600)
        }
        func issue(_ name: String, by issuer: String, section: String, subject: String? = nil,
                   start: String? = nil, end: String? = nil) throws(TestFailure) {
            try request(name, subject: subject ?? "/O=\(name)/CN=\(name)")
            var arguments = ["openssl", "ca", "-batch", "-notext", "-config", cnf, "-cert", "\(dir)/\(issuer).crt",
                             "-keyfile", "\(dir)/\(issuer).key", "-in", "\(dir)/\(name).csr", "-out", "\(dir)/\(name).crt",
                             "-extensions", section]
            if let start, let end { arguments += ["-startdate", start, "-enddate", end] } else { arguments += ["-days", "30"] }
            try Shell.run(arguments)
        }

        try anchor("broker", subject: brokerSubject)
        // The rogue CA is a look-alike: the broker CA's name and profile, its own key.
        try Shell.run("openssl", "req", "-x509", "-config", cnf, "-extensions", "anchor_broker", "-newkey", "ec",
                      "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/rogueca.key", "-out", "\(dir)/rogueca.crt",
                      "-subj", brokerSubject, "-days", "30")
        try anchor("open", subject: "/O=Open CA/CN=Open CA")
        try anchor("nc", subject: "/O=Constrained CA/CN=Constrained CA")
        try anchor("ekuca", subject: "/O=ServerAuth CA/CN=ServerAuth CA")

        for leaf in ["org", "container", "serverauth", "anyeku", "noeku", "criticaleku", "kuencipher", "kunonrep", "noku",
                     "unknowncritical", "leafca"] {
            try issue(leaf, by: "broker", section: leaf)
        }
        try issue("token", by: "broker", section: "token", subject: "/O=FedMail Test Broker/CN=FedMail Token Signing")
        try issue("expired", by: "broker", section: "org", start: "20200101000000Z", end: "20200201000000Z")
        try issue("future", by: "broker", section: "org", start: "20990101000000Z", end: "20990201000000Z")
        try issue("rogue", by: "rogueca", section: "org")

        try issue("int-broker", by: "broker", section: "int_ok")
        try issue("underint-broker", by: "int-broker", section: "org")
        try issue("int-ok", by: "open", section: "int_ok")
        try issue("underint-ok", by: "int-ok", section: "org")
        try issue("int-noca", by: "open", section: "int_noca")
        try issue("underint-noca", by: "int-noca", section: "org")
        try issue("int-serverauth", by: "open", section: "int_serverauth")
        try issue("underint-serverauth", by: "int-serverauth", section: "org")
        try issue("under-ekuca", by: "ekuca", section: "org")

        try issue("nc-inside", by: "nc", section: "nc_inside")
        try issue("nc-sub", by: "nc", section: "nc_sub")
        try issue("nc-outside", by: "nc", section: "nc_outside")
        try issue("nc-mixed", by: "nc", section: "nc_mixed")
        try issue("nc-cn-outside", by: "nc", section: "nc_cn", subject: "/O=nc-cn-outside/CN=b.example")
        return ValidatorAgreementPKI(directory: dir)
    }

    func openSSLCertificate(_ name: String) throws -> OpenSSLCertificate {
        try OpenSSLCertificate.loadOne(path: certificatePath(name))
    }

    func swiftCertificate(_ name: String) throws -> Certificate {
        try Certificate(pemEncoded: String(contentsOfFile: certificatePath(name), encoding: .utf8))
    }

    func observe(_ row: AgreementRow, now: Date) async throws -> ValidatorAgreementTests.Observed {
        // (a) As SignerVerification.verify's non-pinned branch.
        let leaf = try openSSLCertificate(row.leaf)
        let intermediates = try row.intermediates.map(openSSLCertificate)
        let store = try X509TrustStore(anchors: [openSSLCertificate(row.anchor)])
        let stack = try #require(fedmail_sk_X509_new_null())
        for certificate in [leaf] + intermediates { fedmail_sk_X509_push(stack, certificate.pointer) }
        let openSSLReason = try withExtendedLifetime((leaf, intermediates)) {
            let verification = try X509ChainVerification(leaf: leaf, store: store,
                                                         untrusted: X509CertificateStack(taking: stack, ownsCertificates: false),
                                                         time: now, partialChain: false, requireEmailProtection: true)
            return verification.failureReason()
        }

        // (b) KeyContainerValidator, called as is.
        let anchor = try swiftCertificate(row.anchor)
        let pem = try String(contentsOfFile: certificatePath(row.leaf), encoding: .utf8)
        var keyContainerReason: String?
        do {
            _ = try await KeyContainerValidator(brokerCA: anchor).validate(pem, now: now)
        } catch {
            keyContainerReason = "\(error)"
        }

        // (b0) The chain alone, with the intermediates: as TokenVerifier's X5CVerifier.
        var verifier = Verifier(rootCertificates: CertificateStore([anchor])) { RFC5280Policy(validationTime: now) }
        let result = await verifier.validate(leaf: try swiftCertificate(row.leaf),
                                             intermediates: CertificateStore(try row.intermediates.map(swiftCertificate)))
        var chainReason: String?
        if case .couldNotValidate(let failures) = result { chainReason = String(describing: failures).prefix(300).description }

        func verdict(_ reason: String?) -> AgreementRow.Verdict { reason == nil ? .accept : .reject }
        return .init(openSSL: verdict(openSSLReason), openSSLReason: openSSLReason,
                     keyContainer: verdict(keyContainerReason), keyContainerReason: keyContainerReason,
                     chain: verdict(chainReason), chainReason: chainReason)
    }

    /// Seals a message from `domain` signed by `leaf` to the test PKI's RSA
    /// organization and opens it with `anchor` as the broker CA: nil when it
    /// opens, else the error code.
    func openSealed(signedBy leaf: String, anchor: String, from domain: String, now: Date) throws -> OpenError.Code? {
        let pki = try TestPKI.get()
        let scratch = try Scratch()
        let signer = try OrganizationIdentity.load(keyPath: keyPath(leaf), certificatePath: certificatePath(leaf))
        let input = scratch.write("original.eml", Array((MessageCorpus.headers(from: "Alice <alice@\(domain)>") + "\r\nhello\r\n").utf8))
        try Sealer(signer: signer)
            .seal(originalPath: input, outputPath: scratch.file("sealed.eml"),
                  recipients: [.certificate(pki.rsaOrg.certificate)], control: ControlFlags(tokens: ["t1"]))
        let opener = Opener(identities: [pki.rsaOrg], brokerCA: [try openSSLCertificate(anchor)], temporaryDirectory: scratch.path)
        do {
            _ = try opener.open(sealedPath: scratch.file("sealed.eml"), outputPath: scratch.file("out.eml"), now: now)
            return nil
        } catch {
            return error.code
        }
    }
}
