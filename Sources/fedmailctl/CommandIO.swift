import FedMailCrypto
import Foundation
import SystemIO

/// Input/output plumbing shared by subcommands: `-` or no path means stdin/stdout.
enum CommandIO {
    /// A path to read the input from: IN itself, or a private temp copy of stdin.
    /// A pipe or other non-regular file (e.g. `<(…)`) is copied too, since
    /// sealing and opening seek in their input.
    static func inputPath(_ path: String?, holder: inout [String]) throws -> String {
        var source: Int32 = 0
        if let path, path != "-" {
            var info = stat()
            guard stat(path, &info) == 0 else { throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
            if info.st_mode & S_IFMT == S_IFREG { return path }
            source = open(path, O_RDONLY)
            guard source >= 0 else { throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
        }
        defer { if source != 0 { close(source) } }
        let temp = try makeTemporaryPath(prefix: "fedmailctl-in")
        holder.append(temp)
        let fd = open(temp, O_WRONLY | O_TRUNC)
        guard fd >= 0 else { throw CLIError("cannot write \(temp)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw CLIError("reading input: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return temp
    }

    /// Whether OUT can be written by renaming a finished file onto it: it
    /// does not exist yet or is a regular file. A device (`/dev/null`), a
    /// FIFO or a symbolic link is written through instead, so it is never
    /// replaced.
    static func isReplaceable(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT }
        return info.st_mode & S_IFMT == S_IFREG
    }

    /// Copies a finished file into an existing non-regular OUT (a device, a
    /// FIFO, or through a symbolic link), opened without creating or replacing it.
    static func copy(_ path: String, into output: String) throws {
        let fd = open(output, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot write \(output): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try copy(path, toDescriptor: fd)
    }

    /// A private (0600) temporary file path.
    static func makeTemporaryPath(prefix: String) throws -> String {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(dir)/.\(prefix)-XXXXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw CLIError("cannot create a temporary file in \(dir)") }
        close(fd)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Copies a finished file to stdout.
    static func copyToStandardOutput(_ path: String) throws {
        try copy(path, toDescriptor: 1)
    }

    static func copy(_ path: String, toDescriptor output: Int32) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CLIError("cannot read \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw CLIError("reading \(path)") }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try writeAll(fd: output, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; throw CLIError("write failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// The PEM text of a private key file, read with the one private-file
    /// reader (it refuses a file group or others can access).
    static func readPrivateKey(_ path: String) throws -> String {
        String(decoding: try SecretFile.read(path), as: UTF8.self)
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("fedmailctl: \(message)\n".utf8))
    }
}

/// A command-line error with a message for the operator.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Removes the listed files when it goes away.
final class TemporaryFiles {
    var paths: [String] = []
    deinit { for path in paths { unlink(path) } }
}
