import Testing
@testable import FedMailCore

private func headers(_ text: String) -> MessageHeaderSection {
    MessageHeaderSection.parse(Array((text + "\r\n\r\nbody\r\n").utf8))
}

@Suite("scanning settings of fedmail-milter")
struct MilterScanSettingsTests {
    func parse(_ extra: String) throws -> MilterScanSettings {
        try MilterConfiguration(parsing: "Socket local:/run/x.sock\n" + extra, path: "/etc/m.conf").scanning
    }

    func failure(_ extra: String) -> String? {
        do { _ = try parse(extra); return nil } catch { return "\(error)" }
    }

    @Test("defaults: no scanner, 60 s, reject infected, tempfail errors, no upstream field trusted, X-Virus-Scanned inbound")
    func defaults() throws {
        let settings = try parse("")
        #expect(settings.clamdSocket == nil)
        #expect(settings.clamdTimeout == 60)
        #expect(settings.onInfected == .reject && settings.onScanError == .tempfail)
        #expect(settings.upstream.virusStatusField == nil && settings.upstream.spamStatusField == nil)
        #expect(settings.inbound.virusField == "X-Virus-Scanned" && settings.inbound.spamField == "X-Spam-Scanned")
        #expect(settings.verdictPolicy == ScanVerdictPolicy(onInfected: .reject, onScanError: .tempfail))
    }

    @Test("every key is read, names case-insensitive")
    func allKeys() throws {
        let settings = try parse("""
            ClamdSocket         inet:3310@127.0.0.1
            clamdtimeout        2m
            On-Infected         quarantine
            ON-SCANERROR        accept
            UpstreamVirusHeader X-Virus-Status
            UpstreamSpamHeader  X-Spam-Status
            UpstreamScanHosts   192.0.2.10, 10.1.0.0/16
            InboundVirusHeader  X-FedMail-Virus
            InboundSpamHeader   X-FedMail-Spam
            """)
        #expect(settings.clamdSocket == .inet(port: 3310, host: "127.0.0.1"))
        #expect(settings.clamdTimeout == 120)
        #expect(settings.onInfected == .quarantine && settings.onScanError == .accept)
        #expect(settings.upstream.virusStatusField == "X-Virus-Status" && settings.upstream.spamStatusField == "X-Spam-Status")
        #expect(settings.inbound.fieldNames == ["X-FedMail-Virus", "X-FedMail-Spam"])
        #expect(settings.isUpstreamScanHost("192.0.2.10") && settings.isUpstreamScanHost("10.1.200.3"))
        #expect(!settings.isUpstreamScanHost("127.0.0.1") && !settings.isUpstreamScanHost(nil))
        #expect(settings.upstreamTrustWarning == nil)
        let unlisted = try parse("UpstreamVirusHeader X-Virus-Status\n")
        #expect(unlisted.upstreamTrustWarning?.contains("UpstreamScanHosts lists no host") == true)
        #expect(!unlisted.isUpstreamScanHost("127.0.0.1"))
        let loopback = try parse("UpstreamVirusHeader X-Virus-Status\nUpstreamScanHosts 127.0.0.0/8\n")
        #expect(loopback.isUpstreamScanHost("127.0.0.1"))
        #expect(loopback.upstreamTrustWarning?.contains("UpstreamScanHosts includes 127.0.0.1") == true, "\(String(describing: loopback.upstreamTrustWarning))")
        #expect(try parse("UpstreamVirusHeader X-Virus-Status\nUpstreamScanHosts 127.0.0.2\n").upstreamTrustWarning == nil)
        #expect(try parse("ClamdSocket /run/clamav/clamd.ctl\n").clamdSocket == .unix(path: "/run/clamav/clamd.ctl"))
        #expect(try parse("ClamdSocket unix:/run/clamav/clamd.ctl\n").clamdSocket == .unix(path: "/run/clamav/clamd.ctl"))
    }

