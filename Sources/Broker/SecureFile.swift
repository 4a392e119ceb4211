import Foundation
import SystemIO

/// Reading and writing the broker's state files. Private keys are created
/// 0600 and read with ``SecretFile``, which refuses them when group or
/// others may read them.
enum SecureFile {
    /// Writes `text` to a new file with `mode`; fails if the file exists.
    static func create(_ path: String, contents text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            throw BrokerError(.stateFile, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard result > 0 else {
                throw BrokerError(.stateFile, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += result
        }
    }

    /// Reads a public file.
    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BrokerError(.stateFile, "cannot read \(path): \(error.localizedDescription)")
        }
    }

    /// Reads a private key file with the one private-file reader, which
    /// refuses it when group or others have any access.
    static func readPrivate(_ path: String) throws -> String {
        do {
            return String(decoding: try SecretFile.read(path), as: UTF8.self)
        } catch {
            throw BrokerError(.stateFile, error.message)
        }
    }
}
