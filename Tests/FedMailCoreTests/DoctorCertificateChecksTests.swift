import Testing
@testable import FedMailCore

@Suite("Doctor certificate and key checks")
struct DoctorCertificateChecksTests {
    let day: Int64 = 86_400
    let now: Int64 = 1_800_000_000

    @Test("validity: fail before notBefore and from notAfter, warn under 14 days, else ok")
    func validity() {
        let check = { (from: Int64, to: Int64) in
            CertificateChecks.validity(path: "/k/org.crt", notBefore: from, notAfter: to, now: self.now)
        }
        #expect(check(now - day, now + 30 * day).status == .ok)
        #expect(check(now - day, now + 14 * day).status == .ok)
        #expect(check(now - day, now + 14 * day - 1).status == .warn)
        #expect(check(now - day, now + 3 * day).message.contains("in 3 days"))
        #expect(check(now - day, now + 3_600 * 5).message.contains("5 hours"))
        #expect(check(now - 30 * day, now).status == .fail)
        #expect(check(now - 30 * day, now - 1).message.contains("expired"))
        #expect(check(now + 60, now + 30 * day).status == .fail)
        #expect(check(now + 60, now + 30 * day).message.contains("not valid yet"))
        #expect(CertificateChecks.validity(path: "c", notBefore: now - day, notAfter: now + 20 * day, now: now, warningDays: 21).status == .warn)
    }

    @Test("key permissions: the SecretFile verdict decides; owner other than UserID warns")
    func keyPermissions() {
        let ok = CertificateChecks.keyPermissions(path: "/k", mode: 0o600, isRegularFile: true, isPrivate: true, owner: "fedmail", expectedOwner: "fedmail")
        #expect(ok.status == .ok)
        let open = CertificateChecks.keyPermissions(path: "/k", mode: 0o644, isRegularFile: true, isPrivate: false, owner: "fedmail", expectedOwner: "fedmail")
        #expect(open.status == .fail)
        #expect(open.message.contains("0644"))
        #expect(open.fix?.hasPrefix("chmod 600 /k") == true)
        let owner = CertificateChecks.keyPermissions(path: "/k", mode: 0o600, isRegularFile: true, isPrivate: true, owner: "root", expectedOwner: "fedmail")
        #expect(owner.status == .warn)
        #expect(owner.fix == "chown fedmail /k")
        #expect(CertificateChecks.keyPermissions(path: "/k", mode: 0o600, isRegularFile: true, isPrivate: true, owner: "root", expectedOwner: nil).status == .ok)
        #expect(CertificateChecks.keyPermissions(path: "/k", mode: 0o755, isRegularFile: false, isPrivate: false, owner: "root", expectedOwner: nil).status == .fail)
    }

    @Test("revocation: on the CRL fails (superseded says renew), a stale CRL or none warns")
    func revocation() {
        let list = RevocationList(entries: ["0a1b": .init(revokedAt: now - day, reason: .superseded),
                                            "0c": .init(revokedAt: now - day, reason: .keyCompromise)],
                                  thisUpdate: now - 600, nextUpdate: now + day)
        let check = { (serial: String, list: RevocationList?) in
            CertificateChecks.revocation(path: "/c", serial: serial, list: list, unavailable: list == nil ? "down" : nil, now: self.now, maxAge: self.day)
        }
        #expect(check("77", list).status == .ok)
        let superseded = check("000a1b", list)
        #expect(superseded.status == .fail)
        #expect(superseded.fix?.contains("fedmailctl renew") == true)
        #expect(check("0C", list).status == .fail)
        #expect(check("0C", list).message.contains("key-compromise"))
        #expect(check("77", nil).status == .warn)
        var stale = list
        stale.thisUpdate = now - 3 * day
        stale.nextUpdate = nil
        #expect(check("77", stale).status == .warn)
    }

    @Test("key match and services")
    func services() {
        #expect(CertificateChecks.keyMatch(keyPath: "k", certificatePath: "c", problem: nil).status == .ok)
        #expect(CertificateChecks.keyMatch(keyPath: "k", certificatePath: "c", problem: "k is not the key of c").status == .fail)
        #expect(ServiceChecks.broker(url: "https://b", failure: nil, organization: "A").status == .ok)
        #expect(ServiceChecks.broker(url: "https://b", failure: .unavailable("refused"), organization: "A").message.contains("not reachable"))
        #expect(ServiceChecks.broker(url: "https://b", failure: .refused("forbidden: organization A is revoked"), organization: "A").status == .fail)
        let token = ServiceChecks.partner(domain: "b.example", line: 2, answer: .token(organization: "B", expires: now))
        #expect(token.status == .ok && token.subject == "b.example")
        let unknown = ServiceChecks.partner(domain: "nope.example", line: 3, answer: .notFederated)
        #expect(unknown.status == .fail)
        #expect(unknown.fix?.contains("line 3") == true)
        #expect(ServiceChecks.partner(domain: "d", line: 1, answer: .denied("no")).status == .fail)
        #expect(ServiceChecks.clamd(address: "unix:/c", version: "ClamAV 1.0", error: nil).status == .ok)
        #expect(ServiceChecks.clamd(address: "unix:/c", version: nil, error: "connect-failed").status == .fail)
    }
}
