import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// PostgreSQL behind the broker: a connection pool shared by the process.
/// Several broker processes may use one database; everything that matters
/// lives in it, and decisions that must not race take an advisory lock.
public final class PostgresBrokerDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// The advisory lock key serializing exclusive transactions across processes.
    static let advisoryLockKey: Int64 = 0x0FED_3A11

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`;
    /// `?host=/run/postgresql` selects a Unix socket directory).
    public init(url: String, logger: Logger) async throws {
        guard let components = URLComponents(string: url),
              components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw StoreError(.badLocation, "not a postgres:// URL")
        }
        let user = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        let password = components.percentEncodedPassword?.removingPercentEncoding
        var database = String(components.path.dropFirst())
        if database.isEmpty { database = user }
        let socketDirectory = components.queryItems?.first(where: { $0.name == "host" })?.value
        let configuration: PostgresClient.Configuration
        if let socketDirectory, socketDirectory.hasPrefix("/") {
            let port = components.port ?? 5432
            configuration = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user,
                                  password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw StoreError(.badLocation, "the postgres URL names no host")
            }
            let tls = try Self.tls(host: host, query: components.queryItems ?? [])
            configuration = .init(host: host, port: components.port ?? 5432, username: user,
                                  password: password, database: database, tls: tls)
        }
        // The pool's own chatter (e.g. "run() hasn't been called yet" while the runner task
        // starts) stays below error level; failures reach callers as query errors.
        var backgroundLogger = logger
        if backgroundLogger.logLevel < .error { backgroundLogger.logLevel = .error }
        let client = PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger)
        self.client = client
        self.logger = logger
        self.runner = Task { await client.run() }
        do {
            _ = try await query("SELECT 1 AS one", [])
        } catch {
            runner.cancel()
            throw StoreError(.unavailable, "cannot reach PostgreSQL: \(error)")
        }
    }

    /// The TLS settings for a TCP connection to `host` from the URL's
    /// `sslmode` and `sslrootcert` (see ``PostgresTLSMode``).
    static func tls(host: String, query: [URLQueryItem]) throws -> PostgresClient.Configuration.TLS {
        let requested: PostgresTLSMode?
        if let text = query.first(where: { $0.name == "sslmode" })?.value {
            guard let mode = PostgresTLSMode(rawValue: text) else {
                throw StoreError(.badLocation, "sslmode '\(text)' is not one of \(PostgresTLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            requested = mode
        } else {
            requested = nil
        }
        let mode = PostgresTLSMode.effective(requested: requested, host: host)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate = query.first(where: { $0.name == "sslrootcert" })?.value {
            guard rootCertificate.hasPrefix("/") else {
                throw StoreError(.badLocation, "sslrootcert must be an absolute path, not '\(rootCertificate)'")
            }
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate)) } catch {
                throw StoreError(.badLocation, "cannot read sslrootcert \(rootCertificate): \(error)")
            }
        }
        switch mode {
        case .disable:
            return .disable
        case .require:
            tls.certificateVerification = .none
            return .require(tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case .verifyFull:
            // The host name is checked against the certificate's names; an
            // IP address cannot be (it is not sent as a server name).
            guard !PostgresTLSMode.isIPAddress(host) else {
                throw StoreError(.badLocation, "sslmode=verify-full needs the server's host name in the URL, not the address \(host) "
                                 + "(use the name its certificate carries, or sslmode=verify-ca)")
            }
            tls.certificateVerification = .fullVerification
            return .require(tls)
        }
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        do {
            let rows = try await client.query(Self.makeQuery(sql, binds), logger: logger)
            return try await Self.collect(rows)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.queryFailed, "PostgreSQL: \(String(reflecting: error))")
        }
    }

    public func transaction<T: Sendable>(exclusive: Bool, _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                let executor = Executor(connection: connection, logger: logger)
                _ = try await executor.query("BEGIN", [])
                do {
                    if exclusive {
                        _ = try await executor.query("SELECT pg_advisory_xact_lock($1) AS locked", [.integer(Self.advisoryLockKey)])
                    }
                    let result = try await body(executor)
                    _ = try await executor.query("COMMIT", [])
                    return result
                } catch {
                    _ = try? await executor.query("ROLLBACK", [])
                    throw error
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.queryFailed, "PostgreSQL: \(String(reflecting: error))")
        }
    }

    public func close() async throws {
        runner.cancel()
        _ = await runner.value
    }

    struct Executor: SQLExecutor {
        let connection: PostgresConnection
        let logger: Logger
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            do {
                let rows = try await connection.query(PostgresBrokerDatabase.makeQuery(sql, binds), logger: logger)
                return try await PostgresBrokerDatabase.collect(rows)
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError(.queryFailed, "PostgreSQL: \(String(reflecting: error))")
            }
        }
    }

    static func makeQuery(_ sql: String, _ binds: [SQLValue]) throws -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let text): bindings.append(text)
            case .integer(let number): bindings.append(number)
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        for try await row in rows {
            var values: SQLRow = [:]
            for cell in row {
                if cell.bytes == nil {
                    values[cell.columnName] = .null
                    continue
                }
                switch cell.dataType {
                case .int2, .int4, .int8:
                    values[cell.columnName] = .integer(try cell.decode(Int64.self))
                case .bool:
                    values[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
                case .void:
                    values[cell.columnName] = .null
                default:
                    values[cell.columnName] = .text(try cell.decode(String.self))
                }
            }
            result.append(values)
        }
        return result
    }
}
