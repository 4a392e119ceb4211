import CMilter
import Testing
@testable import Milter

@Suite("MilterNegotiation")
struct MilterNegotiationTests {
    let allActions = UInt(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS
                          | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)
    let allSteps: UInt = 0x001F_FFFF

    @Test("asks only for the required actions, plus the macro list when macros are wanted")
    func actions() throws {
        let requirements = MilterRequirements(actions: [.addHeaders], stages: [.connect],
                                              macros: [.endOfMessage: ["i"]])
        let result = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: requirements)
        #expect(result.actions == UInt(SMFIF_ADDHDRS | SMFIF_SETSYMLIST))
        #expect(result.canSetMacroLists)
    }

    @Test("no macro list without macros")
    func noMacros() throws {
        let requirements = MilterRequirements(actions: [.addHeaders, .replaceBody], stages: [])
        let result = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: requirements)
        #expect(result.actions == UInt(SMFIF_ADDHDRS | SMFIF_CHGBODY))
        #expect(!result.canSetMacroLists)
    }

    @Test("header fields without a reply each (SMFIP_NR_HDR) only for a handler that does not answer them, and only when offered")
    func headersWithoutReply() throws {
        let silent = MilterRequirements(actions: [.addHeaders], stages: [], answersHeaders: false, collectsHeaders: true)
        let offered = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: silent)
        #expect(offered.headersWithoutReply)
        #expect(offered.protocolFlags & UInt(SMFIP_NR_HDR) != 0)
        let notOffered = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps & ~UInt(SMFIP_NR_HDR),
                                               requirements: silent)
        #expect(!notOffered.headersWithoutReply)
        #expect(notOffered.protocolFlags & UInt(SMFIP_NR_HDR) == 0)
        let answering = MilterRequirements(actions: [.addHeaders], stages: [], collectsHeaders: true)
        let answers = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: answering)
        #expect(!answers.headersWithoutReply)
        #expect(answers.protocolFlags & UInt(SMFIP_NR_HDR) == 0)
    }

    @Test("steps without a reply (SMFIP_NR_CONN, _MAIL, ...) only for steps the handler wants, does not answer, and the MTA offers")
    func stepsWithoutReply() throws {
        let requirements = MilterRequirements(actions: [.addHeaders], stages: [.connect, .envelopeSender, .envelopeRecipient],
                                              unansweredStages: [.connect, .envelopeSender, .helo], collectsHeaders: true)
        let offered = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: requirements)
        #expect(offered.noReplyStages == [.connect, .envelopeSender])
        #expect(offered.protocolFlags & UInt(SMFIP_NR_CONN | SMFIP_NR_MAIL) == UInt(SMFIP_NR_CONN | SMFIP_NR_MAIL))
        // HELO is not a stage it wants (switched off instead), RCPT is answered, headers too.
        #expect(offered.protocolFlags & UInt(SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR) == 0)
        #expect(offered.protocolFlags & UInt(SMFIP_NOHELO) != 0)
        #expect(!offered.headersWithoutReply)
        let notOffered = try MilterNegotiation(offeredActions: allActions,
                                               offeredProtocol: allSteps & ~UInt(SMFIP_NR_MAIL), requirements: requirements)
        #expect(notOffered.noReplyStages == [.connect])
        #expect(notOffered.protocolFlags & UInt(SMFIP_NR_MAIL) == 0)
    }

    @Test("refuses an MTA lacking a required action and names it")
    func refusal() {
        let requirements = MilterRequirements(actions: [.addHeaders, .deleteRecipients, .quarantine], stages: [])
        #expect {
            _ = try MilterNegotiation(offeredActions: UInt(SMFIF_ADDHDRS), offeredProtocol: allSteps, requirements: requirements)
        } throws: { error in
            let refusal = error as? MilterNegotiation.Refusal
            return refusal?.missing == [.deleteRecipients, .quarantine]
                && refusal?.description == "the MTA does not offer the milter actions delete-recipients, quarantine"
        }
    }

    @Test("switches off steps the handler does not need, only when offered")
    func steps() throws {
        let requirements = MilterRequirements(actions: [.addHeaders], stages: [.envelopeSender, .envelopeRecipient],
                                              collectsHeaders: true)
        let result = try MilterNegotiation(offeredActions: allActions, offeredProtocol: allSteps, requirements: requirements)
        let flags = result.protocolFlags
        #expect(flags & UInt(SMFIP_NOCONNECT) != 0)
        #expect(flags & UInt(SMFIP_NOHELO) != 0)
        #expect(flags & UInt(SMFIP_NOBODY) != 0)
        #expect(flags & UInt(SMFIP_NOEOH) != 0)
        #expect(flags & UInt(SMFIP_NODATA) != 0)
        #expect(flags & UInt(SMFIP_NOMAIL) == 0)
        #expect(flags & UInt(SMFIP_NORCPT) == 0)
        #expect(flags & UInt(SMFIP_NOHDRS) == 0)

        let limited = try MilterNegotiation(offeredActions: allActions, offeredProtocol: UInt(SMFIP_NOBODY),
                                            requirements: requirements)
        #expect(limited.protocolFlags == UInt(SMFIP_NOBODY))
        #expect(!limited.canSkip)
    }

    @Test("raw header values only when asked and offered")
    func leadingSpace() throws {
        let raw = MilterRequirements(actions: [], stages: [], rawHeaderValues: true, collectsHeaders: true)
        let offered = try MilterNegotiation(offeredActions: 0, offeredProtocol: allSteps, requirements: raw)
        #expect(offered.rawHeaderValues)
        #expect(offered.protocolFlags & UInt(SMFIP_HDR_LEADSPC) != 0)
        let notOffered = try MilterNegotiation(offeredActions: 0, offeredProtocol: 0, requirements: raw)
        #expect(!notOffered.rawHeaderValues)
        let notAsked = try MilterNegotiation(offeredActions: 0, offeredProtocol: allSteps,
                                             requirements: MilterRequirements(actions: [], stages: []))
        #expect(notAsked.protocolFlags & UInt(SMFIP_HDR_LEADSPC) == 0)
    }

    @Test("collecting headers or body implies those steps")
    func impliedStages() {
        let requirements = MilterRequirements(actions: [], stages: [], collectsHeaders: true, collectsBody: true)
        #expect(requirements.stages == [.header, .body])
    }
}
