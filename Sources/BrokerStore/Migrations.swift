/// The schema, as numbered migrations. A migration once released is never
/// edited; changes are new migrations. Each runs in its own transaction and
/// is recorded in `schema_migrations`.
enum Migrations {
    struct Migration: Sendable {
        let version: Int64
        let statements: [String]
    }

    static func all(for dialect: SQLDialect) -> [Migration] {
        let serial = dialect == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            Migration(version: 1, statements: [
                """
                CREATE TABLE organizations (
                    name TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    certificate_pem TEXT NOT NULL,
                    certificate_sha256 TEXT NOT NULL,
                    public_key_der TEXT NOT NULL,
                    key_sha256 TEXT NOT NULL,
                    restricted BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE domains (
                    domain TEXT PRIMARY KEY,
                    organization TEXT NOT NULL REFERENCES organizations(name))
                """,
                "CREATE INDEX domains_organization ON domains(organization)",
                """
                CREATE TABLE enrollments (
                    id TEXT PRIMARY KEY,
                    organization TEXT NOT NULL,
                    domains TEXT NOT NULL,
                    csr_pem TEXT NOT NULL,
                    key_sha256 TEXT NOT NULL,
                    status TEXT NOT NULL,
                    certificate_pem TEXT,
                    reason TEXT,
                    created_at BIGINT NOT NULL,
                    decided_at BIGINT)
                """,
                """
                CREATE TABLE policy (
                    recipient TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    PRIMARY KEY (recipient, sender))
                """,
                """
                CREATE TABLE revoked_certificates (
                    certificate_sha256 TEXT PRIMARY KEY,
                    organization TEXT NOT NULL,
                    revoked_at BIGINT NOT NULL,
                    reason TEXT NOT NULL)
                """,
                """
                CREATE TABLE audit (
                    id \(serial),
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    organization TEXT,
                    detail TEXT NOT NULL)
                """,
            ]),
            Migration(version: 2, statements: dialect == .postgres ? [
                """
                CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit table is append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
                FOR EACH ROW EXECUTE FUNCTION audit_append_only()
                """,
            ] : [
                """
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END
                """,
                """
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END
                """,
            ]),
            // 10: the CRL (revocation). Revoked certificates get their serial
            // (what the CRL lists), key and notAfter; crl_state holds the
            // persisted cRLNumber and a revision bumped on every change.
            // Rows revoked before this migration have no serial and are not
            // on the CRL (their certificates are still refused by the broker).
            Migration(version: 10, statements: [
                "ALTER TABLE revoked_certificates ADD COLUMN serial TEXT",
                "ALTER TABLE revoked_certificates ADD COLUMN key_sha256 TEXT",
                "ALTER TABLE revoked_certificates ADD COLUMN not_after BIGINT",
                "CREATE INDEX revoked_certificates_key ON revoked_certificates(key_sha256)",
                "CREATE TABLE crl_state (id BIGINT PRIMARY KEY, number BIGINT NOT NULL, revision BIGINT NOT NULL)",
                "INSERT INTO crl_state (id, number, revision) VALUES (1, 0, 0)",
            ]),
            // 20: where each audited request came from and the TLS identity it
            // presented. (Versions 10 and 30 belong to other work.)
            Migration(version: 20, statements: [
                "ALTER TABLE audit ADD COLUMN source TEXT",
                "ALTER TABLE audit ADD COLUMN identity TEXT",
            ]),
            // Domain control validation and the pending-enrollment quota.
            Migration(version: 30, statements: [
                "ALTER TABLE enrollments ADD COLUMN challenge_token TEXT",
                "ALTER TABLE enrollments ADD COLUMN validated_domains TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE enrollments ADD COLUMN source TEXT",
                "CREATE INDEX enrollments_status_source ON enrollments(status, source)",
            ]),
        ]
    }
}
