import Testing
@testable import FedMailCore

@Suite("Outbound plan")
struct OutboundPlanTests {
    let planner: OutboundPlanner

    init() throws {
        planner = OutboundPlanner(allowlist: try FederationAllowlist(parsing: """
        b.example      require
        c.example      require
        opp.example    opportunistic
        *.sub.example  opportunistic
        old.example    never
        """, path: "allow"))
    }

    func recipients(_ addresses: String...) -> [PlannedRecipient] { addresses.map { PlannedRecipient(address: $0) } }
    func domain(_ name: String) throws -> DomainName { try #require(DomainName(name)) }

    @Test("recipient classes come from the allowlist alone")
    func classes() {
        #expect(planner.recipientClass(PlannedRecipient(address: "x@B.example")) == .federated)
        #expect(planner.recipientClass(PlannedRecipient(address: "x@a.sub.example")) == .federated)
        #expect(planner.recipientClass(PlannedRecipient(address: "x@old.example")) == .traditional)
        #expect(planner.recipientClass(PlannedRecipient(address: "x@unlisted.org")) == .traditional)
        #expect(planner.recipientClass(PlannedRecipient(address: "<>")) == .traditional)
    }

    @Test("one lookup per federated domain")
    func lookups() throws {
        let list = planner.domainsToLookUp(recipients("a@b.example", "b@B.EXAMPLE", "c@c.example", "d@old.example", "e@x.org"))
        #expect(list == [try domain("b.example"), try domain("c.example")])
    }

    @Test("recipients of one organization share one group; other organizations get their own")
    func grouping() throws {
        let plan = planner.plan(
            recipients: recipients("1@b.example", "2@b.example", "3@b.example", "4@c.example", "5@c.example"),
            lookups: [try domain("b.example"): .sealable(recipientKey: .organizationKey(sha256: "KB")), try domain("c.example"): .sealable(recipientKey: .organizationKey(sha256: "KC"))])
        #expect(plan == .seal(sealed: [.organizationKey(sha256: "KB"): ["1@b.example", "2@b.example", "3@b.example"], .organizationKey(sha256: "KC"): ["4@c.example", "5@c.example"]],
                              plaintext: [], notes: []))
    }

    @Test("two domains of one organization share its key group")
    func sameOrganization() throws {
        let plan = planner.plan(recipients: recipients("1@b.example", "2@c.example"),
                                lookups: [try domain("b.example"): .sealable(recipientKey: .organizationKey(sha256: "K")), try domain("c.example"): .sealable(recipientKey: .organizationKey(sha256: "K"))])
        #expect(plan == .seal(sealed: [.organizationKey(sha256: "K"): ["1@b.example", "2@c.example"]], plaintext: [], notes: []))
    }

    @Test("require without a token tempfails; never plaintext")
    func requireTempfails() throws {
        for lookup in [DomainFederation.notFederated, .denied, .unavailable(reason: "timeout")] {
            let plan = planner.plan(recipients: recipients("1@b.example", "2@x.org"), lookups: [try domain("b.example"): lookup])
            guard case .refuse(let decision) = plan, decision.action == .tempfail else {
                Issue.record("expected tempfail for \(lookup), got \(plan)")
                continue
            }
            #expect(decision.reason.contains("b.example"))
            #expect(decision.reply == DecisionReply(code: "451", enhancedCode: "4.7.0", text: decision.reason))
        }
        #expect(planner.plan(recipients: recipients("1@b.example"), lookups: [:]) != .deliverPlaintext(notes: []))
    }

    @Test("On-BrokerUnavailable: reject for require when the broker did not answer; stops opportunistic plaintext")
    func brokerUnavailable() throws {
        var strict = planner
        strict.onBrokerUnavailable = .reject
        guard case .refuse(let down) = strict.plan(recipients: recipients("1@b.example"), lookups: [try domain("b.example"): .unavailable(reason: "down")]) else {
            Issue.record("require with the broker down was not refused"); return
        }
        #expect(down.action == .reject)
        // Not federated is an answer, not an unavailable broker: tempfail still.
        guard case .refuse(let answered) = strict.plan(recipients: recipients("1@b.example"), lookups: [try domain("b.example"): .notFederated]) else {
            Issue.record("require without federation was not refused"); return
        }
        #expect(answered.action == .tempfail)
        var holding = planner
        holding.onBrokerUnavailable = .quarantine
        let opp = holding.plan(recipients: recipients("1@opp.example"), lookups: [try domain("opp.example"): .unavailable(reason: "down")])
        #expect(opp == .refuse(.noToken("opp.example: no token could be had (down)", action: .quarantine)))
        // With a sealed part, only tempfail and reject stop it.
        let mixed = holding.plan(recipients: recipients("1@opp.example", "2@b.example"),
                                 lookups: [try domain("opp.example"): .unavailable(reason: "down"), try domain("b.example"): .sealable(recipientKey: .organizationKey(sha256: "KB"))])
        guard case .seal = mixed else { Issue.record("quarantine stopped a half-sealed message: \(mixed)"); return }
        #expect(planner.plan(recipients: recipients("1@opp.example"), lookups: [try domain("opp.example"): .unavailable(reason: "down")])
            == .deliverPlaintext(notes: ["opp.example: no token could be had (down)"]))
    }

    @Test("our own recipients are never looked up and keep the original")
    func localRecipients() throws {
        var ours = planner
        ours.localDomains = [try domain("b.example")]
        #expect(ours.domainsToLookUp(recipients("1@b.example", "2@c.example")) == [try domain("c.example")])
        #expect(ours.recipientClass(PlannedRecipient(address: "1@b.example")) == .traditional)
        let plan = ours.plan(recipients: recipients("1@b.example", "2@c.example"), lookups: [try domain("c.example"): .sealable(recipientKey: .organizationKey(sha256: "KC"))])
        #expect(plan == .seal(sealed: [.organizationKey(sha256: "KC"): ["2@c.example"]], plaintext: ["1@b.example"], notes: []))
    }

    @Test("opportunistic without a token goes plaintext with a note; mixed results keep both lists")
    func opportunistic() throws {
        let plain = planner.plan(recipients: recipients("1@opp.example"), lookups: [try domain("opp.example"): .notFederated])
        #expect(plain == .deliverPlaintext(notes: ["opp.example: the domain is not federated"]))
        let mixed = planner.plan(recipients: recipients("1@opp.example", "2@b.example", "3@x.org"),
                                 lookups: [try domain("opp.example"): .unavailable(reason: "broker timeout"),
                                           try domain("b.example"): .sealable(recipientKey: .organizationKey(sha256: "KB"))])
        #expect(mixed == .seal(sealed: [.organizationKey(sha256: "KB"): ["2@b.example"]], plaintext: ["1@opp.example", "3@x.org"],
                               notes: ["opp.example: no token could be had (broker timeout)"]))
    }

    @Test("unlisted and never recipients are untouched, without notes")
    func untouched() {
        #expect(planner.plan(recipients: recipients("1@x.org", "2@old.example"), lookups: [:]) == .deliverPlaintext(notes: []))
    }
}
