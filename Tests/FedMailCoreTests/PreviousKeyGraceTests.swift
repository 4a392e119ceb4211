import Testing
@testable import FedMailCore

@Suite("previous organization key grace")
struct PreviousKeyGraceTests {
    @Test("the previous key opens until the grace after the current certificate's notBefore, not a second longer")
    func window() {
        let rekey: Int64 = 1_800_000_000
        #expect(PreviousKeyGrace.isOpen(currentNotBefore: rekey, grace: 3_600, now: rekey))
        #expect(PreviousKeyGrace.isOpen(currentNotBefore: rekey, grace: 3_600, now: rekey + 3_600))
        #expect(!PreviousKeyGrace.isOpen(currentNotBefore: rekey, grace: 3_600, now: rekey + 3_601))
    }

    @Test("PreviousOrgKeyGrace defaults to one day (the broker's default TokenLifetime) plus MaxMessageAge, and can be set")
    func configuration() throws {
        let base = "Socket local:/run/fedmail/fedmail-milter.sock\n"
        let defaults = try MilterConfiguration(parsing: base + "MaxMessageAge 2d\n", path: "/etc/fedmail/fedmail-milter.conf")
        #expect(defaults.federation.previousOrgKeyGrace == 86_400 + 2 * 86_400)
        let set = try MilterConfiguration(parsing: base + "PreviousOrgKeyGrace 12h\n", path: "/etc/fedmail/fedmail-milter.conf")
        #expect(set.federation.previousOrgKeyGrace == 12 * 3_600)
        #expect(throws: ConfigurationError.self) {
            try MilterConfiguration(parsing: base + "PreviousOrgKeyGrace soon\n", path: "/etc/fedmail/fedmail-milter.conf")
        }
    }
}
