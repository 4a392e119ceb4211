@testable import FedMailCore
import Testing

/// The one catalogue of replies: the codes and texts operators and the
/// end-to-end suites see.
@Suite struct FailureDecisionTests {
    @Test("a bad seal names its check: 550 5.7.1 / 451 4.7.1")
    func badSeal() {
        let decision = FailureDecision.badSeal(check: "recipient-binding", action: .reject)
        #expect(decision.reply == DecisionReply(code: "550", enhancedCode: "5.7.1", text: "FedMail: recipient-binding"))
        var tempfail = decision
        tempfail.action = .tempfail
        #expect(tempfail.reply == DecisionReply(code: "451", enhancedCode: "4.7.1", text: "FedMail: recipient-binding"))
        tempfail.action = .quarantine
        #expect(tempfail.reply == nil)
        #expect(tempfail.reason == "FedMail: recipient-binding")
    }

    @Test("each kind keeps its codes")
    func kinds() throws {
        let partner = try #require(DomainName("partner.example"))
        #expect(FailureDecision.spoofedPartner(partner, action: .reject).reply?.text == "FedMail: partner.example requires sealed mail")
        #expect(FailureDecision.noToken("no token for b.example", action: .tempfail).reply
            == DecisionReply(code: "451", enhancedCode: "4.7.0", text: "FedMail: no token for b.example"))
        #expect(FailureDecision.noToken("x", action: .reject).reply?.enhancedCode == "5.7.0")
        #expect(FailureDecision.foreignFrom("author domain b.example is not ours", action: .reject).reply?.text
            == "FedMail: foreign-from: author domain b.example is not ours; a sealed message may only come from our domains")
        #expect(FailureDecision.internalError(action: .tempfail).reply == DecisionReply(code: "451", enhancedCode: "4.3.0", text: "FedMail: internal error"))
        #expect(FailureDecision.openingInternalError(check: "internal", action: .reject).reply?.enhancedCode == "5.3.0")
        #expect(FailureDecision.internalError(action: .accept).reply == nil)
        #expect(DecisionReply.otherRecipientClass.code == "452")
    }

    @Test("after a partial change, accept and quarantine become tempfail with the same reply; tempfail and reject stand")
    func afterPartialChange() {
        for action in MilterConfiguration.FailureAction.allCases {
            let decision = FailureDecision.internalError(action: action).afterPartialChange()
            switch action {
            case .accept, .quarantine:
                #expect(decision.action == .tempfail)
                #expect(decision.reply == DecisionReply(code: "451", enhancedCode: "4.3.0", text: "FedMail: internal error"))
                #expect(decision.reason.hasSuffix("(after part of the message was changed)"))
            case .tempfail, .reject:
                #expect(decision == FailureDecision.internalError(action: action))
            }
        }
        let bad = FailureDecision.badSeal(check: "gcm-tag", action: .accept).afterPartialChange()
        #expect(bad.reply == DecisionReply(code: "451", enhancedCode: "4.7.1", text: "FedMail: gcm-tag"))
    }
}
