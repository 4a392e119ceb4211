import FedMailCore
import Foundation

/// The MTA's side: Postfix through postconf, or a Sendmail .mc file.
extension DoctorProbes {
    func checkMTA(_ configuration: MilterConfiguration) -> [DoctorFinding] {
        let socket = configuration.socket
        if let sendmailMC {
            let text: String
            do { text = try Self.readText(sendmailMC) } catch {
                return [.fail("sendmail.input_mail_filter", "\(error)",
                              fix: "give Sendmail's .mc file (e.g. /etc/mail/sendmail.mc) with --sendmail-mc")]
            }
            return [SendmailFilterCheck.finding(mc: text, path: sendmailMC, socket: socket)]
        }
        guard let postconf = ProcessRunner.find("postconf") else {
            return [.skip("postfix.smtpd_milters", "postconf not found: Postfix is not installed here (for Sendmail give --sendmail-mc FILE)")]
        }
        let base = postfixConfig.map { ["-c", $0] } ?? []
        do {
            let main = try postconfLines(postconf, base + ["-xh"] + PostfixSettings.parameters)
            let fields = try postconfLines(postconf, base + ["-F"])
            let overrides = try postconfLines(postconf, base + ["-P"])
            let settings = PostfixSettings(mainValues: main, fields: fields, overrides: overrides)
            return PostfixMilterCheck.findings(settings, socket: socket, configDirectory: postfixConfig,
                                               opens: configuration.federation.mode.opens)
        } catch {
            return [.fail("postfix.smtpd_milters", "cannot read the Postfix configuration: \(error)",
                          fix: "check that \(postfixConfig ?? "/etc/postfix") holds main.cf and master.cf (postconf \(base.joined(separator: " ")) -n)")]
        }
    }

    private func postconfLines(_ postconf: String, _ arguments: [String]) throws -> [String] {
        let output = try ProcessRunner.run(postconf, arguments, timeout: timeout)
        guard output.status == 0 else {
            let message = output.standardError.split(separator: "\n").first.map(String.init) ?? "status \(output.status)"
            throw CLIError("postconf \(arguments.joined(separator: " ")): \(message)")
        }
        var lines = output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
