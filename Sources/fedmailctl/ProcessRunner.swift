import Foundation
import SystemIO

/// Runs a program with a time limit and collects what it printed (through
/// private temporary files, so a large output cannot block it on a full pipe).
enum ProcessRunner {
    struct Output {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Runs `executable` with `arguments`; throws ``CLIError`` when it cannot
    /// start or runs longer than `timeout` (it is then terminated).
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) throws -> Output {
        let files = TemporaryFiles()
        let out = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-out")
        let err = try CommandIO.makeTemporaryPath(prefix: "fedmailctl-err")
        files.paths += [out, err]
        guard let outHandle = FileHandle(forWritingAtPath: out), let errHandle = FileHandle(forWritingAtPath: err) else {
            throw CLIError("cannot open temporary files for \(executable)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw CLIError("cannot run \(executable): \(error.localizedDescription)")
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw CLIError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        process.waitUntilExit()
        try? outHandle.close()
        try? errHandle.close()
        let read: (String) -> String = { path in
            (FileManager.default.contents(atPath: path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return Output(status: process.terminationStatus, standardOutput: read(out), standardError: read(err))
    }

    /// The first executable `name` in PATH or the usual system directories.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
