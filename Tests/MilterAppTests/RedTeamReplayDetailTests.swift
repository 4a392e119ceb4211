import FedMailCore
import Foundation
import Testing
@testable import MilterApp

// Red-team finding (second round, on 939e20a): the replay cache keys the
// recipient's spelling minus quoting/route/dot, but the MTA also folds the
// address extension: with recipient_delimiter = + (Debian's packaged
// main.cf) bob+1@, bob+2@, bob+@ ... are all delivered into bob's mailbox.
// End to end: /tmp/redteam/t-redteam.sh R5b (3 extra copies of one seal in
// bob's Maildir, each with fedmail=pass). FAILS on the code as reviewed.

@Suite("red team: replay cache and address extensions")
struct RedTeamReplayDetailTests {
    @Test("bob+anything@ is bob@ for exactly-once delivery")
    func addressExtension() throws {
        let seal: [UInt8] = Array(repeating: 9, count: 32)
        let t0 = Date(timeIntervalSince1970: 1_750_000_000)
        let cache = ReplayCache(maxAge: 5 * 86_400)
        _ = cache.claim(sealID: seal, recipients: ["<bob@b.example>"], queueID: "Q1", now: t0)
        try cache.commit(sealID: seal, recipients: ["<bob@b.example>"], now: t0)
        for spelling in ["<bob+1@b.example>", "<bob+2@b.example>", "<bob+@b.example>", "<\"bob+x\"@b.example>"] {
            let claim = cache.claim(sealID: seal, recipients: [spelling], queueID: "Q2", now: t0.addingTimeInterval(60))
            #expect(claim.fresh.isEmpty, "\(spelling) is fresh again")
            cache.release(sealID: seal, claim: claim)
        }
    }
}
