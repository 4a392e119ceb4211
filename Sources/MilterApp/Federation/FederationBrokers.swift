import BrokerClient
import FedMailCore
import FederationProtocol
import Foundation
import SystemIO

/// What one broker lookup gave for one recipient domain, in the terms the
/// milter needs (no broker types leak out of this file).
public struct DomainLookup: Sendable, Hashable {
    public var domain: DomainName
    /// The planner's view.
    public var federation: DomainFederation
    /// The compact JWS, for the `FedMail-Token` field.
    public var token: String?
    /// The token id (`jti`).
    public var tokenID: String?
    /// The recipient organization id (`rorg`).
    public var recipientOrganization: String?
    /// The validated key container (PEM).
    public var keyContainerPEM: String?
    /// Pop mode: the PoP key envelope encrypted to our organization key.
    public var popKeyEnvelope: String?
    /// The allowlist's static partner certificate (`cert=`, held by the
    /// ``FederationRuntime``) instead of a broker answer: no token, no PEM.
    public var isStaticPartner: Bool = false
    /// Why the lookup failed, in full, for the log only: it may name
    /// internal hosts, addresses and library errors, so it never goes into
    /// an SMTP reply or a header (``DomainFederation/unavailable(reason:)``
    /// holds the short public reason).
    public var failureDetail: String? = nil
}

/// What the federation handler asks of the brokers: the batched token and
/// key container lookup (outbound), token verification against the pinned
/// broker CA and PoP key opening (inbound). ``FederationBrokers`` is the
/// real one (HTTPS clients); tests put a fake or an in-process broker
/// behind it. Every call may block, at most its timeout, on libmilter's threads.
public protocol FederationBrokerLookup: Sendable {
    /// Looks `domains` up with the broker `broker` (`nil`: default) in one
    /// batched request. Never throws: a failure makes the domains `unavailable`.
    func lookup(domains: [DomainName], broker: String?, mode: FederationMode, timeout: Int) -> [DomainName: DomainLookup]
    /// Verifies a token's signature, chain, issuer, purpose and audience at `time`.
    func verify(token: String, audience: String, at time: Date, timeout: Int) throws -> VerifiedTokenClaims
    /// The 256-bit PoP key in `envelope`, decrypted with our organization
    /// key, and with `PreviousOrgKey` too when `includingPrevious` (a token
    /// issued before a rekey was encrypted to the replaced key).
    func openPoPKey(_ envelope: String, includingPrevious: Bool) throws -> [UInt8]
    /// Releases what the lookups hold (HTTP clients), at exit.
    func shutdown()
    /// The broker's CRL (`GET /v1/crl`), verified against the pinned broker
    /// CA, and its DER (for the disk copy).
    func revocationList(timeout: Int) throws -> (list: RevocationList, der: [UInt8])
}

extension FederationBrokerLookup {
    /// Lookups that cannot fetch a CRL (test fakes) have none.
    public func revocationList(timeout: Int) throws -> (list: RevocationList, der: [UInt8]) {
        throw BrokerClientError(.unavailable, "this broker lookup has no CRL")
    }
}

/// The brokers this gateway talks to (the default `BrokerURL` and named
/// `Broker`s) and the offline token verifier pinned to `BrokerCA`, usable
/// from libmilter's threads: every call blocks at most its timeout.
public final class FederationBrokers: FederationBrokerLookup {
    private let clients: [String: BrokerClient]
    private let verifier: TokenVerifier
    /// Our organization key for PoP envelopes, parsed once at load (a PEM
    /// parse per message would be work a stranger can make us do).
    private let orgKey: PoPKeyEnvelope.OpeningKey?
    /// Why there is no `orgKey`, for the error of ``openPoPKey(_:includingPrevious:)``.
    private let orgKeyProblem: String
    /// `PreviousOrgKey`, for PoP keys of tokens issued before a rekey.
    private let previousOrgKey: PoPKeyEnvelope.OpeningKey?

