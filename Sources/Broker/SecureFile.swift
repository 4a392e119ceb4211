import Foundation

/// Reading and writing the broker's state files. Private keys are created
/// 0600 and refused when group or others may read them.
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

    /// Reads a private key file, refusing it when group or others have any access.
    static func readPrivate(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BrokerError(.stateFile, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw BrokerError(.stateFile, "\(path) is accessible by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        return try read(path)
    }
}
