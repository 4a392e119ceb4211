import Foundation
import Logging

/// The broker's store over a real SQL database (SQLite or PostgreSQL).
/// It keeps no state of its own beyond the connection, so several broker
/// processes on one PostgreSQL give the same answers.
public final class SQLBrokerStore: BrokerStore {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    /// Opens the database a `Database` setting names: `sqlite:/path/file.db`
    /// (or a plain path) or `postgres://user@host:port/db`.
    public static func open(location: String, logger: Logger) async throws -> SQLBrokerStore {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return SQLBrokerStore(database: try await PostgresBrokerDatabase(url: location, logger: logger))
        }
        var path = location
        if path.hasPrefix("sqlite:") { path = String(path.dropFirst("sqlite:".count)) }
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        guard path.hasPrefix("/") else {
            throw StoreError(.badLocation, "'\(Self.redacted(location: location))' is neither sqlite:/absolute/path nor postgres://…")
        }
        return SQLBrokerStore(database: try await SQLiteBrokerDatabase(path: path, logger: logger))
    }

    // MARK: migrations

    public func migrate() async throws {
        let dialect = database.dialect
        _ = try await database.transaction(exclusive: true) { db in
            try await db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)", [])
        }
        let migrations = Migrations.all(for: dialect)
        for migration in migrations {
            try await database.transaction(exclusive: true) { db in
                let done = try await db.query("SELECT version FROM schema_migrations WHERE version = $1", [.integer(migration.version)])
                guard done.isEmpty else { return }
                for statement in migration.statements {
                    try await db.query(statement, [])
                }
                try await db.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                                   [.integer(migration.version), .integer(Self.now())])
            }
        }
        let newest = try await database.query("SELECT MAX(version) AS version FROM schema_migrations", [])
        if let version = newest.first?["version"]?.int64, version > (migrations.last?.version ?? 0) {
            throw StoreError(.schemaTooNew, "the database has schema version \(version); this broker knows up to \(migrations.last?.version ?? 0)")
        }
    }

    // MARK: enrollments

    public func addEnrollment(_ enrollment: Enrollment, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: false) { db in
            try await db.query("""
                INSERT INTO enrollments (id, organization, domains, csr_pem, key_sha256, status, created_at,
                challenge_token, validated_domains, source)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """, [.text(enrollment.id), .text(enrollment.organization), .text(enrollment.domains.joined(separator: ",")),
                      .text(enrollment.csrPEM), .text(enrollment.keySHA256), .text(enrollment.status.rawValue),
                      .integer(enrollment.createdAt), enrollment.challengeToken.map { .text($0) } ?? .null,
                      .text(enrollment.validatedDomains.joined(separator: ",")), enrollment.source.map { .text($0) } ?? .null])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func enrollment(id: String) async throws -> Enrollment? {
        try await database.query("SELECT * FROM enrollments WHERE id = $1", [.text(id)]).first.map(Self.enrollment)
    }

    public func enrollments(status: Enrollment.Status?) async throws -> [Enrollment] {
        if let status {
            return try await database.query("SELECT * FROM enrollments WHERE status = $1 ORDER BY created_at, id", [.text(status.rawValue)]).map(Self.enrollment)
        }
        return try await database.query("SELECT * FROM enrollments ORDER BY created_at, id", []).map(Self.enrollment)
    }

    public func approve(enrollmentID: String, organization: Organization, replaceKey: Bool, supersededReason: String,
                        audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            guard let row = try await db.query("SELECT * FROM enrollments WHERE id = $1", [.text(enrollmentID)]).first else {
                throw StoreError(.notFound, "no enrollment \(enrollmentID)")
            }
            let enrollment = Self.enrollment(row)
            guard enrollment.status == .pending || (enrollment.status == .keyReplacement && replaceKey) else {
                if enrollment.status == .keyReplacement {
                    throw StoreError(.conflict, "enrollment \(enrollmentID) would replace the key of existing organization \(enrollment.organization); approve it with --replace-key only after verifying out of band that the applicant is that organization")
                }
                throw StoreError(.conflict, "enrollment \(enrollmentID) is already \(enrollment.status.rawValue)")
            }
            for domain in enrollment.domains {
                if let owner = try await db.query("SELECT organization FROM domains WHERE domain = $1", [.text(domain)]).first?["organization"]?.string,
                   owner != organization.name {
                    throw StoreError(.conflict, "domain \(domain) belongs to organization \(owner)")
                }
            }
            let existing = try await db.query("SELECT * FROM organizations WHERE name = $1", [.text(organization.name)]).first.map(Self.organization)
            if let existing {
                guard replaceKey else {
                    throw StoreError(.conflict, "organization \(existing.name) already exists (\(existing.status.rawValue)); enrollment \(enrollmentID) would replace its key: approve it with --replace-key only after verifying out of band that the applicant is that organization")
                }
                if existing.certificateSHA256 != organization.certificateSHA256 {
                    try await db.query("""
                        INSERT INTO revoked_certificates (certificate_sha256, organization, revoked_at, reason)
                        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                        """, [.text(existing.certificateSHA256), .text(existing.name), .integer(audit.at), .text(supersededReason)])
                }
                try await db.query("""
                    UPDATE organizations SET status = $1, certificate_pem = $2, certificate_sha256 = $3,
                    public_key_der = $4, key_sha256 = $5, updated_at = $6 WHERE name = $7
                    """, [.text(Organization.Status.active.rawValue), .text(organization.certificatePEM),
                          .text(organization.certificateSHA256), .text(organization.publicKeyDER),
                          .text(organization.keySHA256), .integer(audit.at), .text(organization.name)])
            } else {
                try await db.query("""
                    INSERT INTO organizations (name, status, certificate_pem, certificate_sha256, public_key_der,
                    key_sha256, restricted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                    """, [.text(organization.name), .text(Organization.Status.active.rawValue), .text(organization.certificatePEM),
                          .text(organization.certificateSHA256), .text(organization.publicKeyDER), .text(organization.keySHA256),
                          .integer(organization.restricted ? 1 : 0), .integer(audit.at), .integer(audit.at)])
            }
            for domain in enrollment.domains {
                try await db.query("INSERT INTO domains (domain, organization) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                   [.text(domain), .text(organization.name)])
            }
            try await db.query("UPDATE enrollments SET status = $1, certificate_pem = $2, decided_at = $3 WHERE id = $4",
                               [.text(Enrollment.Status.approved.rawValue), .text(organization.certificatePEM),
                                .integer(audit.at), .text(enrollmentID)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func reject(enrollmentID: String, reason: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            guard let row = try await db.query("SELECT status FROM enrollments WHERE id = $1", [.text(enrollmentID)]).first else {
                throw StoreError(.notFound, "no enrollment \(enrollmentID)")
            }
            guard [Enrollment.Status.pending.rawValue, Enrollment.Status.keyReplacement.rawValue].contains(row["status"]?.string ?? "") else {
                throw StoreError(.conflict, "enrollment \(enrollmentID) is not waiting for a decision")
            }
            try await db.query("UPDATE enrollments SET status = $1, reason = $2, decided_at = $3 WHERE id = $4",
                               [.text(Enrollment.Status.rejected.rawValue), .text(reason), .integer(audit.at), .text(enrollmentID)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func setValidatedDomains(_ domains: [String], enrollmentID: String, audit: [AuditEvent]) async throws {
        try await database.transaction(exclusive: true) { db in
            let updated = try await db.query("UPDATE enrollments SET validated_domains = $1 WHERE id = $2 AND status = $3 RETURNING id",
                                             [.text(domains.joined(separator: ",")), .text(enrollmentID),
                                              .text(Enrollment.Status.pending.rawValue)])
            guard !updated.isEmpty else { throw StoreError(.conflict, "enrollment \(enrollmentID) is not pending") }
            try await Self.insertAudit(db, audit)
        }
    }

    public func pendingEnrollmentCount(source: String?) async throws -> Int {
        let rows: [SQLRow]
        if let source {
            rows = try await database.query("SELECT COUNT(*) AS n FROM enrollments WHERE status IN ($1, $2) AND source = $3",
                                            [.text(Enrollment.Status.pending.rawValue), .text(Enrollment.Status.keyReplacement.rawValue),
                                             .text(source)])
        } else {
            rows = try await database.query("SELECT COUNT(*) AS n FROM enrollments WHERE status IN ($1, $2)",
                                            [.text(Enrollment.Status.pending.rawValue), .text(Enrollment.Status.keyReplacement.rawValue)])
        }
        return Int(rows.first?["n"]?.int64 ?? 0)
    }

    // MARK: organizations

    public func organization(named name: String) async throws -> Organization? {
        try await database.query("SELECT * FROM organizations WHERE name = $1", [.text(name)]).first.map(Self.organization)
    }

    public func organizations() async throws -> [Organization] {
        try await database.query("SELECT * FROM organizations ORDER BY name", []).map(Self.organization)
    }

    public func organization(forDomain domain: String) async throws -> Organization? {
        try await database.query("""
            SELECT o.* FROM organizations o JOIN domains d ON d.organization = o.name WHERE d.domain = $1
            """, [.text(domain.lowercased())]).first.map(Self.organization)
    }

    public func domains(of organization: String) async throws -> [String] {
        try await database.query("SELECT domain FROM domains WHERE organization = $1 ORDER BY domain", [.text(organization)])
            .compactMap { $0["domain"]?.string }
    }

    public func updateCertificate(of organization: String, certificatePEM: String, certificateSHA256: String) async throws {
        _ = try await database.transaction(exclusive: true) { db in
            try await db.query("UPDATE organizations SET certificate_pem = $1, certificate_sha256 = $2, updated_at = $3 WHERE name = $4",
                               [.text(certificatePEM), .text(certificateSHA256), .integer(Self.now()), .text(organization)])
        }
    }

    public func replaceCertificate(of organization: String, expectedCurrentSHA256: String, certificatePEM: String,
                                   certificateSHA256: String, publicKeyDER: String, keySHA256: String,
                                   supersededReason: String, audit: [AuditEvent]) async throws {
        try await database.transaction(exclusive: true) { db in
            guard let current = try await db.query("SELECT * FROM organizations WHERE name = $1", [.text(organization)]).first.map(Self.organization) else {
                throw StoreError(.notFound, "no organization \(organization)")
            }
            guard current.status == .active else {
                throw StoreError(.conflict, "organization \(organization) is \(current.status.rawValue)")
            }
            guard current.certificateSHA256 == expectedCurrentSHA256 else {
                throw StoreError(.conflict, "the certificate of \(organization) was replaced by another request; try again")
            }
            let now = audit.first?.at ?? Self.now()
            try await db.query("""
                UPDATE organizations SET certificate_pem = $1, certificate_sha256 = $2, public_key_der = $3,
                key_sha256 = $4, updated_at = $5 WHERE name = $6
                """, [.text(certificatePEM), .text(certificateSHA256), .text(publicKeyDER), .text(keySHA256),
                      .integer(now), .text(organization)])
            try await db.query("""
                INSERT INTO revoked_certificates (certificate_sha256, organization, revoked_at, reason)
                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                """, [.text(current.certificateSHA256), .text(organization), .integer(now), .text(supersededReason)])
            try await Self.insertAudit(db, audit)
        }
    }

    public func addDomain(_ domain: String, to organization: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            try await Self.requireOrganization(db, organization)
            if let owner = try await db.query("SELECT organization FROM domains WHERE domain = $1", [.text(domain)]).first?["organization"]?.string {
                if owner == organization { return }
                throw StoreError(.conflict, "domain \(domain) belongs to organization \(owner)")
            }
            try await db.query("INSERT INTO domains (domain, organization) VALUES ($1, $2)", [.text(domain), .text(organization)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func removeDomain(_ domain: String, from organization: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            let removed = try await db.query("DELETE FROM domains WHERE domain = $1 AND organization = $2 RETURNING domain",
                                             [.text(domain), .text(organization)])
            guard !removed.isEmpty else { throw StoreError(.notFound, "organization \(organization) has no domain \(domain)") }
            try await Self.insertAudit(db, [audit])
        }
    }

    public func revoke(organization: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            guard let current = try await db.query("SELECT * FROM organizations WHERE name = $1", [.text(organization)]).first.map(Self.organization) else {
                throw StoreError(.notFound, "no organization \(organization)")
            }
            try await db.query("UPDATE organizations SET status = $1, updated_at = $2 WHERE name = $3",
                               [.text(Organization.Status.revoked.rawValue), .integer(audit.at), .text(organization)])
            try await db.query("""
                INSERT INTO revoked_certificates (certificate_sha256, organization, revoked_at, reason)
                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                """, [.text(current.certificateSHA256), .text(organization), .integer(audit.at), .text("revoked")])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func revocationReason(sha256: String) async throws -> String? {
        try await database.query("SELECT reason FROM revoked_certificates WHERE certificate_sha256 = $1", [.text(sha256)]).first?["reason"]?.string
    }

    public func isCertificateRevoked(sha256: String) async throws -> Bool {
        !(try await database.query("SELECT certificate_sha256 FROM revoked_certificates WHERE certificate_sha256 = $1", [.text(sha256)]).isEmpty)
    }

    // MARK: policy

    public func setRestricted(_ restricted: Bool, organization: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            try await Self.requireOrganization(db, organization)
            try await db.query("UPDATE organizations SET restricted = $1, updated_at = $2 WHERE name = $3",
                               [.integer(restricted ? 1 : 0), .integer(audit.at), .text(organization)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func allowSender(_ sender: String, to recipient: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            try await Self.requireOrganization(db, recipient)
            try await db.query("INSERT INTO policy (recipient, sender) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                               [.text(recipient), .text(sender)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func disallowSender(_ sender: String, to recipient: String, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            try await Self.requireOrganization(db, recipient)
            try await db.query("DELETE FROM policy WHERE recipient = $1 AND sender = $2", [.text(recipient), .text(sender)])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func allowedSenders(to recipient: String) async throws -> [String] {
        try await database.query("SELECT sender FROM policy WHERE recipient = $1 ORDER BY sender", [.text(recipient)])
            .compactMap { $0["sender"]?.string }
    }

    public func maySend(from sender: String, to recipient: Organization) async throws -> Bool {
        guard recipient.restricted else { return true }
        return !(try await database.query("SELECT sender FROM policy WHERE recipient = $1 AND sender = $2",
                                          [.text(recipient.name), .text(sender)]).isEmpty)
    }

    // MARK: audit

    public func appendAudit(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await database.transaction(exclusive: false) { db in
            try await Self.insertAudit(db, events)
        }
    }

    public func audit(limit: Int) async throws -> [AuditEvent] {
        try await database.query("SELECT * FROM audit ORDER BY id DESC LIMIT $1", [.integer(Int64(limit))]).map { row in
            AuditEvent(id: row["id"]?.int64 ?? 0, at: row["at"]?.int64 ?? 0, actor: row["actor"]?.string ?? "",
                       action: row["action"]?.string ?? "", organization: row["organization"]?.string,
                       detail: row["detail"]?.string ?? "", source: row["source"]?.string, identity: row["identity"]?.string)
        }.reversed()
    }

    public func close() async throws {
        try await database.close()
    }

    // MARK: helpers

    static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }

    static func insertAudit(_ db: any SQLExecutor, _ events: [AuditEvent]) async throws {
        for event in events {
            try await db.query("""
                INSERT INTO audit (at, actor, action, organization, detail, source, identity) VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, [.integer(event.at), .text(event.actor), .text(event.action),
                      event.organization.map { .text($0) } ?? .null, .text(event.detail),
                      event.source.map { .text($0) } ?? .null, event.identity.map { .text($0) } ?? .null])
        }
    }

    static func requireOrganization(_ db: any SQLExecutor, _ name: String) async throws {
        if try await db.query("SELECT name FROM organizations WHERE name = $1", [.text(name)]).isEmpty {
            throw StoreError(.notFound, "no organization \(name)")
        }
    }

    static func organization(_ row: SQLRow) -> Organization {
        Organization(name: row["name"]?.string ?? "",
                     status: Organization.Status(rawValue: row["status"]?.string ?? "") ?? .revoked,
                     certificatePEM: row["certificate_pem"]?.string ?? "",
                     certificateSHA256: row["certificate_sha256"]?.string ?? "",
                     publicKeyDER: row["public_key_der"]?.string ?? "",
                     keySHA256: row["key_sha256"]?.string ?? "",
                     restricted: (row["restricted"]?.int64 ?? 0) != 0,
                     createdAt: row["created_at"]?.int64 ?? 0,
                     updatedAt: row["updated_at"]?.int64 ?? 0)
    }

    static func enrollment(_ row: SQLRow) -> Enrollment {
        Enrollment(id: row["id"]?.string ?? "",
                   organization: row["organization"]?.string ?? "",
                   domains: (row["domains"]?.string ?? "").split(separator: ",").map(String.init),
                   csrPEM: row["csr_pem"]?.string ?? "",
                   keySHA256: row["key_sha256"]?.string ?? "",
                   status: Enrollment.Status(rawValue: row["status"]?.string ?? "") ?? .rejected,
                   certificatePEM: row["certificate_pem"]?.string,
                   reason: row["reason"]?.string,
                   createdAt: row["created_at"]?.int64 ?? 0,
                   decidedAt: row["decided_at"]?.int64,
                   challengeToken: row["challenge_token"]?.string,
                   validatedDomains: (row["validated_domains"]?.string ?? "").split(separator: ",").map(String.init),
                   source: row["source"]?.string)
    }
}


extension SQLBrokerStore {
    /// `location` fit for a message or a log line: a password in the user
    /// part of a URL (`postgres://user:secret@host/db`) or in a
    /// `password=` parameter is written `***`.
    public static func redacted(location: String) -> String {
        var text = location
        if let scheme = text.range(of: "://") {
            let authorityEnd = text[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
            if let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
               let colon = text[scheme.upperBound..<at].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: "password=", options: .caseInsensitive) {
            result += rest[..<range.upperBound] + "***"
            rest = rest[range.upperBound...]
            rest = rest[(rest.firstIndex(where: { $0 == "&" || $0 == " " }) ?? rest.endIndex)...]
        }
        return result + rest
    }
}
