import FedMailCore
import Testing

/// The revocation rule of the opening policy (`signer-revoked`,
/// `revocation-unknown`): key compromise refuses whatever the signingTime,
/// other reasons from the revocation date on; a stale or missing CRL is a
/// temporary failure; pinned partners are not subject to the broker's CRL.
@Suite("opening policy: revocation")
struct SignerRevocationTests {
    static let ours: Set<DomainName> = [DomainName("b.example")!]
    let policy = OpeningPolicy(ourDomains: Self.ours, maxMessageAge: 5 * 86_400)
    let now: Int64 = 1_000_000
    let revokedAt: Int64 = 999_000
    static let serial = "0a1b2c"

    func seal(signingTime: Int64, pinned: Bool = false, serial: String = Self.serial) -> VerifiedSeal {
        VerifiedSeal(signer: .init(organization: "Org A", domains: ["a.example"], certificateSHA256: "ab12", pinned: pinned,
                                   signingTime: signingTime, serial: serial),
                     recipientKeyID: "cafe", control: ControlFlags(tokens: pinned ? [] : ["t1"], recipients: [.init(keyId: "cafe", domains: ["b.example"])]),
                     fromFields: ["alice@a.example"], senderFields: [], sealID: [1])
    }

    func list(_ reason: RevocationReason?, thisUpdate: Int64? = nil, serial: String = "0A1B2C") -> RevocationList {
        var entries: [String: RevocationList.Entry] = [:]
        if let reason { entries[RevocationList.normalizedSerial(Hex.decode(serial.lowercased()) ?? [])] = .init(revokedAt: revokedAt, reason: reason) }
        return RevocationList(entries: entries, thisUpdate: thisUpdate ?? now - 60, nextUpdate: (thisUpdate ?? now - 60) + 86_400, number: 7)
    }

    func verdict(_ seal: VerifiedSeal, _ state: RevocationState) -> String {
        let token = VerifiedTokenClaims(aud: "b.example", purpose: "smtp-federation", sub: "Org A", sdom: ["a.example"], scf: "ab12",
                                        iat: 900_000, nbf: 900_000, exp: 1_100_000, jti: "t1")
        var policy = self.policy
        if seal.signer.pinned {
            policy.pins = CertificatePins(fingerprintsByDomain: [DomainName("a.example")!: "ab12"])
        }
        let facts = OpeningFacts(seal: seal, tokens: seal.signer.pinned ? [] : [.verified(token)], envelopeSender: nil, now: now,
                                 revocation: state)
        switch policy.evaluate(facts) {
        case .pass: return "pass"
        case .fail(let failure): return failure.check.name
        }
    }

    @Test("the rule table", arguments: [
        // (reason, signingTime relative to the revocation, expected)
        (RevocationReason?.none, -100, "pass"),
        (.keyCompromise, -100, "signer-revoked"),         // backdated: refused anyway
        (.keyCompromise, +100, "signer-revoked"),
        (.superseded, -100, "pass"),                      // signed before the revocation: stands
        (.superseded, 0, "signer-revoked"),               // at the revocation: refused
        (.superseded, +100, "signer-revoked"),
        // The signer chooses its signingTime: an organization expelled
        // (cessation of operation) or that lost a domain (affiliation
        // changed) could backdate it past the revocation, so only a
        // routine replacement (superseded) keeps earlier signatures.
        (.affiliationChanged, -1, "signer-revoked"),
        (.affiliationChanged, +1, "signer-revoked"),
        (.cessationOfOperation, -1, "signer-revoked"),
        (.cessationOfOperation, -100, "signer-revoked"),
        (.cessationOfOperation, +1, "signer-revoked"),
        (.unspecified, -1, "signer-revoked"),
        (.unspecified, +1, "signer-revoked"),
    ] as [(RevocationReason?, Int64, String)])
    func table(reason: RevocationReason?, offset: Int64, expected: String) {
        #expect(verdict(seal(signingTime: revokedAt + offset), .list(list(reason), maxAge: 86_400)) == expected)
    }

    @Test("serials compare as numbers: leading zeros and case do not matter; another serial is not revoked")
    func serialForms() {
        #expect(verdict(seal(signingTime: revokedAt + 1, serial: "000A1B2C"), .list(list(.superseded), maxAge: 86_400)) == "signer-revoked")
        #expect(verdict(seal(signingTime: revokedAt + 1, serial: "0a1b2d"), .list(list(.superseded), maxAge: 86_400)) == "pass")
        #expect(RevocationList.normalizedSerial([0, 0, 0x0a]) == "0a")
        #expect(RevocationList.normalizedSerial([0]) == "00")
    }

    @Test("a CRL older than CRLMaxAge, past its nextUpdate, from the future, or none at all: revocation-unknown (tempfail), even for an unrevoked signer")
    func staleOrMissing() {
        let signed = seal(signingTime: revokedAt - 100)
        #expect(verdict(signed, .list(list(nil, thisUpdate: now - 3_601), maxAge: 3_600)) == "revocation-unknown")
        #expect(verdict(signed, .list(list(nil, thisUpdate: now - 3_599), maxAge: 3_600)) == "pass")
        var expired = list(nil, thisUpdate: now - 100)
        expired.nextUpdate = now - 400
        #expect(verdict(signed, .list(expired, maxAge: 86_400)) == "revocation-unknown")
        #expect(verdict(signed, .list(list(nil, thisUpdate: now + 3_600), maxAge: 86_400)) == "revocation-unknown")
        #expect(verdict(signed, .unavailable(reason: "broker down")) == "revocation-unknown")
        #expect(verdict(seal(signingTime: revokedAt, serial: ""), .list(list(nil), maxAge: 86_400)) == "revocation-unknown")
        #expect(FailureDecision.revocationUnknown(check: "revocation-unknown").reply
                == DecisionReply(code: "451", enhancedCode: "4.7.0", text: "FedMail: revocation-unknown"))
    }

    @Test("pinned static partners (cert=) are not subject to the broker's CRL, stale or not")
    func pinned() {
        #expect(verdict(seal(signingTime: revokedAt + 100, pinned: true), .list(list(.keyCompromise), maxAge: 86_400)) == "pass")
        #expect(verdict(seal(signingTime: revokedAt + 100, pinned: true), .unavailable(reason: "none")) == "pass")
    }

    @Test("without a CRL to check (fedmailctl open), nothing is refused for revocation")
    func notChecked() {
        #expect(verdict(seal(signingTime: revokedAt + 100), .notChecked) == "pass")
    }
}
