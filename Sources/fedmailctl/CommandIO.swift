import FedMailCrypto
import Foundation
import SystemIO

/// Input/output plumbing shared by subcommands: `-` or no path means stdin/stdout.
enum CommandIO {
    /// A path to read the input from: IN itself, or a private temp copy of stdin.
    /// A pipe or other non-regular file (e.g. `<(…)`) is copied too, since
    /// sealing and opening seek in their input.
    static func inputPath(_ path: String?, temporaries: TemporaryFiles) throws -> String {
        let copy = try inputPath(path, holder: &temporaries.paths)
        if path == nil || path == "-" { temporaries.standardInputCopy = copy }
        return copy
    }

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
        let (fd, temp) = try cli { () throws(SystemIOError) in try PrivateTemporaryFile.create(prefix: ".fedmailctl-in-") }
        holder.append(temp)
        defer { FileIO.close(fd) }
        try cli { () throws(SystemIOError) in try FileIO.copy(from: source, offset: nil, length: nil, to: fd, name: path ?? "standard input") }
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
        let (fd, path) = try cli { () throws(SystemIOError) in try PrivateTemporaryFile.create(prefix: ".\(prefix)-") }
        FileIO.close(fd)
        return path
    }

    /// Copies a finished file to stdout.
    static func copyToStandardOutput(_ path: String) throws {
        try copy(path, toDescriptor: 1)
    }

    static func copy(_ path: String, toDescriptor output: Int32) throws {
        let fd = try cli { () throws(SystemIOError) in try FileIO.openRead(path) }
        defer { FileIO.close(fd) }
        try cli { () throws(SystemIOError) in try FileIO.copy(from: fd, offset: nil, length: nil, to: output, name: path) }
    }

    /// Runs file I/O, mapping its failure once to a ``CLIError``.
    static func cli<T>(_ body: () throws(SystemIOError) -> T) throws(CLIError) -> T {
        do { return try body() } catch { throw CLIError(error.message) }
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
    /// The private copy of standard input, when the input was read from it.
    var standardInputCopy: String?
    deinit { for path in paths { unlink(path) } }

    /// `message` with the path of the copy of standard input named as
    /// what the operator gave: "standard input".
    func named(_ message: String) -> String {
        guard let standardInputCopy else { return message }
        return message.replacingOccurrences(of: standardInputCopy, with: "standard input")
    }
}
