import Testing
@testable import FedMailCore

@Suite("federation settings of fedmail-milter")
struct MilterFederationSettingsTests {
    func parse(_ extra: String) throws -> MilterFederationSettings {
        try MilterConfiguration(parsing: "Socket local:/run/x.sock\n" + extra, path: "/etc/m.conf").federation
    }

    func failure(_ extra: String) -> String? {
        do { _ = try parse(extra); return nil } catch { return "\(error)" }
    }

    @Test("defaults: both ways, split, loopback internal hosts, 5 days, 10 s, reject bad seals")
    func defaults() throws {
        let settings = try parse("")
        #expect(settings.mode == .both)
        #expect(settings.mixedRecipients == .split)
        #expect(settings.internalHosts.count == 2)
        #expect(settings.internalHosts.contains { $0.contains("127.0.0.1") } && settings.internalHosts.contains { $0.contains("::1") })
        #expect(!settings.internalHosts.contains { $0.contains("192.0.2.1") })
        #expect(settings.maxMessageAge == 5 * 86_400)
        #expect(settings.brokerTimeout == 10)
        #expect(settings.protectSubject)
        #expect(settings.onBadSeal == .reject && settings.onNotForUs == .reject && settings.onSpoofedPartner == .reject)
        #expect(settings.onBrokerUnavailable == nil)
        #expect(settings.authservID == nil)
    }

    @Test("every key is read")
    func allKeys() throws {
        let settings = try parse("""
            Mode seal
            Domains Example.ORG, bücher.example
            AuthservID mx.example.org
            InternalHosts 10.0.0.0/8 192.0.2.1
            MTA ORIGINATING submission
            OrgKey /etc/fedmail/org.key
            OrgCertificate /etc/fedmail/org.crt
            BrokerURL https://broker.example:8443/
            Broker eu https://eu.example:8443
            Broker us https://us.example:8443
            BrokerCA /etc/fedmail/ca.crt
            FederationAllowlist /etc/fedmail/allow
            TokenCacheDir /var/cache/fedmail
            MixedRecipients defer
            Reinject inet:10026@127.0.0.1
            ProtectSubject no
            MaxMessageAge 2d
            BrokerTimeout 5s
            On-BrokerUnavailable quarantine
            On-BadSeal tempfail
            On-NotForUs accept
            On-SpoofedPartner quarantine
            """)
        #expect(settings.mode == .seal && settings.mode.seals && !settings.mode.opens)
        #expect(settings.domains.map(\.value) == ["example.org", "xn--bcher-kva.example"])
        #expect(settings.authservID == "mx.example.org")
        #expect(settings.internalHosts.count == 2)
        #expect(settings.mtaNames == ["ORIGINATING", "submission"])
        #expect(settings.brokerURL == "https://broker.example:8443")
        #expect(settings.brokerURL(named: "EU") == "https://eu.example:8443")
        #expect(settings.brokerURL(named: nil) == "https://broker.example:8443")
        #expect(settings.brokerURL(named: "asia") == nil)
        #expect(settings.mixedRecipients == .defer)
        #expect(settings.reinject == .inet(port: 10026, host: "127.0.0.1"))
        #expect(!settings.protectSubject)
        #expect(settings.maxMessageAge == 2 * 86_400 && settings.brokerTimeout == 5)
        #expect(settings.onBrokerUnavailable == .quarantine && settings.onBadSeal == .tempfail)
        #expect(settings.onNotForUs == .accept && settings.onSpoofedPartner == .quarantine)
        #expect(settings.directionPolicy.isLocal(DomainName("EXAMPLE.org")!))
    }

