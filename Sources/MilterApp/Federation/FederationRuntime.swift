import FedMailCore
import FedMailCrypto
import Foundation
import Synchronization

/// Why the federation state could not be loaded (bad allowlist, unreadable
/// key, certificate that is not the key's, ...). A reload that fails keeps
/// the state in force.
public struct FederationLoadError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The error in a file with line numbers (the allowlist), when that is the cause.
    public var configurationError: ConfigurationError?
    public init(_ message: String, configurationError: ConfigurationError? = nil) {
        self.message = message
        self.configurationError = configurationError
    }
    public var description: String { message }
}

/// Everything the federation handler needs, loaded from the files the
/// configuration names: the allowlist, our organization key and
/// certificate, the pinned broker CA and the broker clients. Built at start
/// and again on SIGUSR1; each connection uses the state in force when it
/// started.
public final class FederationRuntime: Sendable {
    public let configuration: MilterConfiguration
    public var settings: MilterFederationSettings { configuration.federation }
    public let allowlist: FederationAllowlist
    /// Our organization key and certificate (sealing and opening); nil when not configured.
    public let identity: OrganizationIdentity?
    /// The key a rekey replaced (`PreviousOrgKey`), for opening only.
    public let previousIdentity: OrganizationIdentity?
    /// Our certificate's domains: the From domains we may sign for (read
    /// from the certificate once, at load).
    public let signingDomains: [DomainName]
    /// The allowlist's pins (`cert=`) with the loaded certificates'
    /// fingerprints (computed once, at load).
    public let certificatePins: CertificatePins
    /// The pinned broker CA (for opening).
    public let brokerCA: [OpenSSLCertificate]
    /// The broker clients and token verifier; nil when no BrokerCA is
    /// configured (and none was given to ``init(configuration:hostname:brokers:)``).
    public let brokers: (any FederationBrokerLookup)?
    /// The static partner certificates the allowlist names (`cert=`), by path.
    public let partnerCertificates: [String: OpenSSLCertificate]
    /// Signer certificates parsed once for this configuration load (seeded
    /// with the static partner certificates): opening parses a signer's
    /// certificate once, not per message, and verifies it per message.
    public let signerCertificates: ParsedCertificateCache
    /// Our authserv-id.
    public let authservID: String
    /// Our host name (sealedBy, EHLO).
    public let hostname: String
    /// The virus scanner (`ClamdSocket`); nil when none is configured.
    let scanner: MessageScanner?

    /// Loads the state.
    ///
    /// - Parameter connect: create broker clients (false for `-n`).
    public convenience init(configuration: MilterConfiguration, hostname: String, connect: Bool) throws(FederationLoadError) {
        try self.init(configuration: configuration, hostname: hostname, connect: connect, brokerOverride: nil)
    }

    /// Loads the state with `brokers` answering lookups instead of HTTPS
    /// clients for the configured `BrokerURL`s (tests: a fake or an
    /// in-process broker). Everything else — allowlist, keys, `BrokerCA` —
    /// is loaded from the configuration as always.
    public convenience init(configuration: MilterConfiguration, hostname: String,
                            brokers: any FederationBrokerLookup) throws(FederationLoadError) {
        try self.init(configuration: configuration, hostname: hostname, connect: false, brokerOverride: brokers)
    }

