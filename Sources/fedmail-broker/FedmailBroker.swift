import ArgumentParser
import Broker
import FedMailCore
import Foundation

@main
struct FedmailBroker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedmail-broker",
        abstract: "The FedMail trust broker: enrollment, federation tokens, key containers and policy.",
        discussion: """
        The broker is the certificate authority of a FedMail federation.
        Organizations enroll their gateway key with `fedmailctl enroll`; an
        operator approves the enrollment with `fedmail-broker org approve`;
        gateways then ask the broker (`POST /v1/tokens`, mutual TLS with the
        organization certificate) for federation tokens and key containers.

        Configuration (default /etc/fedmail/fedmail-broker.conf) is one
        `Name value` per line, names case-insensitive, `#` comments; unknown
        names are errors with the line number:
          Listen HOST:PORT          HTTPS address (default 127.0.0.1:8443)
          StateDir DIR              CA and token keys, and the SQLite file
                                    by default (/var/lib/fedmail-broker)
          Database LOCATION         sqlite:/path/broker.db (default
                                    StateDir/broker.db) or
                                    postgres://user[:password]@host[:port]/db
                                    [?sslmode=MODE&sslrootcert=/path/ca.pem]
                                    (TLS: verify-full by default for any
                                    host but localhost/127.x; modes disable,
                                    require, verify-ca, verify-full)
          ServerName NAMES          names/IPs in the broker's TLS certificate
                                    (default localhost, 127.0.0.1)
          BrokerName NAME           CA subject organization and token issuer
                                    (at init)
          KeyContainerLifetime DUR  key container lifetime (default 24h)
          TokenLifetime DUR         federation token lifetime (default 24h)
          CertificateLifetime DUR   organization certificate lifetime
                                    (default 365d)
          CRLValidity DUR           how long each CRL is valid: its
                                    nextUpdate is thisUpdate + this (default
                                    24h; a fresh CRL is signed at most every
                                    10 s and whenever the list changes)
          CRLURL URL                the cRLDistributionPoints URI in every
                                    certificate the broker issues (default
                                    https://<first ServerName>:<Listen port>/v1/crl)
          LogLevel LEVEL            error, warning, notice, info (default)
                                    or debug
          UMask MASK                file creation mask (default 027)
          MetricsFromAnywhere BOOL  serve /metrics to non-loopback clients
                                    (default no)
          UserID USER[:GROUP]       switch to this user once the socket is
                                    bound (when started as root); it needs
                                    write access to the SQLite database and
                                    its directory
          DNSValidation BOOL        approving needs every domain's DNS
                                    challenge (_fedmail-challenge.DOMAIN
                                    TXT) seen (default yes; `org approve
                                    --skip-dns-validation` is audited)
          DNSResolver ADDR[:PORT]   numeric resolver address for the
                                    challenges (default: first nameserver
                                    of /etc/resolv.conf, port 53)
          DNSTimeout DUR            one TXT lookup's budget (default 5s)
          EnrollmentRateLimit N/P   per source address, POST
                                    /v1/enrollments: bursts of N, N per P
                                    (s, min, h) or off (default 30/h)
          StatusRateLimit N/P       the same for GET /v1/enrollments/ID and
                                    GET /v1/ca (default 120/min)
          MaxPendingEnrollments N   pending enrollments at once (default
                                    1000; 0 no cap); beyond: 429
          MaxPendingPerSource N     the same per source address (default 20)
          IdleTimeout DUR           close a connection without a request
                                    part (TLS handshake included) after
                                    DUR (default 30s)
          RequestTimeout DUR        close a connection whose request has
                                    not ended DUR after its head (30s)
          MaxConnections N          connections open at once; more wait in
                                    the listen backlog (default 4096; 0 no cap)
          MaxConnectionsPerSource N the same per IPv4 address or IPv6 /64,
                                    4x per /24 or /48; beyond: closed at
                                    once (default 32)

        Exit status: 0 on success, 1 on error, 64 on a usage error, 78 on a
        configuration error.
        """,
        subcommands: [
            InitCommand.self,
            ServeCommand.self,
            CheckConfigCommand.self,
            OrgCommand.self,
            PolicyCommand.self,
            AuditCommand.self,
            CRLCommand.self,
        ]
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Configuration file.", valueName: "FILE"))
    var config: String = "/etc/fedmail/fedmail-broker.conf"

    @Flag(name: .customShort("n"), help: "Check the configuration file and exit (like check-config).")
    var checkOnly = false

    mutating func run() async throws {
        guard checkOnly else {
            print(Self.helpMessage())
            throw ExitCode(64)
        }
        _ = try loadConfiguration()
        print("\(config): configuration OK")
    }

    /// Loads the configuration, turning errors into `file:line: message` and exit status 78.
    func loadConfiguration() throws -> BrokerConfiguration {
        do {
            return try BrokerConfiguration.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("fedmail-broker: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

/// Runs `body`, printing broker errors as one clear line and exiting 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("fedmail-broker: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the configuration file and exit non-zero with a line-numbered message if it is wrong.")

    @ParentCommand var root: FedmailBroker

    func run() async throws {
        _ = try root.loadConfiguration()
        print("\(root.config): configuration OK")
    }
}

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the broker CA key (0600) and certificate and the token-signing key in StateDir.",
        discussion: """
        Creates StateDir/ca.key, ca.crt, token.key and token.crt and the
        database schema. Refuses to overwrite existing keys. Distribute ca.crt
        to every gateway out of band: it is the trust anchor they pin
        (BrokerCA).
        """)

    @ParentCommand var root: FedmailBroker

    func run() async throws {
        let configuration = try root.loadConfiguration()
        try await reportingErrors {
            let authority = try CertificateAuthority.initialize(in: configuration.stateDirectory, brokerName: configuration.brokerName)
            let logger = BrokerRuntime.makeLogger(level: configuration.logLevel)
            let service = try await BrokerRuntime.makeService(configuration: configuration, logger: logger)
            try await service.store.close()
            print("created \(configuration.stateDirectory)/ca.crt (CA \(authority.caCertificate.subject))")
        }
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the broker over HTTPS with mutual TLS until SIGTERM or SIGINT.")

    @ParentCommand var root: FedmailBroker

    @Option(help: ArgumentHelp("Listen on HOST:PORT instead of the configured Listen (port 0: any free port).", valueName: "HOST:PORT"))
    var listen: String?

    @Option(help: ArgumentHelp("Write the port actually listened on to FILE once serving.", valueName: "FILE"))
    var portFile: String?

    func run() async throws {
        var configuration = try root.loadConfiguration()
        if let listen {
            guard let (host, port) = BrokerConfiguration.parseListenValue(listen) else {
                throw ValidationError("--listen must be HOST:PORT")
            }
            configuration.listenHost = host
            configuration.listenPort = port
        }
        let portFile = self.portFile
        let settings = configuration
        try await reportingErrors {
            let configuration = settings
            let logger = BrokerRuntime.makeLogger(level: configuration.logLevel)
            let service = try await BrokerRuntime.makeService(configuration: configuration, logger: logger)
            let server = BrokerServer(service: service)
            try await server.run(host: configuration.listenHost, port: configuration.listenPort) { port in
                if let user = configuration.userID {
                    do {
                        try PrivilegeDrop.drop(to: user)
                    } catch {
                        logger.critical("cannot drop privileges", metadata: ["error": "\(error)"])
                        Foundation.exit(1)
                    }
                }
                logger.notice("serving", metadata: ["address": "\(configuration.listenHost):\(port)", "database": "\(configuration.database.hasPrefix("postgres") ? "postgres" : "sqlite")"])
                if let portFile {
                    try? "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8)
                }
            }
            try await service.store.close()
        }
    }
}