    @Test("Reinject takes a unix socket (only the MTA's own users may connect to it) or a TCP port")
    func reinjectForms() throws {
        #expect(try parse("Reinject unix:/var/spool/postfix/public/fedmail-reinject\n").reinject
                    == .unix(path: "/var/spool/postfix/public/fedmail-reinject"))
        #expect(try parse("Reinject inet:10026@127.0.0.1\n").reinject == .inet(port: 10026, host: "127.0.0.1"))
    }

    @Test("bad values name their line")
    func badValues() {
        #expect(failure("Mode relay\n") == "/etc/m.conf:2: 'Mode' must be one of seal, open, both, not 'relay'")
        #expect(failure("Domains example..org\n")?.hasPrefix("/etc/m.conf:2: 'Domains': 'example..org' is not a valid domain") == true)
        #expect(failure("InternalHosts 10.0.0.0/33\n")?.hasPrefix("/etc/m.conf:2: 'InternalHosts'") == true)
        #expect(failure("BrokerURL http://broker\n")?.contains("is not an https:// URL") == true)
        #expect(failure("Reinject inet:10026\n")?.hasPrefix("/etc/m.conf:2: 'Reinject' must be unix:/PATH or inet:PORT@HOST") == true)
        #expect(failure("Reinject local:tmp/x\n")?.hasPrefix("/etc/m.conf:2: 'Reinject'") == true)
        #expect(failure("MixedRecipients maybe\n")?.hasPrefix("/etc/m.conf:2:") == true)
        #expect(failure("On-BadSeal drop\n") == "/etc/m.conf:2: 'On-BadSeal' must be one of accept, reject, tempfail, quarantine, not 'drop'")
        #expect(failure("BrokerTimeout 10m\n")?.hasPrefix("/etc/m.conf:2: 'BrokerTimeout' must be a duration") == true)
        #expect(failure("Broker eu https://a.example\nBroker EU https://b.example\n")?.hasPrefix("/etc/m.conf:3: broker 'EU' is already defined") == true)
        #expect(failure("AuthservID a;b\n")?.hasPrefix("/etc/m.conf:2: 'AuthservID'") == true)
        #expect(failure("OrgKey relative/org.key\n")?.hasPrefix("/etc/m.conf:2: 'OrgKey' must be an absolute path") == true)
    }
}

@Suite("federation decisions")
struct FederationDecisionTests {
    let allowlist: FederationAllowlist

    init() throws {
        allowlist = try FederationAllowlist(parsing: """
            partner.example       require       trust=virus-scan
            *.subsidiary.example  opportunistic
            legacy.example        never
            """, path: "allow")
    }

    @Test("a message may be sealed by its S/MIME enveloped content type or a FedMail-Token field")
    func sealedDetection() {
        #expect(SealedMessageDetection.mayBeSealed(fields: [("Content-Type", "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m")]))
        #expect(SealedMessageDetection.mayBeSealed(fields: [("content-type", "Application/PKCS7-MIME;\n\tsmime-type=\"authenveloped-data\"")]))
        #expect(SealedMessageDetection.mayBeSealed(fields: [("FedMail-Token", "v=1; d=a.example; t=x.y.z")]))
        // Enveloped (CBC) S/MIME may be for our key: looked at, refused as not AEAD if it is.
        #expect(SealedMessageDetection.mayBeSealed(fields: [("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")]))
        #expect(!SealedMessageDetection.mayBeSealed(fields: [("Content-Type", "application/pkcs7-mime; smime-type=signed-data")]))
        #expect(!SealedMessageDetection.mayBeSealed(fields: [("Content-Type", "text/plain"), ("Subject", "application/pkcs7-mime")]))
    }

    @Test("only an AuthEnvelopedData content type is FedMail's")
    func sealedContentType() {
        #expect(SealedMessageDetection.hasSealedContentType(fields: [("Content-Type", "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m")]))
        #expect(!SealedMessageDetection.hasSealedContentType(fields: [("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")]))
        #expect(!SealedMessageDetection.hasSealedContentType(fields: [("FedMail-Token", "v=1; d=a.example; t=x.y.z")]))
    }

