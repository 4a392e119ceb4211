import FedMailCore
import FederationProtocol
import Foundation

/// Answers remembered in memory and, when a directory is given, on disk
/// (directory 0700, one 0600 JSON file per domain and mode). Entries read
/// from disk are validated again before use (token, key container, and
/// that they answer the domain and mode they are filed under:
/// ``ValidatedLookup/answers(domain:mode:)``), so a tampered, moved or
/// copied file is ignored. The PoP key envelope of a pop answer is not
/// signed: whoever may write this directory may also read OrgKey.
actor LookupCache {
    private var memory: [String: ValidatedLookup] = [:]
    let directory: String?

    init(directory: String?) throws {
        self.directory = directory
        if let directory {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o700])
                } catch {
                    throw BrokerClientError(.badLocalFile, "cannot create cache directory \(directory): \(error.localizedDescription)")
                }
            }
            // Through a descriptor that is not a symbolic link's: this may
            // run as root, and the directory's parent may be writable by
            // the daemon's user (a link there is left as it is).
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                _ = fchmod(fd, 0o700)
                close(fd)
            }
        }
    }

    static func key(_ domain: String, _ mode: FederationMode) -> String { "\(mode.rawValue):\(domain)" }

    func memoryEntry(_ key: String) -> ValidatedLookup? { memory[key] }

    func diskEntry(_ key: String) -> ValidatedLookup? {
        guard let path = path(for: key), let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(ValidatedLookup.self, from: data)
    }

    func remember(_ key: String, _ entry: ValidatedLookup, persist: Bool) {
        memory[key] = entry
        guard persist, let path = path(for: key), let data = try? JSONEncoder().encode(entry) else { return }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard fd >= 0 else { return }
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        close(fd)
        if ok { rename(temporary, path) } else { unlink(temporary) }
    }

    private func path(for key: String) -> String? {
        directory.map { "\($0)/\(Fingerprint.sha256Hex(Array(key.utf8))).json" }
    }
}
