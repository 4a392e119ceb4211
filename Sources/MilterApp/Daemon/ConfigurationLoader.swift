import SystemIO
import FedMailCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and checks `fedmail-milter`'s configuration file.
public enum ConfigurationLoader {
    /// Reads `path` and parses it into a ``MilterConfiguration``.
    ///
    /// - Throws: ``ConfigurationError`` — `unreadable` when the file cannot
    ///   be read, otherwise the first error with its line number.
    public static func load(path: String) throws(ConfigurationError) -> MilterConfiguration {
        let text = try readText(path: path)
        return try MilterConfiguration(parsing: text, path: path)
    }

    /// Reads and parses `path`, then checks what only the running system can
    /// tell: that `UserID`'s user and group exist.
    public static func check(path: String) throws(ConfigurationError) -> MilterConfiguration {
        let configuration = try load(path: path)
        if let spec = configuration.userID {
            do {
                _ = try UserIdentity(resolving: spec)
            } catch {
                let file = try ConfigurationFile(parsing: readText(path: path), path: path)
                if let entry = file.entry("UserID") {
                    throw file.error(.badValue, at: entry, "'UserID': \(error.message)")
                }
                throw file.error(.badValue, "'UserID': \(error.message)")
            }
        }
        _ = try federationRuntime(configuration, path: path, hostname: "localhost", connect: false)
        return configuration
    }

    /// Loads the federation state the configuration names (allowlist, keys,
    /// broker CA; broker clients when `connect`), reporting a problem as a
    /// configuration error: the allowlist's own file and line, or this file.
    public static func federationRuntime(_ configuration: MilterConfiguration, path: String, hostname: String,
                                         connect: Bool) throws(ConfigurationError) -> FederationRuntime {
        do {
            return try FederationRuntime(configuration: configuration, hostname: hostname, connect: connect)
        } catch {
            if let underlying = error.configurationError { throw underlying }
            throw ConfigurationError(code: .badValue, file: path, line: nil, message: error.message)
        }
    }

    /// The whole file as UTF-8 text.
    static func readText(path: String) throws(ConfigurationError) -> String {
        let bytes: [UInt8]
        do {
            let fd = try FileIO.openRead(path)
            defer { FileIO.close(fd) }
            bytes = try FileIO.read(fd, count: (1 << 20) + 1, name: path)
        } catch {
            throw ConfigurationError(code: .unreadable, file: path, line: nil, message: "cannot read: \(error.message)")
        }
        guard bytes.count <= 1 << 20 else {
            throw ConfigurationError(code: .unreadable, file: path, line: nil, message: "larger than 1 MB")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(code: .badValue, file: path, line: nil, message: "not valid UTF-8 text")
        }
        return text
    }
}
