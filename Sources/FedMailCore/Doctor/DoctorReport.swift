/// The findings of one `fedmailctl doctor` run, their overall status, the
/// exit code and the two renderings (plain text for people, JSON for
/// monitoring). Pure: the probes produce findings, this decides the rest.
public struct DoctorReport: Sendable, Hashable {
    /// Exit codes (documented in `fedmailctl doctor --help`).
    public enum ExitStatus {
        /// Every check ok (or not applicable).
        public static let ok: Int32 = 0
        /// At least one warning, no failure.
        public static let warnings: Int32 = 1
        /// At least one failure.
        public static let failures: Int32 = 2
    }

    public var findings: [DoctorFinding]

    public init(findings: [DoctorFinding]) {
        self.findings = findings
    }

    /// The worst status of any finding (`ok` for none); skipped checks count as ok.
    public var status: DoctorFinding.Status {
        let worst = findings.map(\.status).max() ?? .ok
        return worst == .skip ? .ok : worst
    }

    /// 0 all ok, 1 warnings only, 2 at least one failure.
    public var exitCode: Int32 {
        switch status {
        case .ok, .skip: return ExitStatus.ok
        case .warn: return ExitStatus.warnings
        case .fail: return ExitStatus.failures
        }
    }

    public func count(_ status: DoctorFinding.Status) -> Int {
        findings.filter { $0.status == status }.count
    }

    /// One line per finding — status, check (and subject), message, and the
    /// fix after "fix:" — then a summary line.
    ///
    /// ```
    /// ok   config                       /etc/fedmail/fedmail-milter.conf parses: ...
    /// FAIL key.permissions              /etc/fedmail/org.key is mode 0644 ... fix: chmod 600 /etc/fedmail/org.key
    /// doctor: 11 ok, 1 skipped, 0 warnings, 1 failure: exit 2
    /// ```
    public func text() -> String {
        var lines: [String] = []
        let width = max(28, findings.map { label($0).count }.max() ?? 0)
        for finding in findings {
            let name = label(finding)
            var line = Self.statusWord(finding.status) + " " + name + String(repeating: " ", count: width - name.count) + " " + finding.message
            if let fix = finding.fix { line += " -- fix: " + fix }
            lines.append(line)
        }
        lines.append(summary())
        return lines.joined(separator: "\n") + "\n"
    }

    /// `doctor: N ok, N skipped, N warnings, N failures: exit C`.
    public func summary() -> String {
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return "doctor: \(count(.ok)) ok, \(count(.skip)) skipped, \(plural(count(.warn), "warning")), \(plural(count(.fail), "failure")): exit \(exitCode)"
    }

    /// The report as one JSON object with stable keys:
    ///
    /// ```
    /// {"status":"fail","exitCode":2,"counts":{"ok":11,"skip":1,"warn":0,"fail":1},
    ///  "checks":[{"check":"key.permissions","subject":null,"status":"fail","message":"...","fix":"..."}, ...]}
    /// ```
    ///
    /// Every finding has all five keys (`subject` and `fix` null when
    /// absent), in that order, one finding per line.
    public func json() -> String {
        var out = "{\"status\":" + JSONText.string(status.rawValue) + ",\"exitCode\":\(exitCode),\"counts\":{"
        out += DoctorFinding.Status.allCases.map { JSONText.string($0.rawValue) + ":\(count($0))" }.joined(separator: ",")
        out += "},\"checks\":["
        out += findings.map { finding in
            "\n{\"check\":" + JSONText.string(finding.check)
                + ",\"subject\":" + JSONText.optional(finding.subject)
                + ",\"status\":" + JSONText.string(finding.status.rawValue)
                + ",\"message\":" + JSONText.string(finding.message)
                + ",\"fix\":" + JSONText.optional(finding.fix) + "}"
        }.joined(separator: ",")
        out += "\n]}\n"
        return out
    }

    func label(_ finding: DoctorFinding) -> String {
        finding.subject.map { finding.check + " " + $0 } ?? finding.check
    }

    static func statusWord(_ status: DoctorFinding.Status) -> String {
        switch status {
        case .ok: return "ok  "
        case .skip: return "skip"
        case .warn: return "WARN"
        case .fail: return "FAIL"
        }
    }
}
