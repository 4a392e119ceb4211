import Testing
@testable import FedMailCore

@Suite("DoctorReport")
struct DoctorReportTests {
    let ok = DoctorFinding.ok("config", "parses")
    let skipped = DoctorFinding.skip("clamd", "no ClamdSocket")
    let warning = DoctorFinding.warn("certificate.validity", "expires in 3 days", fix: "fedmailctl renew")
    let failure = DoctorFinding.fail("partner", "not federated", fix: "ask them", subject: "b.example")

    @Test("exit code: 0 all ok or skipped, 1 warnings only, 2 any failure")
    func exitCodes() {
        #expect(DoctorReport(findings: []).exitCode == 0)
        #expect(DoctorReport(findings: [ok, skipped]).exitCode == 0)
        #expect(DoctorReport(findings: [ok, skipped]).status == .ok)
        #expect(DoctorReport(findings: [ok, warning]).exitCode == 1)
        #expect(DoctorReport(findings: [warning, ok]).status == .warn)
        #expect(DoctorReport(findings: [failure, warning, ok]).exitCode == 2)
        #expect(DoctorReport(findings: [ok, failure]).status == .fail)
    }

    @Test("text: one line per finding with status, id, subject, message and fix, then the summary")
    func text() {
        let lines = DoctorReport(findings: [ok, warning, failure]).text().split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("ok   config "))
        #expect(lines[0].hasSuffix(" parses"))
        #expect(!lines[0].contains("fix:"))
        #expect(lines[1].hasPrefix("WARN certificate.validity "))
        #expect(lines[1].hasSuffix("expires in 3 days -- fix: fedmailctl renew"))
        #expect(lines[2].hasPrefix("FAIL partner b.example "))
        #expect(lines[3] == "doctor: 1 ok, 0 skipped, 1 warning, 1 failure: exit 2")
        // The messages start in one column.
        #expect(lines[0].range(of: "parses")?.lowerBound.utf16Offset(in: lines[0]) == lines[2].range(of: "not federated")?.lowerBound.utf16Offset(in: lines[2]))
    }

    @Test("JSON: stable keys, null subject and fix, escaped text")
    func json() {
        let odd = DoctorFinding.fail("config", "bad \"value\"\\ on\tline\n3 \u{1}", fix: "fix it")
        let json = DoctorReport(findings: [ok, odd]).json()
        #expect(json.hasPrefix("{\"status\":\"fail\",\"exitCode\":2,\"counts\":{\"ok\":1,\"skip\":0,\"warn\":0,\"fail\":1},\"checks\":["))
        #expect(json.contains("{\"check\":\"config\",\"subject\":null,\"status\":\"ok\",\"message\":\"parses\",\"fix\":null}"))
        #expect(json.contains("\"message\":\"bad \\\"value\\\"\\\\ on\\tline\\n3 \\u0001\",\"fix\":\"fix it\"}"))
        #expect(DoctorReport(findings: [failure]).json().contains("\"check\":\"partner\",\"subject\":\"b.example\""))
    }

    @Test("statuses order ok < skip < warn < fail")
    func order() {
        #expect(DoctorFinding.Status.allCases.sorted() == [.ok, .skip, .warn, .fail])
    }
}