    @Test("plaintext From a require partner is spoofed; opportunistic, never and unlisted are not")
    func spoofedPartner() {
        func partner(_ values: String...) -> String? {
            SpoofedPartnerCheck.requiredPartner(inFieldValues: values, allowlist: allowlist)?.value
        }
        #expect(partner("ceo@Partner.Example") == "partner.example")
        #expect(partner("x@a.subsidiary.example") == nil)
        #expect(partner("x@legacy.example, y@other.example") == nil)
        #expect(partner("x@other.example", "y@partner.example") == "partner.example")
    }

    @Test("the require rule sees a partner anywhere in From: comments, quoted-pairs, display names")
    func spoofedPartnerHidden() {
        func partner(_ value: String) -> String? {
            SpoofedPartnerCheck.requiredPartner(inFieldValues: [value], allowlist: allowlist)?.value
        }
        // The quoted-pair-in-comment trick that once hid the real domain.
        #expect(partner(#"ceo@partner.example (\x)"#) == "partner.example")
        #expect(partner(#""B CEO" <ceo@x.example (\@\p\a\r\t\n\e\r\.\e\x\a\m\p\l\e)>"#) == "partner.example")
        #expect(partner(#""ceo@partner.example" <someone@elsewhere.example>"#) == "partner.example")
        #expect(partner("Partner.Example Billing <billing@elsewhere.example>") == "partner.example")
        #expect(partner("no partner here <a@elsewhere.example>") == nil)
    }

    @Test("Authentication-Results under our authserv-id, as a token or a quoted-string, any case")
    func forgedAuthservID() {
        let ours = ["mx.b.example", "relay.b.example"]
        for value in ["mx.b.example; fedmail=pass", "MX.B.Example;fedmail=pass", #""mx.b.example"; fedmail=pass"#,
                      #" (comment) "mx.b.\example" 1; fedmail=pass"#, "\r\n\tmx.b.example;\r\n\tfedmail=pass",
                      "relay.b.example; spf=pass", #""mx.b.example; fedmail=pass"#] {
            #expect(AuthenticationResults.fieldValue(value, claimsAnyOf: ours), "\(value)")
        }
        for value in ["mx.a.example; fedmail=pass", "mx.b.example.evil; fedmail=pass", #""other"; fedmail=pass"#] {
            #expect(!AuthenticationResults.fieldValue(value, claimsAnyOf: ours), "\(value)")
        }
        #expect(AuthenticationResults.authservID(ofFieldValue: #""mx.b.example" ; none"#) == "mx.b.example")
    }

    @Test("a failed verdict names its check in a comment")
    func failVerdict() {
        let ar = AuthenticationResults(authservID: "mx.b.test", results: [.init(method: "fedmail", result: "fail", comment: "token-validity")])
        #expect(ar.singleLineFieldValue == "mx.b.test; fedmail=fail (token-validity)")
    }

    @Test("defer: the first recipient fixes the class, the other class is refused")
    func classGate() {
        var gate = RecipientClassGate()
        let first = gate.admits(.federated), second = gate.admits(.federated), third = gate.admits(.traditional)
        #expect(first && second && !third)
        #expect(gate.firstClass == .federated)
        var other = RecipientClassGate()
        let a = other.admits(.traditional), b = other.admits(.federated)
        #expect(a && !b)
    }

    @Test("folding keeps lines short and the token readable")
    func folding() throws {
        let token = String(repeating: "abcdefghij", count: 150) + ".payload.sig"
        let value = FedMailTokenHeader(domain: "partner.example", token: token).value
        let folded = HeaderFolding.fold(value)
        let lines = folded.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.count > 10)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 })
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("\t") })
        let unfolded = folded.replacing("\r\n", with: "")
        #expect(FedMailTokenHeader.parse(value: unfolded)?.token == token)
        #expect(HeaderFolding.fold("short") == "short")
    }

    @Test("Authentication-Results on one line")
    func singleLine() {
        let ar = AuthenticationResults(authservID: "mx.b.test", results: [
            .init(method: "fedmail", result: "pass", properties: [("header.from", "a.example"), ("policy.signer", "Org A"), ("policy.token", "abc")]),
        ])
        #expect(ar.singleLineFieldValue == "mx.b.test; fedmail=pass header.from=a.example policy.signer=\"Org A\" policy.token=abc")
    }
}

