import FedMailCore
import FedMailCrypto
import Foundation
import SystemIO
import X509

/// The file checks: configuration, allowlist, key, certificate.
extension DoctorProbes {
    /// A text file of at most 1 MB, with the system's reason when it cannot be read.
    static func readText(_ path: String) throws -> String {
        let bytes = try CommandIO.cli { () throws(SystemIOError) -> [UInt8] in
            let fd = try FileIO.openRead(path)
            defer { FileIO.close(fd) }
            return try FileIO.read(fd, count: (1 << 20) + 1, name: path)
        }
        guard bytes.count <= 1 << 20 else { throw CLIError("\(path) is larger than 1 MB") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CLIError("\(path) is not UTF-8 text") }
        return text
    }

    func loadConfiguration() -> (DoctorFinding, MilterConfiguration?) {
        let id = "config"
        let text: String
        do { text = try Self.readText(configPath) } catch {
            return (.fail(id, "\(error)",
                          fix: "give the milter's configuration with -c FILE, or write one from contrib/fedmail-milter.conf.example"), nil)
        }
        let configuration: MilterConfiguration
        do { configuration = try MilterConfiguration(parsing: text, path: configPath) } catch {
            return (.fail(id, "\(error)",
                          fix: "correct that line (every name is explained in contrib/fedmail-milter.conf.example); `fedmail-milter -n -c \(configPath)` checks the file the same way"), nil)
        }
        if let user = configuration.userID, UserAccount(named: user.user) == nil {
            return (.fail(id, "\(configPath): UserID \(user) names no user of this system",
                          fix: "create the user (the Debian package makes fedmail) or correct UserID"), nil)
        }
        let federation = configuration.federation
        if (federation.orgKeyPath == nil) != (federation.orgCertificatePath == nil) {
            return (.fail(id, "\(configPath): OrgKey and OrgCertificate must be set together",
                          fix: "set both (the key and the certificate the broker issued for it), or neither"), nil)
        }
        let domains = federation.domains.map(\.value).joined(separator: ", ")
        return (.ok(id, "\(configPath): Socket \(configuration.socket), Mode \(federation.mode.rawValue), Domains \(domains.isEmpty ? "(none)" : domains)"),
                configuration)
    }

    func loadAllowlist(_ configuration: MilterConfiguration) -> (DoctorFinding, FederationAllowlist?) {
        let id = "allowlist"
        guard let path = configuration.federation.allowlistPath else {
            return (.skip(id, "no FederationAllowlist: no partner is federated"), nil)
        }
        let text: String
        do { text = try Self.readText(path) } catch {
            return (.fail(id, "FederationAllowlist \(error)",
                          fix: "create it (contrib/federation-allowlist.example) readable by the milter's user, or correct FederationAllowlist"), nil)
        }
        let allowlist: FederationAllowlist
        do { allowlist = try FederationAllowlist(parsing: text, path: path) } catch {
            return (.fail(id, "\(error)", fix: "correct that line (policies and options are explained in contrib/federation-allowlist.example), then reload the milter"), nil)
        }
        for entry in allowlist.entries {
            guard let certificate = entry.certificatePath else { continue }
            do { _ = try OrgFiles.certificate(at: certificate) } catch {
                return (.fail(id, "\(path):\(entry.line): cert=\(certificate): \(error)",
                              fix: "put the partner's PEM certificate there, or correct cert="), allowlist)
            }
        }
        let count = { (policy: FederationPolicy) in allowlist.entries.filter { $0.policy == policy }.count }
        return (.ok(id, "\(path): \(allowlist.entries.count) \(allowlist.entries.count == 1 ? "entry" : "entries") (\(count(.require)) require, \(count(.opportunistic)) opportunistic, \(count(.never)) never)"),
                allowlist)
    }

    /// key.permissions, key.match and certificate.validity.
    func checkKeyAndCertificate(_ loaded: inout Loaded) -> [DoctorFinding] {
        let federation = loaded.configuration.federation
        guard let keyPath = federation.orgKeyPath, let certificatePath = federation.orgCertificatePath else {
            return [.skip("key.permissions", "no OrgKey/OrgCertificate: this gateway neither seals nor opens")]
        }
        var findings: [DoctorFinding] = []
        var info = stat()
        if stat(keyPath, &info) != 0 {
            findings.append(.fail("key.permissions", "cannot read OrgKey \(keyPath): \(String(cString: strerror(errno)))",
                                  fix: "install the organization key there (fedmailctl keygen; mode 0600) or correct OrgKey"))
        } else {
            let mode = UInt32(info.st_mode) & 0o7777
            findings.append(CertificateChecks.keyPermissions(
                path: keyPath, mode: mode, isRegularFile: info.st_mode & S_IFMT == S_IFREG,
                isPrivate: SecretFile.isPrivate(mode: mode), owner: UserAccount.userName(UInt32(info.st_uid)),
                expectedOwner: loaded.configuration.userID?.user))
        }
        if findings.last?.status == .fail {
            findings.append(.skip("key.match", "not checked: OrgKey cannot be used (key.permissions)"))
        } else {
            var problem: String?
            do { _ = try OrganizationIdentity.load(keyPath: keyPath, certificatePath: certificatePath) } catch {
                problem = error.message
            }
            findings.append(CertificateChecks.keyMatch(keyPath: keyPath, certificatePath: certificatePath, problem: problem))
            loaded.identityUsable = problem == nil
        }
        do {
            let certificate = try OrgFiles.certificate(at: certificatePath)
            findings.append(CertificateChecks.validity(
                path: certificatePath, notBefore: Int64(certificate.notValidBefore.timeIntervalSince1970),
                notAfter: Int64(certificate.notValidAfter.timeIntervalSince1970),
                now: Int64(Date().timeIntervalSince1970), warningDays: warnDays))
        } catch {
            findings.append(.fail("certificate.validity", "\(error)",
                                  fix: "install the certificate the broker issued (fedmailctl enroll --wait --cert, or renew) or correct OrgCertificate"))
        }
        return findings
    }
}