    @Test("bad values name their line")
    func badValues() {
        #expect(failure("ClamdSocket tcp:3310\n")?.hasPrefix("/etc/m.conf:2: 'ClamdSocket':") == true)
        #expect(failure("ClamdSocket inet:99999@127.0.0.1\n")?.hasPrefix("/etc/m.conf:2: 'ClamdSocket':") == true)
        #expect(failure("ClamdTimeout 10m\n")?.hasPrefix("/etc/m.conf:2: 'ClamdTimeout' must be a duration") == true)
        #expect(failure("ClamdTimeout 0\n")?.hasPrefix("/etc/m.conf:2: 'ClamdTimeout'") == true)
        #expect(failure("On-Infected drop\n") == "/etc/m.conf:2: 'On-Infected' must be one of accept, reject, tempfail, quarantine, not 'drop'")
        #expect(failure("# c\nOn-ScanError ignore\n")?.hasPrefix("/etc/m.conf:3: 'On-ScanError'") == true)
        #expect(failure("UpstreamVirusHeader X-Virus-Status:\n")?.hasPrefix("/etc/m.conf:2: 'UpstreamVirusHeader' must be a header field name") == true)
        #expect(failure("UpstreamScanHosts 10.0.0.0/33\n")?.hasPrefix("/etc/m.conf:2: 'UpstreamScanHosts': '10.0.0.0/33'") == true)
        #expect(failure("InboundVirusHeader X Virus\n")?.hasPrefix("/etc/m.conf:2: 'InboundVirusHeader'") == true)
        #expect(failure("InboundVirusHeader X-Scan\nInboundSpamHeader x-scan\n")?.hasPrefix("/etc/m.conf:2: 'InboundVirusHeader' and 'InboundSpamHeader' must be different") == true)
        #expect(failure("ClamdSocket /a\nClamdSocket /b\n")?.hasPrefix("/etc/m.conf:3:") == true)
    }
}

@Suite("scan verdicts: On-Infected and On-ScanError")
struct ScanVerdictPolicyTests {
    let at = "2026-11-29T08:00:00Z"

    @Test("clean proceeds with the engine and time in the flag")
    func clean() {
        let decision = ScanVerdictPolicy().decide(.clean(engine: "ClamAV 1.0.7/27400"), at: at)
        #expect(decision == .proceed(flag: .init(status: "clean", engine: "ClamAV 1.0.7/27400", at: at), note: "clean"))
    }

