import ArgumentParser
import FedMailCore
import Foundation
import SystemIO
import X509

/// Where the organization's key, certificate, broker and pinned CA are: given
/// as options, or read from the milter's configuration (`OrgKey`,
/// `OrgCertificate`, `BrokerURL`, `BrokerCA`), so the renewal timer and an
/// operator use the files the milter uses. Options win over the file.
struct OrgCredentialOptions: ParsableArguments {
    static let defaultConfiguration = "/etc/fedmail/fedmail-milter.conf"

    @Option(name: [.customShort("c"), .long],
            help: ArgumentHelp("The milter configuration to read OrgKey, OrgCertificate, BrokerURL and BrokerCA from (default \(defaultConfiguration) when it exists and an option is missing).",
                               valueName: "FILE"))
    var config: String?
    @Option(help: ArgumentHelp("Broker base URL (default: the configuration's BrokerURL).", valueName: "URL")) var broker: String?
    @Option(help: ArgumentHelp("Pinned broker CA certificate (default: BrokerCA).", valueName: "CA.crt")) var ca: String?
    @Option(help: ArgumentHelp("Organization private key, mode 0600 (default: OrgKey).", valueName: "ORG.key")) var key: String?
    @Option(help: ArgumentHelp("Organization certificate (default: OrgCertificate).", valueName: "ORG.crt")) var cert: String?

    struct Resolved {
        var broker: String
        var ca: String
        var key: String
        var cert: String
        /// The milter configuration read, if any.
        var configuration: MilterConfiguration?
    }

    func resolve() throws -> Resolved {
        var milter: MilterConfiguration?
        let path = config ?? (broker == nil || ca == nil || key == nil || cert == nil ? Self.defaultConfiguration : nil)
        if let path, config != nil || FileManager.default.fileExists(atPath: path) {
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                milter = try MilterConfiguration(parsing: text, path: path)
            } catch let error as ConfigurationError {
                throw CLIError("\(error)")
            } catch {
                throw CLIError("cannot read \(path): \(error.localizedDescription)")
            }
        }
        let federation = milter?.federation
        func need(_ value: String?, _ option: String, _ name: String) throws -> String {
            guard let value else {
                throw CLIError("give --\(option) (or \(name) in the milter configuration, --config)")
            }
            return value
        }
        return Resolved(broker: try need(broker ?? federation?.brokerURL, "broker", "BrokerURL"),
                        ca: try need(ca ?? federation?.brokerCAPath, "ca", "BrokerCA"),
                        key: try need(key ?? federation?.orgKeyPath, "key", "OrgKey"),
                        cert: try need(cert ?? federation?.orgCertificatePath, "cert", "OrgCertificate"),
                        configuration: milter)
    }
}

/// Reading, checking and replacing the organization's files.
enum OrgFiles {
    /// How many days before expiry fedmailctl starts warning.
    static let warningDays = 7

    static func certificate(at path: String) throws -> Certificate {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError("cannot read \(path): \(error.localizedDescription)")
        }
        do { return try Certificate(pemEncoded: text) } catch {
            throw CLIError("\(path) is not a PEM certificate")
        }
    }

    /// Whole days (rounded down) until `certificate` expires; negative once it has.
    static func daysLeft(_ certificate: Certificate, now: Date = Date()) -> Int {
        Int((certificate.notValidAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    /// Warns on standard error when the certificate at `path` expires within ``warningDays``.
    static func warnIfExpiring(_ path: String, now: Date = Date()) {
        guard let certificate = try? Self.certificate(at: path) else { return }
        let left = certificate.notValidAfter.timeIntervalSince(now)
        if left <= 0 {
            CommandIO.printError("warning: the organization certificate \(path) expired at \(RFC3339.format(secondsSince1970: Int64(certificate.notValidAfter.timeIntervalSince1970))); an expired certificate cannot renew: enroll again (a key replacement the broker's operator must approve)")
        } else if left < Double(warningDays * 86_400) {
            CommandIO.printError("warning: the organization certificate \(path) expires at \(RFC3339.format(secondsSince1970: Int64(certificate.notValidAfter.timeIntervalSince1970))) (in \(Int(left / 3_600)) hours); renew it with `fedmailctl renew` (the fedmail-renew.timer does it daily)")
        }
    }

    /// Replaces `path` with `bytes` atomically: a private temporary file in the same directory,
    /// written and synced, given `mode` and the owner and group of the file it replaces, then
    /// renamed over it (or, with `ownerOf`, that file's owner and group). A reader sees the old
    /// file or the new one, never a partial one.
    static func install(_ bytes: [UInt8], at path: String, mode: mode_t, ownerOf: String? = nil) throws {
        var existing = stat()
        let owner = stat(ownerOf ?? path, &existing) == 0 ? (uid: existing.st_uid, gid: existing.st_gid) : nil
        try CommandIO.cli { () throws(SystemIOError) in try FileIO.install(bytes, at: path, mode: mode, owner: owner) }
    }

    /// Copies `path` to `path.previous` (same mode), atomically; nothing when `path` does not exist.
    static func keepPrevious(_ path: String, mode: mode_t) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let bytes: [UInt8]
        if mode & 0o077 == 0 {
            bytes = try CommandIO.cli { () throws(SystemIOError) in try SecretFile.read(path) }
        } else {
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
            bytes = Array(data)
        }
        try install(bytes, at: path + ".previous", mode: mode, ownerOf: path)
    }
}

/// Asking the running milter to re-read its configuration and files.
struct ReloadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("After installing the new certificate, send SIGUSR1 to the milter whose pid this file holds (nothing when the file does not exist).",
                               valueName: "FILE"))
    var reloadPidFile: String?
    @Option(help: ArgumentHelp("After installing the new certificate, run `systemctl reload UNIT` (e.g. fedmail-milter).",
                               valueName: "UNIT"))
    var reloadUnit: String?

    /// Reloads as asked; a failure is reported (the files are in place already) and returns false.
    func reload() -> Bool {
        var ok = true
        if let reloadPidFile, !FileManager.default.fileExists(atPath: reloadPidFile) {
            print("no \(reloadPidFile): the milter is not running; it reads the new files when it starts")
        } else if let reloadPidFile {
            let text = (try? String(contentsOfFile: reloadPidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if let pid = Int32(text), pid > 1, kill(pid, SIGUSR1) == 0 {
                print("milter (pid \(pid)) asked to reload")
            } else {
                CommandIO.printError("cannot signal the milter named in \(reloadPidFile): \(text.isEmpty ? "no pid" : String(cString: strerror(errno))); reload it yourself")
                ok = false
            }
        }
        if let reloadUnit {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemctl") ? "/usr/bin/systemctl" : "/bin/systemctl")
            process.arguments = ["reload", reloadUnit]
            do {
                try process.run()
                process.waitUntilExit()
                if process.terminationStatus == 0 {
                    print("\(reloadUnit) reloaded")
                } else {
                    CommandIO.printError("systemctl reload \(reloadUnit) failed (status \(process.terminationStatus)); reload it yourself")
                    ok = false
                }
            } catch {
                CommandIO.printError("cannot run systemctl: \(error.localizedDescription); reload \(reloadUnit) yourself")
                ok = false
            }
        }
        return ok
    }
}
