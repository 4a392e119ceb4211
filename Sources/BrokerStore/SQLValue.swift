/// A value bound to, or read from, an SQL statement. The broker's schema
/// uses only text and 64-bit integers so that SQLite and PostgreSQL store
/// exactly the same thing.
public enum SQLValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case null

    /// The text, if this is a text value.
    public var string: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The integer, if this is an integer value.
    public var int64: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}

/// One result row, by column name.
public typealias SQLRow = [String: SQLValue]

/// Runs SQL statements on one connection. Statements use `$1`, `$2`, …
/// placeholders in ascending order of first use (both SQLite and PostgreSQL
/// accept this form).
public protocol SQLExecutor: Sendable {
    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

/// The SQL dialect a database speaks, for the few statements that differ.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// A database behind the broker's store: SQLite or PostgreSQL.
public protocol SQLDatabase: SQLExecutor {
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction, committed when it returns and rolled back when it throws.
    /// On PostgreSQL the transaction holds an advisory lock when `exclusive` is set, so
    /// that concurrent broker processes serialize decisions such as approvals.
    func transaction<T: Sendable>(exclusive: Bool, _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T
    /// Closes the connection(s).
    func close() async throws
}
