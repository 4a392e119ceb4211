import ArgumentParser
import Foundation
import Scanner

/// `fedmailctl scan`: scan a message file with clamd, as the milter does.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan a message (or any file) with clamd over its socket, as fedmail-milter does before sealing and after opening.",
        discussion: """
        Streams FILE (or standard input when FILE is - or missing) to clamd with the INSTREAM \
        command in 64 KiB chunks, never reading it whole, and prints the verdict:

          clean                   nothing found                               exit 0
          infected: SIGNATURE     clamd found SIGNATURE                       exit 1
          fedmailctl: ERROR       no verdict; the error goes to stderr:
                                  clamd down, refused, timed out or failed    exit 75 (EX_TEMPFAIL: try again)
                                  size-limit-exceeded (clamd's StreamMaxLength),
                                  unreadable FILE or a bad address            exit 2

        --clamd takes clamd's address like the milter's Socket: unix:/run/clamav/clamd.ctl \
        (or local:/path, or a bare absolute path) for clamd's LocalSocket, inet:3310@127.0.0.1 \
        for its TCPSocket/TCPAddr. --version prints clamd's engine and database version \
        (what the milter records in the virusScan control flag) instead of scanning; --ping \
        checks that clamd answers.
        """)

    @Option(help: ArgumentHelp("clamd's socket: unix:/path or inet:PORT@HOST.", valueName: "ADDR"))
    var clamd: String

    @Flag(name: .customLong("version"), help: "Print clamd's VERSION (engine/database) and exit.")
    var showVersion = false

    @Flag(help: "Check that clamd answers PING and exit.")
    var ping = false

    @Option(help: ArgumentHelp("Seconds to wait for clamd to accept, take data or answer.", valueName: "SECONDS"))
    var timeout: Double = 30

    @Argument(help: ArgumentHelp("The file to scan; - or none reads standard input.", valueName: "FILE"))
    var file: String?

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
        if showVersion && ping { throw ValidationError("give --version or --ping, not both") }
        if (showVersion || ping) && file != nil { throw ValidationError("--version and --ping take no FILE") }
    }

    func run() throws {
        var options = ClamdClient.Options()
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        options.connectTimeout = min(limit, .seconds(10))
        options.writeTimeout = limit
        options.replyTimeout = limit
        let client: ClamdClient
        do {
            client = try ClamdClient(address: clamd, options: options)
        } catch {
            CommandIO.printError(error.message)
            throw ExitCode(2)
        }
        if showVersion || ping {
            do {
                if showVersion {
                    print(try client.version())
                } else {
                    try client.ping()
                    print("PONG")
                }
            } catch {
                CommandIO.printError(error.description)
                throw ExitCode(error.isTransient ? 75 : 2)
            }
            return
        }
        let result: ScanResult
        if let file, file != "-" {
            result = client.scan(fileAt: file)
        } else {
            result = client.scan(fileDescriptor: 0, name: "standard input")
        }
        switch result {
        case .clean:
            print("clean")
        case .infected(let signature):
            print("infected: \(signature)")
            throw ExitCode(1)
        case .error(let error):
            CommandIO.printError(error.description)
            throw ExitCode(error.isTransient ? 75 : 2)
        }
    }
}
