import ArgumentParser
import Broker
import BrokerStore
import FedMailCore
import Foundation

/// Opens the service for an operator command, runs `body`, closes the store.
func withService(_ root: FedmailBroker, _ body: (BrokerService) async throws -> Void) async throws {
    let configuration = try root.loadConfiguration()
    try await reportingErrors {
        let logger = BrokerRuntime.makeLogger(level: .warning)
        let service = try await BrokerRuntime.makeService(configuration: configuration, logger: logger)
        do {
            try await body(service)
        } catch {
            try? await service.store.close()
            throw error
        }
        try await service.store.close()
    }
}

struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org",
        abstract: "Manage organizations and their enrollments.",
        subcommands: [
            List.self,
            Show.self,
            Validate.self,
            Approve.self,
            Reject.self,
            Revoke.self,
            AddDomain.self,
            RemoveDomain.self,
        ])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List organizations (name, status, domains) and enrollments waiting for a decision.",
            discussion: """
            One line per organization (`organization NAME STATUS DOMAINS`), then one per enrollment waiting for a
            decision: `pending ID ORG DOMAINS key=SHA256` for a new organization, and
            `key-replacement ID ORG DOMAINS key=SHA256 current-key=SHA256 current-status=STATUS` for an
            enrollment naming an organization that already exists: someone who lost the organization's key,
            or someone trying to become that organization. Only `org approve --replace-key` accepts those.
            """)
        @ParentCommand var root: FedmailBroker

        func run() async throws {
            try await withService(root) { service in
                for organization in try await service.store.organizations() {
                    let domains = try await service.store.domains(of: organization.name)
                    print("organization \(organization.name) \(organization.status.rawValue) \(domains.joined(separator: ","))")
                }
                for enrollment in try await service.store.enrollments(status: .pending) {
                    let validated = Set(enrollment.domains).isSubset(of: enrollment.validatedDomains)
                    print("\(validated || !service.configuration.dnsValidation ? "pending" : "pending-dns") \(enrollment.id) \(enrollment.organization) \(enrollment.domains.joined(separator: ",")) key=\(enrollment.keySHA256)")
                }
                for enrollment in try await service.store.enrollments(status: .keyReplacement) {
                    let current = try await service.store.organization(named: enrollment.organization)
                    print("key-replacement \(enrollment.id) \(enrollment.organization) \(enrollment.domains.joined(separator: ",")) key=\(enrollment.keySHA256) current-key=\(current?.keySHA256 ?? "-") current-status=\(current?.status.rawValue ?? "-")")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an organization (status, domains, key, policy, certificate) or an enrollment by id.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Organization name or enrollment id.") var name: String

        func run() async throws {
            try await withService(root) { service in
                if let organization = try await service.store.organization(named: name) {
                    print("organization: \(organization.name)")
                    print("status: \(organization.status.rawValue)")
                    print("domains: \(try await service.store.domains(of: organization.name).joined(separator: ", "))")
                    print("key-sha256: \(organization.keySHA256)")
                    print("certificate-sha256: \(organization.certificateSHA256)")
                    print("policy: \(organization.restricted ? "restricted to: " + (try await service.store.allowedSenders(to: organization.name)).joined(separator: ", ") : "open")")
                    print(organization.certificatePEM, terminator: "")
                } else if let enrollment = try await service.store.enrollment(id: name) {
                    print("enrollment: \(enrollment.id)")
                    print("organization: \(enrollment.organization)")
                    print("status: \(enrollment.status.rawValue)")
                    print("domains: \(enrollment.domains.joined(separator: ", "))")
                    print("key-sha256: \(enrollment.keySHA256)")
                    if let source = enrollment.source { print("source: \(source)") }
                    if enrollment.status == .keyReplacement, let current = try await service.store.organization(named: enrollment.organization) {
                        print("replaces-key-sha256: \(current.keySHA256) (organization \(current.status.rawValue); approve only with --replace-key)")
                    }
                    if let reason = enrollment.reason { print("reason: \(reason)") }
                    if enrollment.status == .pending, let challenges = DomainChallenges.challenges(for: enrollment) {
                        for challenge in challenges {
                            print("challenge: \(challenge.zoneFileLine) ; \(challenge.validated ? "validated" : "not validated")")
                        }
                    }
                } else {
                    throw BrokerError(.notFound, "no organization or enrollment '\(name)'")
                }
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look up the DNS challenge records of a pending enrollment and record the domains validated.",
            discussion: """
            For each domain not validated yet, asks the configured resolver (DNSResolver, default the
            first nameserver of /etc/resolv.conf) for the TXT records of _fedmail-challenge.DOMAIN and
            compares them with the value the applicant was given, which binds the enrollment, its key
            and the domain. Prints one line per domain: `validated DOMAIN` or `missing DOMAIN: why`.
            A failed lookup counts as missing. Works for `pending` and `key-replacement` enrollments.
            Exit status: 0 when every domain is validated, 1 otherwise.
            """)
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Enrollment id (see `org list`).") var id: String

        func run() async throws {
            var complete = true
            try await withService(root) { service in
                for result in try await service.validateDomains(enrollmentID: id) {
                    print(result.validated ? "validated \(result.domain)" : "missing \(result.domain): \(result.detail)")
                    complete = complete && result.validated
                }
            }
            if !complete { throw ExitCode(1) }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending enrollment: issue the organization certificate.",
            discussion: """
            With DNSValidation yes (the default), every domain of the enrollment must have its DNS
            challenge validated: approve looks up the records not seen yet (as `org validate` does) and
            refuses, naming each domain and what was found, unless all are there.
            --skip-dns-validation approves without DNS; the audit event says `dns=skipped`.

            A `pending` enrollment (a new organization) is approved as it is. A `key-replacement` enrollment names
            an organization that is already enrolled; approving it would make its submitter that organization,
            so it is refused unless --replace-key is given. Give --replace-key only after verifying out of band
            (with the organization's known contact) that the applicant is that organization, that it has lost
            its key, and that the key-sha256 shown by `org show ID` is the one it generated. The new key then
            replaces the old one, a revoked organization becomes active again, and the old certificate is
            revoked as superseded, or as key-compromise with --old-key-compromised (mail signed with the old
            key is then refused whatever its signing time). Everything is audited (`enrollment.key-replaced`
            with the old and new key and certificate fingerprints). An organization that still has its key
            renews or rekeys with `fedmailctl renew` / `fedmailctl rekey` instead, without an operator.
            """)
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Enrollment id (see `org list`).") var id: String
        @Flag(name: .customLong("skip-dns-validation"),
              help: "Approve even though the domains' DNS challenges were not validated (recorded in the audit log as dns=skipped).")
        var skipDNSValidation = false
        @Flag(help: "Accept a key-replacement enrollment: replace an existing organization's key with the enrollment's.")
        var replaceKey = false
        @Flag(help: "With --replace-key: revoke the old certificate for key compromise instead of as superseded.")
        var oldKeyCompromised = false

        func validate() throws {
            if oldKeyCompromised && !replaceKey { throw ValidationError("--old-key-compromised goes with --replace-key") }
        }

        func run() async throws {
            try await withService(root) { service in
                let organization = try await service.approve(enrollmentID: id, replaceKey: replaceKey, oldKeyCompromised: oldKeyCompromised,
                                                             skipDNSValidation: skipDNSValidation)
                print("approved \(id): organization \(organization.name) certificate \(organization.certificateSHA256) key \(organization.keySHA256)\(skipDNSValidation ? " (DNS validation skipped)" : "")")
            }
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a pending enrollment.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Enrollment id.") var id: String
        @Option(help: "Why (recorded and shown to the applicant).") var reason: String = "rejected by operator"

        func run() async throws {
            try await withService(root) { service in
                try await service.reject(enrollmentID: id, reason: reason)
                print("rejected \(id)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an organization: its certificate is refused and its domains are no longer federated.",
            discussion: """
            A new enrollment under the revoked organization's name is held as a key replacement; only
            `org approve --replace-key ID` re-activates the organization, with the enrollment's key.
            The certificate goes on the broker's CRL (GET /v1/crl) with the reason given:
            gateways refuse every message signed with it, whatever its signingTime (which the
            signer chooses; only a superseded certificate keeps mail signed before its
            revocation). The organization's earlier superseded certificates, of every key it
            had, get the same reason; key-compromise replaces every reason on all of them.
            Revoking again with key-compromise upgrades the reason. superseded is refused here.
            """)
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Organization name.") var name: String
        @Option(help: ArgumentHelp("CRL reason: \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", ")).",
                                   valueName: "REASON"))
        var reason: RevocationReason = .cessationOfOperation

        func run() async throws {
            try await withService(root) { service in
                try await service.revoke(organization: name, reason: reason)
                print("revoked \(name) (\(reason.rawValue))")
            }
        }
    }

    struct AddDomain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-domain",
            abstract: "Add a mail domain to an organization and reissue its certificate (printed) with the new SAN.",
            discussion: """
            The replaced certificate is revoked (superseded); the organization's gateway installs the new one with
            `fedmailctl renew` (renewal accepts the superseded certificate of the current key).
            """)
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Organization name.") var name: String
        @Argument(help: "Domain.") var domain: String

        func run() async throws {
            try await withService(root) { service in
                let organization = try await service.addDomain(domain, to: name)
                print(organization.certificatePEM, terminator: "")
            }
        }
    }

    struct RemoveDomain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-domain",
            abstract: "Remove a mail domain from an organization and reissue its certificate (printed).",
            discussion: "As with add-domain, the organization's gateway installs the new certificate with `fedmailctl renew`.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Organization name.") var name: String
        @Argument(help: "Domain.") var domain: String

        func run() async throws {
            try await withService(root) { service in
                let organization = try await service.removeDomain(domain, from: name)
                print(organization.certificatePEM, terminator: "")
            }
        }
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Federation policy: which organizations may send to an organization.",
        discussion: """
        By default every enrolled organization may send to every other (policy open). `restrict`
        limits senders to those added with `allow`; token requests from others get `denied`.
        """,
        subcommands: [Show.self, Restrict.self, Open.self, Allow.self, Disallow.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an organization's policy.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Recipient organization.") var name: String

        func run() async throws {
            try await withService(root) { service in
                guard let organization = try await service.store.organization(named: name) else {
                    throw BrokerError(.notFound, "no organization \(name)")
                }
                print("\(name): \(organization.restricted ? "restricted" : "open")")
                for sender in try await service.store.allowedSenders(to: name) { print("allow \(sender)") }
            }
        }
    }

    struct Restrict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept mail only from organizations allowed with `policy allow`.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Recipient organization.") var name: String
        func run() async throws {
            try await withService(root) { try await $0.setRestricted(true, organization: name); print("\(name): restricted") }
        }
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept mail from every enrolled organization (the default).")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Recipient organization.") var name: String
        func run() async throws {
            try await withService(root) { try await $0.setRestricted(false, organization: name); print("\(name): open") }
        }
    }

    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow SENDER to send to NAME when NAME is restricted.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Recipient organization.") var name: String
        @Argument(help: "Sender organization.") var sender: String
        func run() async throws {
            try await withService(root) { try await $0.allow(sender: sender, to: name); print("\(name): allow \(sender)") }
        }
    }

    struct Disallow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove SENDER from NAME's allowed senders.")
        @ParentCommand var root: FedmailBroker
        @Argument(help: "Recipient organization.") var name: String
        @Argument(help: "Sender organization.") var sender: String
        func run() async throws {
            try await withService(root) { try await $0.disallow(sender: sender, to: name); print("\(name): disallow \(sender)") }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the most recent audit events (enrollments, approvals, issuances, revocations, policy changes, tokens, refused authentications).",
        discussion: """
        One event per line: `ID TIME ACTOR ACTION ORGANIZATION DETAIL source=ADDRESS identity=IDENTITY`, where
        source is the client's address:port (`local` for operator commands) and identity the client certificate
        the TLS layer verified (`cert=SHA256 cn=NAME`, or `none`). Actions include enrollment.submitted,
        enrollment.approved, enrollment.key-replaced, enrollment.rejected, certificate.renewed,
        certificate.rekeyed, certificate.reissued (each with the old and new certificate fingerprints),
        certificate.address-issued, certificate.revoked, token.issued, auth.refused, organization.revoked,
        domain.added, domain.removed and the policy.* changes.
        """)
    @ParentCommand var root: FedmailBroker
    @Option(help: "How many events.") var limit: Int = 50

    func run() async throws {
        try await withService(root) { service in
            for event in try await service.store.audit(limit: limit) {
                var line = "\(event.id) \(event.at) \(event.actor) \(event.action) \(event.organization ?? "-") \(event.detail)"
                if let source = event.source { line += " source=\(source)" }
                if let identity = event.identity { line += " identity=\(identity)" }
                print(line)
            }
        }
    }
}

extension RevocationReason: ExpressibleByArgument {}