    private init(configuration: MilterConfiguration, hostname: String, connect: Bool,
                 brokerOverride: (any FederationBrokerLookup)?) throws(FederationLoadError) {
        self.configuration = configuration
        self.hostname = hostname
        let settings = configuration.federation
        authservID = settings.authservID ?? hostname
        scanner = configuration.scanning.clamdSocket.map {
            MessageScanner(address: $0, timeout: configuration.scanning.clamdTimeout)
        }
        if let path = settings.allowlistPath {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw FederationLoadError("FederationAllowlist \(path): cannot read: \(error.localizedDescription)")
            }
            do { allowlist = try FederationAllowlist(parsing: text, path: path) } catch {
                throw FederationLoadError("\(error)", configurationError: error)
            }
        } else {
            allowlist = .empty
        }
        partnerCertificates = try Self.loadPartnerCertificates(allowlist, allowlistPath: settings.allowlistPath ?? "-")
        signerCertificates = ParsedCertificateCache(seeding: Array(partnerCertificates.values))
        switch (settings.orgKeyPath, settings.orgCertificatePath) {
        case (let key?, let cert?):
            do { identity = try OrganizationIdentity.load(keyPath: key, certificatePath: cert) } catch {
                throw FederationLoadError("OrgKey/OrgCertificate: \(error)")
            }
        case (nil, nil):
            identity = nil
        default:
            throw FederationLoadError("'OrgKey' and 'OrgCertificate' must be set together")
        }
        switch (settings.previousOrgKeyPath, settings.previousOrgCertificatePath) {
        case (let key?, let cert?):
            do { previousIdentity = try OrganizationIdentity.load(keyPath: key, certificatePath: cert) } catch {
                throw FederationLoadError("PreviousOrgKey/PreviousOrgCertificate: \(error)")
            }
        case (nil, nil):
            previousIdentity = nil
        default:
            throw FederationLoadError("'PreviousOrgKey' and 'PreviousOrgCertificate' must be set together")
        }
        if let caPath = settings.brokerCAPath {
            do { brokerCA = try OpenSSLCertificate.load(path: caPath) } catch {
                throw FederationLoadError("BrokerCA: \(error)")
            }
            if let brokerOverride {
                brokers = brokerOverride
            } else {
                do { brokers = try FederationBrokers(settings: settings, connect: connect) } catch {
                    throw FederationLoadError("broker client: \(error)")
                }
            }
        } else {
            brokerCA = []
            brokers = brokerOverride
        }
        signingDomains = identity?.certificate.dnsNames.compactMap { DomainName($0) } ?? []
        certificatePins = CertificatePins(allowlist: allowlist,
                                          fingerprintsByPath: partnerCertificates.mapValues { Hex.encode($0.sha256Fingerprint) })
        let federated = allowlist.entries.filter { $0.policy != .never }
        if !federated.isEmpty, settings.mode.seals {
            guard identity != nil else {
                throw FederationLoadError("the FederationAllowlist federates domains: OrgKey and OrgCertificate are required")
            }
            if let entry = federated.first(where: { $0.certificatePath == nil }), brokers == nil {
                throw FederationLoadError("the FederationAllowlist federates \(entry.pattern) through a broker (line \(entry.line)): BrokerCA is required")
            }
        }
    }

    /// Reads each `cert=` file once: one PEM certificate with an RSA ≥ 3072
    /// or P-256 key and a subjectKeyIdentifier. An unreadable or unusable
    /// file is an error naming the allowlist line. Validity dates are
    /// checked when the certificate is used, so one partner's expired
    /// certificate never stops the daemon.
    static func loadPartnerCertificates(_ allowlist: FederationAllowlist, allowlistPath: String) throws(FederationLoadError) -> [String: OpenSSLCertificate] {
        var loaded: [String: OpenSSLCertificate] = [:]
        for entry in allowlist.entries {
            guard let path = entry.certificatePath, loaded[path] == nil else { continue }
            do {
                let certificate = try OpenSSLCertificate.loadOne(path: path)
                try certificate.checkUsableForFedMail(source: path)
                loaded[path] = certificate
            } catch {
                let problem = ConfigurationError(code: .badValue, file: allowlistPath, line: entry.line,
                                                 message: "cert=\(path): \(error.message)")
                throw FederationLoadError("\(problem)", configurationError: problem)
            }
        }
        return loaded
    }

    /// The static partner certificate (`cert=`) of the allowlist entry for `domain`.
    public func partnerCertificate(for domain: DomainName) -> OpenSSLCertificate? {
        allowlist.entry(for: domain)?.certificatePath.flatMap { partnerCertificates[$0] }
    }

    /// Whether `keyID` (hex, a recipientInfo's key identifier) names the
    /// key a rekey replaced (``previousIdentity``) rather than the current one.
    public func isPreviousKey(_ keyID: String) -> Bool {
        guard let previousIdentity else { return false }
        let certificate = previousIdentity.certificate
        return [certificate.subjectKeyIdentifier, certificate.publicKeyIdentifier].compactMap { $0 }
            .contains { Hex.encode($0) == keyID.lowercased() }
    }

    /// The keys we open with at `now`: the current one, and the one a rekey
    /// replaced while ``PreviousKeyGrace`` keeps it open (`PreviousOrgKeyGrace`
    /// after the current certificate's notBefore).
    public func openingIdentities(at now: Date = Date()) -> [OrganizationIdentity] {
        guard let identity else { return [previousIdentity].compactMap { $0 } }
        guard let previousIdentity else { return [identity] }
        guard let notBefore = identity.certificate.notBefore,
              PreviousKeyGrace.isOpen(currentNotBefore: notBefore, grace: configuration.federation.previousOrgKeyGrace,
                                      now: Int64(now.timeIntervalSince1970)) else { return [identity] }
        return [identity, previousIdentity]
    }

    /// The sealer for our organization.
    func sealer() -> Sealer? {
        identity.map { Sealer(signer: $0) }
    }
}

/// The federation state in force; replaced atomically on reload.
public final class FederationRuntimeStore: Sendable {
    private let state: Mutex<FederationRuntime>
    /// Broker clients of replaced states: connections in flight may still use
    /// them, and an HTTP client must be shut down, never just released; they
    /// are shut down at exit.
    private let retired = Mutex<[any FederationBrokerLookup]>([])

    public init(_ runtime: FederationRuntime) { state = Mutex(runtime) }
    public var current: FederationRuntime { state.withLock { $0 } }

    public func replace(with runtime: FederationRuntime) {
        let old = state.withLock { current -> FederationRuntime in
            let old = current
            current = runtime
            return old
        }
        if let brokers = old.brokers { retired.withLock { $0.append(brokers) } }
    }

    /// Shuts every broker client down (at exit).
    public func shutdown() {
        current.brokers?.shutdown()
        for brokers in retired.withLock({ $0 }) { brokers.shutdown() }
    }
}
