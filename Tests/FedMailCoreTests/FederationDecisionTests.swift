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

    @Test("bad values name their line")
    func badValues() {
        #expect(failure("Mode relay\n") == "/etc/m.conf:2: 'Mode' must be one of seal, open, both, not 'relay'")
        #expect(failure("Domains example..org\n")?.hasPrefix("/etc/m.conf:2: 'Domains': 'example..org' is not a valid domain") == true)
        #expect(failure("InternalHosts 10.0.0.0/33\n")?.hasPrefix("/etc/m.conf:2: 'InternalHosts'") == true)
        #expect(failure("BrokerURL http://broker\n")?.contains("is not an https:// URL") == true)
        #expect(failure("Reinject local:/tmp/x\n")?.hasPrefix("/etc/m.conf:2: 'Reinject' must be inet:PORT@HOST") == true)
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

    @Test("a sealed message is recognized by its content type or a FedMail-Token field")
    func sealedDetection() {
        #expect(SealedMessageDetection.isSealed(fields: [("Content-Type", "application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m")]))
        #expect(SealedMessageDetection.isSealed(fields: [("content-type", "Application/PKCS7-MIME;\n\tsmime-type=\"authenveloped-data\"")]))
        #expect(SealedMessageDetection.isSealed(fields: [("FedMail-Token", "v=1; d=a.example; t=x.y.z")]))
        #expect(!SealedMessageDetection.isSealed(fields: [("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")]))
        #expect(!SealedMessageDetection.isSealed(fields: [("Content-Type", "text/plain"), ("Subject", "application/pkcs7-mime")]))
    }

    @Test("plaintext From a require partner is spoofed; opportunistic, never and unlisted are not")
    func spoofedPartner() {
        #expect(SpoofedPartnerCheck.requiredPartner(fromDomains: ["Partner.Example"], allowlist: allowlist)?.value == "partner.example")
        #expect(SpoofedPartnerCheck.requiredPartner(fromDomains: ["a.subsidiary.example"], allowlist: allowlist) == nil)
        #expect(SpoofedPartnerCheck.requiredPartner(fromDomains: ["legacy.example", "other.example"], allowlist: allowlist) == nil)
        #expect(SpoofedPartnerCheck.requiredPartner(fromDomains: ["other.example", "partner.example"], allowlist: allowlist)?.value == "partner.example")
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

@Suite("token binding to a sealed message")
struct SealTokenBindingTests {
    let binding = SealTokenBinding(ourDomains: [DomainName("b.example")!, DomainName("b2.example")!])
    let good = SealTokenBinding.Claims(aud: "b.example", purpose: "smtp-federation", nbf: 1000, exp: 5000, scf: "AB12", jti: "t1")

    func failure(_ claims: SealTokenBinding.Claims, signingTime: Int64 = 2000, scf: String = "ab12", ids: [String] = ["t1"]) -> String? {
        do {
            try binding.check(claims, signingTime: signingTime, signerCertificateSHA256: scf, signedTokenIDs: ids)
            return nil
        } catch { return error.check }
    }

    @Test("a good token binds")
    func goodToken() {
        #expect(failure(good) == nil)
        #expect(failure(good, signingTime: 5059) == nil) // within the leeway
    }

    @Test("each check fails on its own")
    func eachCheck() {
        var other = good; other.aud = "c.example"
        #expect(failure(other) == "token-audience")
        other = good; other.purpose = "login"
        #expect(failure(other) == "token-purpose")
        #expect(failure(good, signingTime: 900) == "token-validity")
        #expect(failure(good, signingTime: 6000) == "token-validity")
        #expect(failure(good, scf: "ffff") == "token-signer")
        #expect(failure(good, ids: ["t2"]) == "token-binding")
    }
}
