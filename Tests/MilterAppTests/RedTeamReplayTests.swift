import FedMailCore
import Foundation
import Testing
@testable import MilterApp

// Red-team findings on exactly-once delivery. Every test here FAILS on the
// code as first reviewed (fixed since). End to end: /tmp/redteam/t-redteam.sh R5 (real Postfix
// delivers each of these spellings into bob's Maildir: 5 copies of one seal,
// each with fedmail=pass).

@Suite("red team: replay cache")
struct RedTeamReplayTests {
    let seal: [UInt8] = Array(repeating: 7, count: 32)
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)
    let maxAge: TimeInterval = 5 * 86_400

    // The MTA delivers every one of these to the mailbox bob@b.example
    // (RFC 5321 quoted local part, quoted-pair, trailing root dot, source
    // route): the key must be the mailbox, not the spelling.
    @Test("another spelling of a recipient already served is a duplicate")
    func recipientSpellings() throws {
        let cache = ReplayCache(maxAge: maxAge)
        _ = cache.claim(sealID: seal, recipients: ["<bob@b.example>"], queueID: "Q1", now: t0)
        try cache.commit(sealID: seal, recipients: ["<bob@b.example>"], now: t0)
        for spelling in ["<\"bob\"@b.example>", "<\"b\\ob\"@b.example>", "<bob@b.example.>", "<@relay.example:bob@b.example>"] {
            let claim = cache.claim(sealID: seal, recipients: [spelling], queueID: "Q2", now: t0.addingTimeInterval(60))
            #expect(claim.fresh.isEmpty, "\(spelling) is fresh again")
            cache.release(sealID: seal, claim: claim)
        }
    }

    // A signer may date its signature up to allowedClockSkew (300 s) in the
    // future; the record of the first delivery expires MaxMessageAge after
    // the delivery, the policy accepts the seal until MaxMessageAge after
    // signingTime: for those 300 s the same seal is fresh AND passes again.
    @Test("a record outlives every moment the seal still passes the policy")
    func futureSigningTimeOutlivesTheRecord() throws {
        let delivered = Int64(t0.timeIntervalSince1970)
        let signingTime = delivered + 299
        // The cache as the daemon makes it for MaxMessageAge.
        let cache = ReplayCache(maxAge: ReplayCache.recordLifetime(maxMessageAge: Int(maxAge)))
        _ = cache.claim(sealID: seal, recipients: ["<bob@b.example>"], queueID: "Q1", now: t0)
        try cache.commit(sealID: seal, recipients: ["<bob@b.example>"], now: t0)

        let later = delivered + Int64(maxAge) + 120
        let policy = OpeningPolicy(ourDomains: [DomainName("b.example")!], maxMessageAge: Int64(maxAge))
        let verified = VerifiedSeal(
            signer: .init(organization: "Org A", domains: ["a.example"], certificateSHA256: "ab12", pinned: false, signingTime: signingTime),
            recipientKeyID: "cafe", control: ControlFlags(tokens: ["t1"], recipients: [.init(keyId: "cafe", domains: ["b.example"])]),
            fromFields: ["alice@a.example"], senderFields: [], sealID: seal)
        let token = VerifiedTokenClaims(aud: "b.example", purpose: "smtp-federation", sub: "Org A", sdom: ["a.example"],
                                        scf: "ab12", iat: delivered - 60, nbf: delivered - 60, exp: delivered + 3600, jti: "t1")
        let passes: Bool
        if case .pass = policy.evaluate(OpeningFacts(seal: verified, tokens: [.verified(token)], envelopeSender: nil, now: later)) {
            passes = true
        } else { passes = false }
        let fresh = cache.claim(sealID: seal, recipients: ["<bob@b.example>"], queueID: "Q2",
                                now: Date(timeIntervalSince1970: TimeInterval(later))).fresh
        #expect(!(passes && !fresh.isEmpty), "at now = delivery + MaxMessageAge + 120 s the policy passes and the cache says fresh")
    }
}
