/// The revocation list: revoked certificates with their serials (migration
/// 10), the persisted cRLNumber and a revision that changes with the list.
extension SQLBrokerStore {
    public func recordRevocation(_ revocation: CertificateRevocation, audit: AuditEvent) async throws {
        try await database.transaction(exclusive: true) { db in
            // A certificate already listed (by approve or `org revoke`, or
            // revoked before) keeps its first date; it gets its serial, and
            // its reason unless it had a FedMail one, but key compromise
            // always wins.
            try await db.query("""
                INSERT INTO revoked_certificates (certificate_sha256, organization, revoked_at, reason, serial, key_sha256, not_after)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (certificate_sha256) DO UPDATE SET serial = excluded.serial, key_sha256 = excluded.key_sha256,
                    not_after = excluded.not_after,
                    reason = CASE WHEN revoked_certificates.serial IS NULL OR excluded.reason = $8
                                  THEN excluded.reason ELSE revoked_certificates.reason END
                """, [.text(revocation.certificateSHA256), .text(revocation.organization), .integer(revocation.revokedAt),
                      .text(revocation.reason), .text(revocation.serial), .text(revocation.keySHA256),
                      .integer(revocation.notAfter), .text(CertificateRevocation.keyCompromise)])
            if revocation.reason == CertificateRevocation.keyCompromise {
                // The key is compromised, so is every certificate for it
                // (earlier, superseded ones too: a backdated message
                // signed with one of them must not pass either).
                try await db.query("UPDATE revoked_certificates SET reason = $1 WHERE key_sha256 = $2",
                                   [.text(CertificateRevocation.keyCompromise), .text(revocation.keySHA256)])
            }
            try await db.query("UPDATE crl_state SET revision = revision + 1 WHERE id = 1", [])
            try await Self.insertAudit(db, [audit])
        }
    }

    public func escalateRevocations(organization: String, to reason: String) async throws {
        try await database.transaction(exclusive: true) { db in
            if reason == CertificateRevocation.keyCompromise {
                try await db.query("UPDATE revoked_certificates SET reason = $1 WHERE organization = $2",
                                   [.text(reason), .text(organization)])
            } else {
                try await db.query("UPDATE revoked_certificates SET reason = $1 WHERE organization = $2 AND reason = $3",
                                   [.text(reason), .text(organization), .text(CertificateRevocation.superseded)])
            }
            try await db.query("UPDATE crl_state SET revision = revision + 1 WHERE id = 1", [])
        }
    }

    public func revocations() async throws -> [CertificateRevocation] {
        try await database.query("""
            SELECT * FROM revoked_certificates WHERE serial IS NOT NULL ORDER BY revoked_at, serial
            """, []).map { row in
            CertificateRevocation(certificateSHA256: row["certificate_sha256"]?.string ?? "", serial: row["serial"]?.string ?? "",
                                  organization: row["organization"]?.string ?? "", keySHA256: row["key_sha256"]?.string ?? "",
                                  notAfter: row["not_after"]?.int64 ?? 0, revokedAt: row["revoked_at"]?.int64 ?? 0,
                                  reason: row["reason"]?.string ?? "")
        }
    }

    public func revocationRevision() async throws -> Int64 {
        try await database.query("SELECT revision FROM crl_state WHERE id = 1", []).first?["revision"]?.int64 ?? 0
    }

    public func nextCRLNumber() async throws -> Int64 {
        try await database.transaction(exclusive: true) { db in
            try await db.query("UPDATE crl_state SET number = number + 1 WHERE id = 1", [])
            guard let number = try await db.query("SELECT number FROM crl_state WHERE id = 1", []).first?["number"]?.int64 else {
                throw StoreError(.queryFailed, "crl_state has no row")
            }
            return number
        }
    }
}