    @Test("infected is refused by default with 550 5.7.1 naming the signature; tempfail gives 451 4.7.1")
    func infected() {
        let outcome = LocalScanOutcome.infected(signature: "FedMail.Test.Marker.UNOFFICIAL", engine: "ClamAV 1.0.7")
        guard case .refuse(let action, let reject, let tempfail, let reason) = ScanVerdictPolicy().decide(outcome, at: at) else {
            Issue.record("infected mail must not proceed by default"); return
        }
        #expect(action == .reject)
        #expect(reject == DecisionReply(code: "550", enhancedCode: "5.7.1", text: "FedMail: message infected: FedMail.Test.Marker.UNOFFICIAL"))
        #expect(tempfail.code == "451" && tempfail.enhancedCode == "4.7.1")
        #expect(reason.contains("FedMail.Test.Marker.UNOFFICIAL"))
        for action in [MilterConfiguration.FailureAction.tempfail, .quarantine] {
            guard case .refuse(let got, _, _, _) = ScanVerdictPolicy(onInfected: action).decide(outcome, at: at) else {
                Issue.record("On-Infected \(action) must stop the message"); continue
            }
            #expect(got == action)
        }
        #expect(ScanVerdictPolicy(onInfected: .accept).decide(outcome, at: at)
                == .proceed(flag: .init(status: "infected", engine: "ClamAV 1.0.7", at: at),
                            note: "infected (FedMail.Test.Marker.UNOFFICIAL), accepted by On-Infected"))
    }

    @Test("a signature name cannot break the SMTP reply")
    func replySafeSignature() {
        let outcome = LocalScanOutcome.infected(signature: "Bad\r\nName 100%\u{0}" + String(repeating: "x", count: 300), engine: "e")
        guard case .refuse(_, let reject, _, _) = ScanVerdictPolicy().decide(outcome, at: at) else { Issue.record("refuse"); return }
        #expect(!reject.text.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "%") })
        #expect(reject.text.hasPrefix("FedMail: message infected: Bad__Name_100__xx"))
        #expect(reject.text.count <= "FedMail: message infected: ".count + 100)
        guard case .refuse(_, let empty, _, _) = ScanVerdictPolicy().decide(.infected(signature: "", engine: "e"), at: at) else { return }
        #expect(empty.text == "FedMail: message infected: unknown signature")
    }

    @Test("a scan failure tempfails by default (451 4.3.0); accept records not-scanned")
    func failure() {
        let outcome = LocalScanOutcome.failed(reason: "connect-failed: clamd down")
        guard case .refuse(let action, _, let tempfail, let reason) = ScanVerdictPolicy().decide(outcome, at: at) else {
            Issue.record("a failed scan must not pass by default"); return
        }
        #expect(action == .tempfail)
        #expect(tempfail == DecisionReply(code: "451", enhancedCode: "4.3.0", text: "FedMail: virus scanner unavailable, try again later"))
        #expect(reason.contains("clamd down"))
        guard case .proceed(let flag, _) = ScanVerdictPolicy(onScanError: .accept).decide(outcome, at: at) else {
            Issue.record("On-ScanError accept proceeds"); return
        }
        #expect(flag.knownStatus == .notScanned)
        guard case .refuse(.reject, let reject, _, _) = ScanVerdictPolicy(onScanError: .reject).decide(outcome, at: at) else {
            Issue.record("On-ScanError reject"); return
        }
        #expect(reject.code == "550" && reject.enhancedCode == "5.7.0")
    }

    @Test("a message too large for clamd passes as not-scanned (retrying cannot help)")
    func tooLarge() {
        guard case .proceed(let flag, let note) = ScanVerdictPolicy().decide(.tooLarge(reason: "StreamMaxLength"), at: at) else {
            Issue.record("too large proceeds"); return
        }
        #expect(flag == .init(status: "not-scanned", at: at))
        #expect(note.contains("too large"))
    }
}

@Suite("upstream scanner fields (outbound, without a scanner of our own)")
struct UpstreamScanHeadersTests {
    let at = "2026-11-29T08:00:00Z"
    let upstream = UpstreamScanHeaders(virusStatusField: "X-Virus-Status", spamStatusField: "X-Spam-Status")

    @Test("clamav-milter status values")
    func virusValues() {
        #expect(UpstreamVirusVerdict(statusValue: "Clean") == .clean)
        #expect(UpstreamVirusVerdict(statusValue: " clean ") == .clean)
        #expect(UpstreamVirusVerdict(statusValue: "Infected (Win.Test.EICAR_HDB-1)") == .infected(signature: "Win.Test.EICAR_HDB-1"))
        #expect(UpstreamVirusVerdict(statusValue: "INFECTED") == .infected(signature: nil))
        #expect(UpstreamVirusVerdict(statusValue: "Not scanned") == nil)
        #expect(UpstreamVirusVerdict(statusValue: "Clean-ish") == nil)
        #expect(UpstreamVirusVerdict(statusValue: "Infected (") == nil)
    }

