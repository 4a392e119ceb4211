import FedMailCore
import Foundation

/// The probes of `fedmailctl doctor`: each reads or asks one thing with a
/// time limit and hands what it saw to the pure rules of FedMailCore's
/// Doctor (which decide the finding, the fix and the exit code). This file
/// runs them in order; the probes are in the `DoctorProbes+*` files.
struct DoctorProbes: Sendable {
    var configPath: String
    var timeout: Duration
    var warnDays: Int
    var mtaUser: String
    var postfixConfig: String?
    var sendmailMC: String?

    /// What the file checks established, for the checks after them.
    struct Loaded {
        var configuration: MilterConfiguration
        var allowlist: FederationAllowlist?
        /// OrgKey passed key.permissions and key.match: it may be used for mutual TLS.
        var identityUsable = false
    }

    func run() async -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        let (configFinding, configuration) = loadConfiguration()
        findings.append(configFinding)
        guard let configuration else {
            let reason = "not checked: the configuration \(configPath) cannot be used"
            return findings + ["allowlist", "key.permissions", "certificate.validity", "broker", "clamd", "milter.socket", "reinject"]
                .map { DoctorFinding.skip($0, reason) }
        }
        var loaded = Loaded(configuration: configuration)
        let (allowlistFinding, allowlist) = loadAllowlist(configuration)
        findings.append(allowlistFinding)
        loaded.allowlist = allowlist
        findings += checkKeyAndCertificate(&loaded)
        findings += await checkBroker(loaded)
        findings.append(checkClamd(configuration))
        if let warning = configuration.scanning.upstreamTrustWarning {
            findings.append(.warn("scanning.upstream", warning,
                                  fix: "set UpstreamScanHosts to the internal MTA(s) whose scanner writes the field and replaces a sender's copy (clamav-milter: AddHeader Replace), or remove the Upstream*Header setting"))
        }
        findings.append(checkMilterSocket(configuration))
        findings.append(checkReinjection(configuration))
        findings += checkMTA(configuration)
        return findings
    }
}