@Suite("opening policy: what fedmail=pass requires")
struct OpeningPolicyTests {
    static let ours: Set<DomainName> = [DomainName("b.example")!, DomainName("b2.example")!]
    static let signerSHA = "ab12"
    let policy = OpeningPolicy(ourDomains: Self.ours, maxMessageAge: 5 * 86_400)
    let now: Int64 = 1_000_000

    func token(jti: String = "t1", aud: String = "b.example", sub: String = "Org A", sdom: [String] = ["a.example"],
               scf: String = "AB12", iat: Int64 = 999_000, exp: Int64 = 1_003_600) -> VerifiedTokenClaims {
        VerifiedTokenClaims(aud: aud, purpose: "smtp-federation", sub: sub, sdom: sdom, scf: scf, iat: iat, nbf: iat, exp: exp, jti: jti)
    }

    func seal(from: [String] = ["Alice <alice@a.example>"], sender: [String] = [], signerDomains: [String] = ["a.example"],
              signingTime: Int64 = 999_500, pinned: Bool = false, sha: String = "ab12",
              recipients: [ControlFlags.Recipient] = [.init(keyId: "cafe", domains: ["b.example"])],
              tokenIDs: [String] = ["t1"], keyID: String = "CAFE") -> VerifiedSeal {
        VerifiedSeal(signer: .init(organization: "Org A", domains: signerDomains, certificateSHA256: sha, pinned: pinned,
                                   signingTime: signingTime),
                     recipientKeyID: keyID, control: ControlFlags(tokens: tokenIDs, recipients: recipients),
                     fromFields: from, senderFields: sender, sealID: [1, 2, 3])
    }

    func verdict(_ seal: VerifiedSeal, tokens: [VerifiedTokenClaims]? = nil, envelope: String? = "<bounce@a.example>",
                 policy: OpeningPolicy? = nil) -> String {
        let facts = OpeningFacts(seal: seal, tokens: (tokens ?? [token()]).map { .verified($0) }, envelopeSender: envelope, now: now)
        switch (policy ?? self.policy).evaluate(facts) {
        case .pass: return "pass"
        case .fail(let failure): return failure.check.name
        }
    }

    @Test("a genuine message passes")
    func genuine() {
        #expect(verdict(seal()) == "pass")
        #expect(verdict(seal(), envelope: nil) == "pass")
        #expect(verdict(seal(), envelope: "<>") == "pass")
        #expect(verdict(seal(), envelope: "<bounces+x=y@lists.a.example>") == "pass")
        #expect(verdict(seal(from: [#"alice@a.example (Alice \(Sales\))"#])) == "pass")
        #expect(verdict(seal(from: ["\"Doe, Jane\" <jane@A.Example>,\r\n bob@a.example"])) == "pass")
    }

    @Test("the quoted-pair-in-comment From trick does not pass as a.example")
    func commentQuotedPairBypass() {
        // Every client shows ceo@b.example; a.example's signer must not vouch for it.
        let attack = #""B CEO" <ceo@b.example (\@\a\.\e\x\a\m\p\l\e)>"#
        #expect(verdict(seal(from: [attack])) == "signer-domain-mismatch")
    }