    @Test("SpamAssassin and rspamd verdicts")
    func spamValues() {
        #expect(UpstreamSpamVerdict(fieldName: "X-Spam-Status", value: "Yes, score=7.2 required=5.0 tests=A,B")
                == UpstreamSpamVerdict(isSpam: true, score: 7.2))
        #expect(UpstreamSpamVerdict(fieldName: "X-Spam-Status", value: "No, hits=-1.5 required=5.0")
                == UpstreamSpamVerdict(isSpam: false, score: -1.5))
        #expect(UpstreamSpamVerdict(fieldName: "X-Spam-Flag", value: "YES") == UpstreamSpamVerdict(isSpam: true))
        #expect(UpstreamSpamVerdict(fieldName: "X-Spam", value: "No") == UpstreamSpamVerdict(isSpam: false))
        #expect(UpstreamSpamVerdict(fieldName: "X-Spamd-Result", value: "default: False [1.20 / 15.00]; R_SPF_ALLOW(-0.2)[+ip4]")
                == UpstreamSpamVerdict(isSpam: false, score: 1.2))
        #expect(UpstreamSpamVerdict(fieldName: "X-Spamd-Result", value: "default: True [16.0 / 15.00]")?.isSpam == true)
        #expect(UpstreamSpamVerdict(fieldName: "X-Spam-Status", value: "maybe") == nil)
        #expect(UpstreamSpamVerdict(fieldName: "X-Spamd-Result", value: "garbage") == nil)
    }

    @Test("a clean status from an internal host is recorded with the scanner named in X-Virus-Scanned")
    func trustedClean() {
        let section = headers("X-Virus-Scanned: clamav-milter 1.0.7 at relay.a.example\r\nX-Virus-Status: Clean\r\nSubject: x")
        let reading = upstream.virusScan(in: section, fromScanningHost: true, at: at)
        #expect(reading.flag == .init(status: "clean", engine: "clamav-milter 1.0.7 at relay.a.example", at: at))
        #expect(reading.infectedSignature == nil)
    }

    @Test("the same field from a host that is not internal is not trusted: not-scanned")
    func untrustedHost() {
        let section = headers("X-Virus-Status: Clean\r\nX-Spam-Status: No, score=0.1")
        #expect(upstream.virusScan(in: section, fromScanningHost: false, at: at).flag.knownStatus == .notScanned)
        #expect(upstream.spamScan(in: section, fromScanningHost: false, at: at).flag.knownStatus == .notScanned)
    }

    @Test("infected names the signature; several fields must agree; unknown values and no field are not-scanned")
    func infectedAndDisagreement() {
        let infected = upstream.virusScan(in: headers("X-Virus-Status: Clean\r\nX-Virus-Status: Infected (Eicar-Sig)"),
                                          fromScanningHost: true, at: at)
        #expect(infected.infectedSignature == "Eicar-Sig" && infected.flag.knownStatus == .infected)
        #expect(upstream.virusScan(in: headers("X-Virus-Status: Infected"), fromScanningHost: true, at: at).infectedSignature == "unknown signature")
        #expect(upstream.virusScan(in: headers("X-Virus-Status: Clean\r\nX-Virus-Status: Not scanned"), fromScanningHost: true, at: at)
                .flag.knownStatus == .notScanned)
        #expect(upstream.virusScan(in: headers("Subject: x"), fromScanningHost: true, at: at).flag.knownStatus == .notScanned)
        #expect(UpstreamScanHeaders().virusScan(in: headers("X-Virus-Status: Clean"), fromScanningHost: true, at: at)
                .flag.knownStatus == .notScanned)
    }

    @Test("spam: SpamAssassin's verdict with score and checker version")
    func spam() {
        let section = headers("X-Spam-Checker-Version: SpamAssassin 4.0.0 (2022-12-13) on relay\r\nX-Spam-Status: No, score=-0.9 required=5.0")
        let reading = upstream.spamScan(in: section, fromScanningHost: true, at: at)
        #expect(reading.flag == .init(status: "ham", engine: "SpamAssassin 4.0.0 (2022-12-13) on relay", at: at, score: -0.9))
        let rspamd = UpstreamScanHeaders(spamStatusField: "X-Spamd-Result")
            .spamScan(in: headers("X-Spamd-Result: default: True [20.00 / 15.00]"), fromScanningHost: true, at: at)
        #expect(rspamd.flag == .init(status: "spam", engine: "rspamd", at: at, score: 20))
        #expect(upstream.spamScan(in: headers("X-Spam-Status: Yes\r\nX-Spam-Status: No"), fromScanningHost: true, at: at)
                .flag.knownStatus == .notScanned)
    }
}

