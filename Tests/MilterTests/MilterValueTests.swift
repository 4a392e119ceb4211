import CMilter
import Testing
@testable import Milter

@Suite("Milter values")
struct MilterValueTests {
    @Test("macro names are canonical with or without braces")
    func macroNames() {
        #expect(MacroName.canonical("i") == "i")
        #expect(MacroName.canonical("{i}") == "i")
        #expect(MacroName.canonical("auth_type") == "{auth_type}")
        #expect(MacroName.canonical("{auth_type}") == "{auth_type}")
        #expect(MacroName.canonical("{{x}}") == "{{x}}")
        #expect(MacroName.canonical("{}") == "{}")
        #expect(MacroName.canonical("{ab}") == "{ab}")
        #expect(MacroName.canonical("{é}") == "é")
        let requirements = MilterRequirements(actions: [], stages: [],
                                              macros: [.envelopeSender: ["auth_type", "i"], .endOfMessage: ["{i}"]])
        #expect(requirements.allMacroNames == ["i", "{auth_type}"])
        var changed = requirements
        changed.macros[.connect] = ["j"]
        #expect(changed.allMacroNames == ["i", "j", "{auth_type}"])
    }

    @Test("SMTP replies: valid single and multi-line")
    func validReplies() throws {
        let reply = try SMTPReply(code: "550", enhancedCode: "5.7.1", lines: ["sealed message failed verification"])
        #expect(reply.lines.count == 1)
        let multi = try SMTPReply(code: "451", enhancedCode: "4.7.0", lines: ["broker unavailable", "try again later"])
        #expect(multi.lines.count == 2)
        #expect(try SMTPReply(code: "421", lines: ["bye"]).enhancedCode == nil)
    }

    @Test("SMTP replies: invalid ones are refused", arguments: [
        ("250", "2.0.0", ["ok"]),
        ("55", nil, ["short"]),
        ("5x0", nil, ["letters"]),
        ("550", "4.7.1", ["class mismatch"]),
        ("550", "5.7", ["two parts"]),
        ("550", "5.7.1000", ["too long"]),
        ("550", nil, []),
        ("550", nil, ["line\r\ninjected: header"]),
        ("550", nil, Array(repeating: "x", count: 33)),
    ] as [(String, String?, [String])])
    func invalidReplies(code: String, enhanced: String?, lines: [String]) {
        #expect(throws: MilterError.self) {
            _ = try SMTPReply(code: code, enhancedCode: enhanced, lines: lines)
        }
    }

    @Test("responses map to libmilter statuses")
    func responses() throws {
        #expect(MilterResponse.continue.libmilterStatus == sfsistat(SMFIS_CONTINUE))
        #expect(MilterResponse.accept.libmilterStatus == sfsistat(SMFIS_ACCEPT))
        #expect(MilterResponse.reject.libmilterStatus == sfsistat(SMFIS_REJECT))
        #expect(MilterResponse.discard.libmilterStatus == sfsistat(SMFIS_DISCARD))
        #expect(MilterResponse.tempfail.libmilterStatus == sfsistat(SMFIS_TEMPFAIL))
        #expect(MilterResponse.skip.libmilterStatus == sfsistat(SMFIS_SKIP))
        let reply = try SMTPReply(code: "550", enhancedCode: "5.7.1", lines: ["no"])
        #expect(MilterResponse.reject(with: reply).reply == reply)
        #expect(MilterResponse.reject(with: reply).status == .reject)
    }

    @Test("header fields: value drops only the one leading space")
    func headerFields() {
        #expect(MilterHeaderField(name: "Subject", rawValue: " hello").value == "hello")
        #expect(MilterHeaderField(name: "Subject", rawValue: "hello").value == "hello")
        #expect(MilterHeaderField(name: "Subject", rawValue: "  two").value == " two")
    }

    @Test("headers are deleted last first, numbered per name case-insensitively")
    func deletionOrder() {
        let fields = [
            MilterHeaderField(name: "Received", rawValue: " a"),
            MilterHeaderField(name: "Subject", rawValue: " s"),
            MilterHeaderField(name: "received", rawValue: " b"),
            MilterHeaderField(name: "To", rawValue: " t"),
        ]
        let order = MilterHeaderField.deletionOrder(of: fields)
        #expect(order.map(\.name) == ["To", "received", "Subject", "Received"])
        #expect(order.map(\.occurrence) == [1, 2, 1, 1])
    }

    @Test("recipients and senders without angle brackets")
    func addresses() {
        #expect(MilterRecipient(address: "<bob@b.example>", arguments: ["NOTIFY=NEVER"]).mailbox == "bob@b.example")
        #expect(MilterRecipient(address: "bob@b.example", arguments: []).mailbox == "bob@b.example")
        #expect(MilterTransaction.unbracketed("<>") == "")
    }

    @Test("action names for refusals")
    func actionNames() {
        #expect(MilterActions([.addHeaders, .quarantine]).names == ["add-headers", "quarantine"])
    }

    @Test("header names and values are checked before reaching libmilter")
    func headerValidation() {
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "Bad Name", value: "x") }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "X-A:", value: "x") }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "", value: "x") }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(name: "X-A", value: "a\0b") }
        #expect(throws: MilterError.self) { try MilterActionRules.validate(occurrence: 0) }
        #expect(throws: Never.self) { try MilterActionRules.validate(name: "X-FedMail-Filter", value: "fedmail-milter 0.1.0") }
    }
}
