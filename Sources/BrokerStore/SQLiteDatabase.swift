import Logging
import NIOCore
import SQLiteNIO

/// The embedded default database: one SQLite file, opened in WAL mode with a
/// busy timeout so that the operator's `fedmail-broker org …` commands can
/// write while the server runs. All statements of this process go through one
/// connection, serialized by a lock so that transactions never interleave.
public final class SQLiteBrokerDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncSerialLock()

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String, logger: Logger) async throws {
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw StoreError(.unavailable, "cannot open SQLite database \(path): \(error)")
        }
        _ = try await Self.run(connection, "PRAGMA busy_timeout = 10000", [])
        _ = try await Self.run(connection, "PRAGMA journal_mode = WAL", [])
        _ = try await Self.run(connection, "PRAGMA foreign_keys = ON", [])
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let connection = self.connection
        return try await lock.withLock { try await Self.run(connection, sql, binds) }
    }

    public func transaction<T: Sendable>(exclusive: Bool, _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        let connection = self.connection
        return try await lock.withLock {
            let executor = Executor(connection: connection)
            _ = try await Self.run(connection, "BEGIN IMMEDIATE", [])
            do {
                let result = try await body(executor)
                _ = try await Self.run(connection, "COMMIT", [])
                return result
            } catch {
                _ = try? await Self.run(connection, "ROLLBACK", [])
                throw error
            }
        }
    }

    public func close() async throws {
        try await connection.close()
    }

    /// The executor handed to a transaction body: it runs directly on the
    /// connection, the lock being already held.
    struct Executor: SQLExecutor {
        let connection: SQLiteConnection
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await SQLiteBrokerDatabase.run(connection, sql, binds)
        }
    }

    static func run(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .text(let text): .text(text)
            case .integer(let number): .integer(Int(number))
            case .null: .null
            }
        }
        do {
            let rows = try await connection.query(sql, data)
            return rows.map { row in
                var result: SQLRow = [:]
                for column in row.columns {
                    switch column.data {
                    case .integer(let number): result[column.name] = .integer(Int64(number))
                    case .text(let text): result[column.name] = .text(text)
                    case .float(let number): result[column.name] = .integer(Int64(number))
                    case .blob(var buffer): result[column.name] = .text(buffer.readString(length: buffer.readableBytes) ?? "")
                    case .null: result[column.name] = .null
                    }
                }
                return result
            }
        } catch {
            throw StoreError(.queryFailed, "SQLite: \(error)")
        }
    }
}