    @Test("every author mailbox counts: several From fields, a list, Sender")
    func everyAuthor() {
        #expect(verdict(seal(from: ["alice@a.example", "ceo@b.example"])) == "signer-domain-mismatch")
        #expect(verdict(seal(from: ["alice@a.example, ceo@b.example"])) == "signer-domain-mismatch")
        #expect(verdict(seal(sender: ["ceo@b.example"])) == "signer-domain-mismatch")
        #expect(verdict(seal(from: [])) == "from-missing")
        #expect(verdict(seal(from: ["alice@a.example (unterminated"])) == "from-unparseable")
        #expect(verdict(seal(sender: ["a@a.example, b@a.example"])) == "sender-unparseable")
        let many = (0..<101).map { "u\($0)@a.example" }.joined(separator: ", ")
        #expect(verdict(seal(from: [many])) != "pass")
    }

    @Test("the token's sdom and sub are held against the message")
    func tokenSenderClaims() {
        // A domain removed from the organization at the broker stops working at once.
        #expect(verdict(seal(signerDomains: ["a.example", "old.example"]), tokens: [token(sdom: ["a.example"])]) == "pass")
        #expect(verdict(seal(from: ["x@old.example"], signerDomains: ["a.example", "old.example"]),
                        tokens: [token(sdom: ["a.example"])], envelope: nil) == "token-sender-domain")
        #expect(verdict(seal(), tokens: [token(sub: "Org C")]) == "token-signer")
        #expect(verdict(seal(), tokens: [token(scf: "ffff")]) == "token-signer")
    }

    @Test("signingTime must lie inside the token's window and within MaxMessageAge of our clock")
    func clock() {
        #expect(verdict(seal(signingTime: 998_000)) == "token-validity")  // before iat
        #expect(verdict(seal(signingTime: 1_003_700)) == "token-validity")  // after exp
        // A backdated signature with an old token: the token window fits, our clock does not.
        let old = token(iat: now - 6 * 86_400, exp: now - 6 * 86_400 + 3600)
        #expect(verdict(seal(signingTime: now - 6 * 86_400 + 60), tokens: [old]) == "too-old")
        let future = token(iat: now + 3600, exp: now + 7200)
        #expect(verdict(seal(signingTime: now + 3700), tokens: [future]) == "too-old")
    }

    @Test("each token check fails on its own")
    func eachTokenCheck() {
        #expect(verdict(seal(), tokens: [token(aud: "c.example")]) == "token-audience")
        var login = token(); login.purpose = "login"
        #expect(verdict(seal(), tokens: [login]) == "token-purpose")
        #expect(verdict(seal(tokenIDs: ["t2"])) == "token-binding")
        #expect(verdict(seal(), tokens: []) == "token-missing")
        let bad = OpeningFacts(seal: seal(), tokens: [.unverifiable(domain: "b.example", reason: "rogue broker")],
                               envelopeSender: nil, now: now)
        guard case .fail(let failure) = policy.evaluate(bad) else { Issue.record("passed"); return }
        #expect(failure.check == .tokenSignature)
    }

    @Test("the control part must name us: re-encrypting another organization's seal to us fails")
    func recipientBinding() {
        // Organization C received A's message and re-encrypts the signed entity to B.
        #expect(verdict(seal(recipients: [.init(keyId: "c0ffee", domains: ["c.example"])])) == "recipient-binding")
        #expect(verdict(seal(recipients: [])) == "recipient-binding")
        #expect(verdict(seal(recipients: [.init(keyId: "cafe", domains: ["c.example"])])) == "recipient-binding")
        #expect(verdict(seal(recipients: [.init(keyId: "cafe", domains: ["B2.example"])])) == "pass")
    }

    @Test("the envelope sender must be the signer's domain or a subdomain")
    func envelopeSender() {
        #expect(verdict(seal(), envelope: "<x@evil.example>") == "envelope-sender-domain")
        #expect(verdict(seal(), envelope: "<x@nota.example>") == "envelope-sender-domain")
        #expect(verdict(seal(), envelope: "<x@@a.example>") == "envelope-sender-unparseable")
    }

    @Test("pins win: a pinned domain accepts only its certificate, a pinned certificate only its domains")
    func pins() throws {
        let allowlist = try FederationAllowlist(parsing: "a.example require cert=/etc/a.pem\np.example require cert=/etc/p.pem\n", path: "al")
        var pinned = policy
        pinned.pins = CertificatePins(allowlist: allowlist, fingerprintsByPath: ["/etc/a.pem": "AB12", "/etc/p.pem": "9999"])
        // A broker-chained signer that claims a pinned domain is refused.
        #expect(verdict(seal(), policy: pinned) == "signer-not-pinned-for-domain")
        // The pinned certificate itself passes, with no token.
        #expect(verdict(seal(pinned: true), tokens: [], policy: pinned) == "pass")
        // Another pinned certificate (p.example's) does not sign for a.example.
        #expect(verdict(seal(pinned: true, sha: "9999"), tokens: [], policy: pinned) == "signer-not-pinned-for-domain")
        // A pinned certificate signing for an unpinned domain.
        #expect(verdict(seal(from: ["x@q.example"], signerDomains: ["q.example"], pinned: true), tokens: [], envelope: nil,
                        policy: pinned) == "signer-not-pinned-for-domain")
    }

    @Test("message age against our clock")
    func age() {
        var short = policy
        short.maxMessageAge = 60
        #expect(verdict(seal(signingTime: now - 61), tokens: [token(iat: now - 100)], policy: short) == "too-old")
        #expect(verdict(seal(signingTime: now - 59), tokens: [token(iat: now - 100)], policy: short) == "pass")
    }
}

