/// What clamd's `VERSION` command says: engine version, and when signature
/// databases with a version are loaded, the database version and date
/// (`ClamAV 1.4.6/27400/Mon Nov 23 09:30:00 2026`).
public struct ClamdVersion: Sendable, Hashable, CustomStringConvertible {
    /// The engine, e.g. `ClamAV 1.4.6`.
    public var engine: String
    /// The database version (the daily database's number), if clamd gave one.
    public var databaseVersion: Int?
    /// The database build date as clamd prints it, if given.
    public var databaseDate: String?

    /// Parses a `VERSION` reply.
    /// - Returns: `nil` when the reply is not a ClamAV version string.
    public init?(reply: String) {
        let trimmed = reply.trimmingCharacters(in: [" ", "\n", "\r", "\0"])
        let parts = trimmed.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard let first = parts.first, first.hasPrefix("ClamAV "), first.count > 7 else { return nil }
        engine = String(first)
        databaseVersion = parts.count > 1 ? Int(parts[1]) : nil
        databaseDate = parts.count > 2 ? String(parts[2]) : nil
    }

    public init(engine: String, databaseVersion: Int? = nil, databaseDate: String? = nil) {
        self.engine = engine
        self.databaseVersion = databaseVersion
        self.databaseDate = databaseDate
    }

    /// The text for the control flag's `engine` member:
    /// `ClamAV 1.4.6/27400`, or just the engine when no database version is known.
    public var controlFlagEngine: String {
        databaseVersion.map { "\(engine)/\($0)" } ?? engine
    }

    public var description: String {
        var text = engine
        if let databaseVersion { text += "/\(databaseVersion)" }
        if let databaseDate { text += "/\(databaseDate)" }
        return text
    }
}

extension String {
    /// The string without the given leading and trailing characters.
    func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