    /// Creates the clients. `connect: false` (configuration check) only reads the CA.
    public init(settings: MilterFederationSettings, connect: Bool) throws {
        guard let caPath = settings.brokerCAPath else {
            throw BrokerClientError(.badLocalFile, "'BrokerCA' is required for federation")
        }
        let caPEM: String
        do { caPEM = try String(contentsOfFile: caPath, encoding: .utf8) } catch {
            throw BrokerClientError(.badLocalFile, "cannot read BrokerCA \(caPath)")
        }
        do { verifier = try TokenVerifier(brokerCAPEM: caPEM) } catch {
            throw BrokerClientError(.badLocalFile, "BrokerCA \(caPath) is not a PEM certificate")
        }
        if let keyPath = settings.orgKeyPath, connect {
            if let pem = try? SecretFile.read(keyPath) {
                do {
                    orgKey = try PoPKeyEnvelope.OpeningKey(pemRepresentation: String(decoding: pem, as: UTF8.self))
                    orgKeyProblem = ""
                } catch {
                    orgKey = nil
                    orgKeyProblem = "OrgKey \(keyPath) cannot open PoP keys: \(error)"
                }
            } else {
                orgKey = nil
                orgKeyProblem = "cannot read OrgKey \(keyPath)"
            }
        } else {
            orgKey = nil
            orgKeyProblem = "no OrgKey to open a PoP key with"
        }
        if let keyPath = settings.previousOrgKeyPath, connect, let pem = try? SecretFile.read(keyPath) {
            previousOrgKey = try? PoPKeyEnvelope.OpeningKey(pemRepresentation: String(decoding: pem, as: UTF8.self))
        } else {
            previousOrgKey = nil
        }
        var clients: [String: BrokerClient] = [:]
        if connect {
            var urls: [(String, String)] = []
            if let url = settings.brokerURL { urls.append(("", url)) }
            for named in settings.namedBrokers { urls.append((named.name.lowercased(), named.url)) }
            for (name, url) in urls {
                var configuration = BrokerClientConfiguration(
                    brokerURL: url, caPath: caPath, certificatePath: settings.orgCertificatePath,
                    keyPath: settings.orgKeyPath, cacheDirectory: settings.tokenCacheDirectory.map { name.isEmpty ? $0 : "\($0)/\(name)" })
                let whole = max(1, settings.brokerTimeout)
                configuration.connectTimeout = .seconds(min(3, whole))
                configuration.requestTimeout = .seconds(whole)
                clients[name] = try BrokerClient(configuration: configuration)
            }
        }
        self.clients = clients
    }

    /// Looks `domains` up with the broker `broker` (`nil`: default) in one
    /// batched request (cache first). Any failure makes every domain
    /// `unavailable` with the reason.
    public func lookup(domains: [DomainName], broker: String?, mode: FederationMode, timeout: Int) -> [DomainName: DomainLookup] {
        var results: [DomainName: DomainLookup] = [:]
        func unavailable(_ reason: String, detail: String? = nil) -> [DomainName: DomainLookup] {
            for domain in domains {
                results[domain] = DomainLookup(domain: domain, federation: .unavailable(reason: reason), failureDetail: detail)
            }
            return results
        }
        guard let client = clients[broker?.lowercased() ?? ""] else {
            return unavailable(broker.map { "no broker named '\($0)' is configured" } ?? "no BrokerURL is configured")
        }
        let answers: [String: ValidatedLookup]
        do {
            answers = try client.lookupBlocking(domains: domains.map(\.value), mode: mode, timeout: .seconds(timeout))
        } catch let error as BrokerClientError {
            // Replies and X-FedMail-Plaintext say only the kind; the log has the rest.
            return unavailable("broker \(error.code)", detail: "broker \(error.code): \(error.message)")
        } catch {
            return unavailable("broker error", detail: "broker: \(error)")
        }
        return Self.domainLookups(domains: domains, answers: answers, mode: mode)
    }