@Suite("inbound: honoring a partner's signed scan flags")
struct InboundScanTrustTests {
    let trust = InboundScanTrust()
    let clean = ControlFlags(sealedBy: "mx.a.example", tokens: ["t1"],
                             virusScan: .init(.clean, engine: "ClamAV 1.0.7/27400", at: "2026-11-29T08:00:00Z"),
                             spamScan: .init(.ham, engine: "SpamAssassin", score: 0.5))

    @Test("trust=virus-scan and a clean flag: the header, no local scan")
    func honored() {
        #expect(trust.virusDecision(trust: [.virusScan], flags: clean, partner: "a.example")
                == .honor(field: "X-Virus-Scanned",
                          value: "clean by a.example (ClamAV 1.0.7/27400, 2026-11-29T08:00:00Z), trusted by fedmail"))
    }

    @Test("without trust, without a flag, or with anything but clean: scan locally")
    func scanLocally() {
        func isLocal(_ decision: InboundVirusScanDecision) -> Bool {
            if case .scanLocally = decision { return true } else { return false }
        }
        #expect(isLocal(trust.virusDecision(trust: [], flags: clean, partner: "a.example")))
        #expect(isLocal(trust.virusDecision(trust: [.spamScan], flags: clean, partner: "a.example")))
        #expect(isLocal(trust.virusDecision(trust: [.virusScan], flags: ControlFlags(tokens: ["t"]), partner: "a.example")))
        for status in ["not-scanned", "infected", "CLEANISH", ""] {
            var flags = clean
            flags.virusScan = .init(status: status)
            #expect(isLocal(trust.virusDecision(trust: [.virusScan, .spamScan], flags: flags, partner: "a.example")))
        }
        var upper = clean
        upper.virusScan = .init(status: "Clean")
        #expect(!isLocal(trust.virusDecision(trust: [.virusScan], flags: upper, partner: "a.example")))
    }

    @Test("trust=spam-scan passes spam or ham on; otherwise nothing")
    func spam() {
        #expect(trust.spamDecision(trust: [.spamScan], flags: clean, partner: "a.example")
                == .honor(field: "X-Spam-Scanned", value: "ham by a.example (SpamAssassin, score 0.5), trusted by fedmail"))
        if case .honor = trust.spamDecision(trust: [.virusScan], flags: clean, partner: "a.example") { Issue.record("not trusted") }
        var notScanned = clean
        notScanned.spamScan = .init(.notScanned)
        if case .honor = trust.spamDecision(trust: [.spamScan], flags: notScanned, partner: "a.example") { Issue.record("nothing to pass on") }
    }

    @Test("partner text cannot inject header lines or unbalance the comment")
    func sanitized() {
        var flags = clean
        flags.virusScan = .init(status: "clean", engine: "Evil\r\nX-Injected: yes (x", at: "now)")
        guard case .honor(_, let value) = trust.virusDecision(trust: [.virusScan], flags: flags, partner: "a.example") else {
            Issue.record("honor"); return
        }
        #expect(!value.contains("\r") && !value.contains("\n"))
        #expect(value == "clean by a.example (Evil X-Injected: yes [x, now]), trusted by fedmail")
    }

    @Test("a local scan after opening is said differently from a trusted one")
    func localField() {
        let field = trust.locallyScannedField(scanner: "mx.c.example", scan: .init(.clean, engine: "ClamAV 1.0.7/1", at: "t"))
        #expect(field.field == "X-Virus-Scanned")
        #expect(field.value == "clean by mx.c.example (ClamAV 1.0.7/1, t), scanned after opening by fedmail")
        #expect(!field.value.contains("trusted"))
    }
}