@Suite("opening policy: recipient-address")
struct RecipientAddressPolicyTests {
    static func seal(addresses: [String]?, others: [String]? = nil) -> VerifiedSeal {
        var recipients = [ControlFlags.Recipient(keyId: "abcd", domains: ["b.example"], addresses: addresses)]
        if let others { recipients.append(.init(keyId: "ef01", domains: ["c.example"], addresses: others)) }
        return VerifiedSeal(
            signer: .init(organization: "A", domains: ["a.example"], certificateSHA256: "00", pinned: false, signingTime: 1_000_000,
                          serial: "01"),
            recipientKeyID: "abcd", control: ControlFlags(recipients: recipients), fromFields: ["alice@a.example"],
            senderFields: [], sealID: [1])
    }

    static func verdict(_ seal: VerifiedSeal, _ recipients: [OpeningFacts.EnvelopeRecipient]?) -> OpeningFailure.Check? {
        let policy = OpeningPolicy(ourDomains: [DomainName("b.example")!], maxMessageAge: 3600, tokenRule: .checkedIfPresent)
        switch policy.evaluate(OpeningFacts(seal: seal, tokens: [], envelopeSender: nil, now: 1_000_000, envelopeRecipients: recipients)) {
        case .pass: return nil
        case .fail(let failure): return failure.check
        }
    }

    @Test("every envelope recipient must be listed (for us or another organization of the copy), when the seal lists any")
    func listed() {
        let r = { (address: String, digest: String?) in OpeningFacts.EnvelopeRecipient(address: address, digest: digest) }
        let seal = Self.seal(addresses: ["d1", "d2"], others: ["d3"])
        #expect(Self.verdict(seal, [r("bob", "d1")]) == nil)
        #expect(Self.verdict(seal, [r("bob", "d1"), r("carol", "D2"), r("dave", "d3")]) == nil)
        #expect(Self.verdict(seal, [r("bob", "d1"), r("eve", "d9")]) == .recipientAddress)
        #expect(Self.verdict(seal, [r("root", nil)]) == .recipientAddress)
        // Nothing to check (a command-line open), or a seal that binds none (fedmailctl seal).
        #expect(Self.verdict(seal, nil) == nil)
        #expect(Self.verdict(Self.seal(addresses: nil), [r("eve", "d9")]) == nil)
    }
}