    /// The milter's view of a broker's validated answers: `ok` becomes
    /// sealable (grouped by recipient key, or by token in pop mode) with the
    /// token and key container; a domain without an answer is `unavailable`.
    public static func domainLookups(domains: [DomainName], answers: [String: ValidatedLookup],
                                     mode: FederationMode) -> [DomainName: DomainLookup] {
        var results: [DomainName: DomainLookup] = [:]
        for domain in domains {
            guard let answer = answers[domain.value] else {
                results[domain] = DomainLookup(domain: domain, federation: .unavailable(reason: "the broker gave no answer"))
                continue
            }
            switch answer.status {
            case .notFederated:
                results[domain] = DomainLookup(domain: domain, federation: .notFederated)
            case .denied:
                results[domain] = DomainLookup(domain: domain, federation: .denied)
            case .ok:
                guard let claims = answer.claims, let token = answer.token, let container = answer.keyContainer else {
                    results[domain] = DomainLookup(domain: domain, federation: .unavailable(reason: "incomplete broker answer"))
                    continue
                }
                // Pop-mode recipients are grouped by token (one KEK each); direct by recipient key.
                let groupKey: RecipientKey = mode == .pop ? .proofOfPossession(tokenID: claims.jti) : .organizationKey(sha256: claims.rkf)
                results[domain] = DomainLookup(domain: domain, federation: .sealable(recipientKey: groupKey), token: token,
                                               tokenID: claims.jti, recipientOrganization: claims.rorg,
                                               keyContainerPEM: container, popKeyEnvelope: answer.popKey)
            }
        }
        return results
    }

    /// Verifies a token's signature and chain against the pinned broker CA,
    /// its issuer, purpose and audience, at time `at` (the signing time; the
    /// ``OpeningPolicy`` then holds signingTime against the token's window
    /// and the message age against our own clock).
    public func verify(token: String, audience: String, at time: Date, timeout: Int) throws -> VerifiedTokenClaims {
        try verifier.verifyBlocking(token, audience: audience, at: time, timeout: .seconds(timeout))
    }

    /// The 256-bit PoP key in `envelope`, decrypted with our organization
    /// key, or with `PreviousOrgKey` when `includingPrevious` and the
    /// current key does not open it.
    public func openPoPKey(_ envelope: String, includingPrevious: Bool) throws -> [UInt8] {
        guard let orgKey else { throw BrokerClientError(.badLocalFile, orgKeyProblem) }
        do {
            return try PoPKeyEnvelope.open(envelope, privateKey: orgKey).withUnsafeBytes { Array($0) }
        } catch {
            if includingPrevious, let previousOrgKey,
               let key = try? PoPKeyEnvelope.open(envelope, privateKey: previousOrgKey) {
                return key.withUnsafeBytes { Array($0) }
            }
            if let error = error as? FederationProtocolError { throw BrokerClientError(error) }
            throw error
        }
    }

    /// The `jti` and `pop` claims of a token read WITHOUT verifying it: only
    /// to find the PoP key to open with; the token is verified afterwards.
    public static func unverifiedPoP(of token: String) -> (jti: String, pop: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
              let claims = try? JSONDecoder().decode(FederationClaims.self, from: payload), let pop = claims.pop else { return nil }
        return (claims.jti, pop)
    }

    /// The CRL from the default broker (else the first named one): every
    /// broker of a federation shares the CA, so one CRL covers them all.
    public func revocationList(timeout: Int) throws -> (list: RevocationList, der: [UInt8]) {
        guard let client = clients[""] ?? clients.sorted(by: { $0.key < $1.key }).first?.value else {
            throw BrokerClientError(.unavailable, "no broker is configured to fetch the CRL from")
        }
        return try client.revocationListBlocking(timeout: .seconds(max(1, timeout)))
    }

    /// Closes the HTTP clients (at exit).
    public func shutdown() {
        for client in clients.values {
            _ = try? BlockingTask.run(timeout: .seconds(5), what: "broker client shutdown") { try await client.shutdown() }
        }
    }
}
