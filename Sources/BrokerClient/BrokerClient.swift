import FedMailCore
import FederationProtocol
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import SystemIO
import X509

/// The client side of the broker for the milter and for operators.
///
/// Requests go over mutual TLS trusting only the pinned broker CA and presenting
/// the organization certificate; every answer is validated (token signature and
/// issuer against the pinned CA, `aud`, `purpose`, `exp`; key container chain,
/// validity, SAN and key) before it is returned or cached. Positive answers are
/// cached in memory and on disk until ``BrokerClientConfiguration/renewBefore``
/// before they expire, negative answers for ``BrokerClientConfiguration/negativeCacheLifetime``.
///
/// ```swift
/// let client = try BrokerClient(configuration: .init(brokerURL: "https://broker:8443", caPath: "ca.crt",
///                                                    certificatePath: "org.crt", keyPath: "org.key",
///                                                    cacheDirectory: "/var/cache/fedmail"))
/// let answers = try await client.lookup(domains: ["partner.example"])
/// try await client.shutdown()
/// ```
public actor BrokerClient {
    public let configuration: BrokerClientConfiguration
    public let brokerCA: Certificate
    /// Our organization certificate, when configured (needed for tokens).
    public let organizationCertificate: Certificate?
    let organizationCertificateSHA256: String?
    let http: HTTPClient
    let cache: LookupCache
    let tokenVerifier: TokenVerifier
    let containerValidator: KeyContainerValidator
    private var isShutDown = false

    public init(configuration: BrokerClientConfiguration) throws {
        self.configuration = configuration
        let caPEM = try LocalFile.read(configuration.caPath)
        do {
            brokerCA = try Certificate(pemEncoded: caPEM)
        } catch {
            throw BrokerClientError(.badLocalFile, "\(configuration.caPath) is not a PEM certificate")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        } catch {
            throw BrokerClientError(.badLocalFile, "\(configuration.caPath): \(error)")
        }
        if let certificatePath = configuration.certificatePath, let keyPath = configuration.keyPath {
            let certificatePEM = try LocalFile.read(certificatePath)
            let keyPEM: [UInt8]
            do { keyPEM = try SecretFile.read(keyPath) } catch { throw BrokerClientError(.badLocalFile, error.message) }
            do {
                let certificate = try Certificate(pemEncoded: certificatePEM)
                organizationCertificate = certificate
                organizationCertificateSHA256 = try Fingerprint.certificate(certificate)
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: keyPEM, format: .pem))
            } catch {
                throw BrokerClientError(.badLocalFile, "cannot use \(certificatePath) / \(keyPath): \(error)")
            }
        } else {
            organizationCertificate = nil
            organizationCertificateSHA256 = nil
        }
        let timeout = HTTPClient.Configuration.Timeout(connect: .init(configuration.connectTimeout),
                                                       read: .init(configuration.requestTimeout))
        // Everything that can fail comes before the HTTP client, which must be shut down once created.
        cache = try LookupCache(directory: configuration.cacheDirectory)
        var httpConfiguration = HTTPClient.Configuration(tlsConfiguration: tls, timeout: timeout)
        // A pooled connection is dropped by us before the broker's
        // IdleTimeout (30 s by default) closes it, so a request never goes
        // out on a connection the broker is closing.
        httpConfiguration.connectionPool.idleTimeout = .seconds(20)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        tokenVerifier = TokenVerifier(brokerCA: brokerCA)
        containerValidator = KeyContainerValidator(brokerCA: brokerCA)
    }

    /// Closes connections. Call once when done.
    public func shutdown() async throws {
        guard !isShutDown else { return }
        isShutDown = true
        try await http.shutdown()
    }

    // MARK: tokens

    /// Validated answers for `domains` (one batched request for those not cached), keyed by
    /// lower-case domain. Throws ``BrokerClientError`` when the broker cannot be reached or an
    /// answer fails validation; callers treat that as "broker unavailable".
    public func lookup(domains: [String], mode: FederationMode = .direct, useNetwork: Bool = true,
                       now: Date = Date()) async throws -> [String: ValidatedLookup] {
        let time = Int64(now.timeIntervalSince1970)
        var results: [String: ValidatedLookup] = [:]
        var missing: [String] = []
        for domain in Set(domains.map { $0.lowercased() }).sorted() {
            let key = LookupCache.key(domain, mode)
            if let entry = await cache.memoryEntry(key), isFresh(entry, at: time) {
                results[domain] = entry
            } else if let entry = await cache.diskEntry(key), entry.domain.lowercased() == domain, isFresh(entry, at: time),
                      let revalidated = try? await revalidate(entry, now: now), revalidated.answers(domain: domain, mode: mode) {
                await cache.remember(key, revalidated, persist: false)
                results[domain] = revalidated
            } else {
                missing.append(domain)
            }
        }
        LookupCacheStatistics.process.record(hits: results.count, misses: useNetwork ? missing.count : 0)
        guard !missing.isEmpty else { return results }
        guard useNetwork else {
            throw BrokerClientError(.unavailable, "no valid cached answer for \(missing.joined(separator: ", "))")
        }
        let response: TokenResponse = try await post("/v1/tokens", TokenRequest(domains: missing, mode: mode))
        for domain in missing {
            guard let answer = response.results.first(where: { $0.domain.lowercased() == domain }) else {
                throw BrokerClientError(.badAnswer, "the broker gave no answer for \(domain)")
            }
            let validated = try await validate(answer, domain: domain, mode: mode, now: now)
            await cache.remember(LookupCache.key(domain, mode), validated, persist: true)
            results[domain] = validated
        }
        return results
    }

    /// Whether a cached entry may still be used at `time`.
    func isFresh(_ entry: ValidatedLookup, at time: Int64) -> Bool {
        if entry.status == .ok {
            return time < entry.expires - Int64(configuration.renewBefore.components.seconds)
        }
        return time < entry.expires
    }

    /// Validates one answer from the broker.
    func validate(_ answer: DomainTokenResult, domain: String, mode: FederationMode, now: Date) async throws -> ValidatedLookup {
        let time = Int64(now.timeIntervalSince1970)
        switch answer.status {
        case .notFederated, .denied:
            return ValidatedLookup(domain: domain, status: answer.status,
                                   expires: time + Int64(configuration.negativeCacheLifetime.components.seconds), reason: answer.reason)
        case .ok:
            guard let token = answer.token, let container = answer.keyContainer else {
                throw BrokerClientError(.badAnswer, "answer for \(domain) lacks the token or the key container")
            }
            // The broker's `expires` (no later than the certificates the answer names) caps the
            // entry too, as do the token's exp and the key container's notAfter.
            let entry = ValidatedLookup(domain: domain, status: .ok, token: token, keyContainer: container,
                                        expires: answer.expires ?? 0, popKey: answer.popKey)
            let validated = try await revalidate(entry, now: now)
            if mode == .pop {
                guard validated.popKey != nil, validated.claims?.pop != nil else {
                    throw BrokerClientError(.badAnswer, "pop answer for \(domain) lacks the PoP key")
                }
            }
            return validated
        }
    }

    /// Checks a positive entry's token and key container; returns it with the claims and expiry filled in.
    func revalidate(_ entry: ValidatedLookup, now: Date) async throws -> ValidatedLookup {
        guard entry.status == .ok else { return entry }
        guard let token = entry.token, let container = entry.keyContainer else {
            throw BrokerClientError(.badAnswer, "incomplete answer for \(entry.domain)")
        }
        let claims = try await BrokerClientError.validating { try await tokenVerifier.verify(token, audience: entry.domain, now: now) }
        if let ours = organizationCertificateSHA256, claims.scf != ours {
            throw BrokerClientError(.badAnswer, "token for \(entry.domain) was issued for another sender certificate")
        }
        let certificate = try await BrokerClientError.validating {
            try await containerValidator.validate(container, domain: entry.domain, keyFingerprint: claims.rkf, now: now)
        }
        var result = entry
        result.claims = claims
        result.expires = min(entry.expires > 0 ? entry.expires : .max, claims.exp,
                             Int64(certificate.notValidAfter.timeIntervalSince1970))
        return result
    }

    // MARK: key containers for addresses

    /// A validated key container for one address (rfc822Name).
    public func keyContainer(forAddress address: String, now: Date = Date()) async throws -> KeyContainerResponse {
        let escaped = address.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? address
        let response: KeyContainerResponse = try await get("/v1/certificates/\(escaped)")
        _ = try await BrokerClientError.validating {
            try await containerValidator.validate(response.keyContainer, address: address.lowercased(), now: now)
        }
        return response
    }

    // MARK: enrollment

    /// Submits an enrollment (no client certificate needed).
    public func enroll(_ request: EnrollmentRequest) async throws -> EnrollmentResponse {
        try await post("/v1/enrollments", request)
    }

    /// An enrollment's state; once approved, validates the certificate against the pinned CA.
    public func enrollment(id: String) async throws -> EnrollmentResponse {
        let response: EnrollmentResponse = try await get("/v1/enrollments/\(id)")
        if let pem = response.certificate {
            let certificate: Certificate
            do {
                certificate = try Certificate(pemEncoded: pem)
            } catch {
                throw BrokerClientError(.badAnswer, "the issued certificate is not PEM")
            }
            var verifier = Verifier(rootCertificates: CertificateStore([brokerCA])) { RFC5280Policy(validationTime: Date()) }
            guard case .validCertificate = await verifier.validate(leaf: certificate, intermediates: CertificateStore()) else {
                throw BrokerClientError(.badAnswer, "the issued certificate does not chain to the pinned broker CA")
            }
        }
        return response
    }

    // MARK: renewal and rekey

    /// Renews the organization certificate (same key) over mutual TLS with the configured one;
    /// returns the new certificate after checking it chains to the pinned CA, names our
    /// organization and carries our key.
    public func renew(now: Date = Date()) async throws -> (CertificateResponse, Certificate) {
        guard let current = organizationCertificate else {
            throw BrokerClientError(.badLocalFile, "renewal needs the organization certificate and key")
        }
        let response: CertificateResponse = try await post("/v1/renewal", [String: String]())
        let certificate = try await checkIssued(response, organization: current.subject.commonNameValue,
                                                key: try Fingerprint.publicKey(current.publicKey), now: now)
        return (response, certificate)
    }

    /// Rekeys: sends `csr` (for the new key, signed by it) over mutual TLS with the current
    /// certificate; returns the new certificate after checking it carries the CSR's key.
    public func rekey(csr: String, newKeySHA256: String, now: Date = Date()) async throws -> (CertificateResponse, Certificate) {
        guard let current = organizationCertificate else {
            throw BrokerClientError(.badLocalFile, "rekey needs the current organization certificate and key")
        }
        let response: CertificateResponse = try await post("/v1/rekey", RekeyRequest(csr: csr))
        let certificate = try await checkIssued(response, organization: current.subject.commonNameValue, key: newKeySHA256, now: now)
        return (response, certificate)
    }

    func checkIssued(_ response: CertificateResponse, organization: String?, key: String, now: Date) async throws -> Certificate {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: response.certificate)
        } catch {
            throw BrokerClientError(.badAnswer, "the issued certificate is not PEM")
        }
        var verifier = Verifier(rootCertificates: CertificateStore([brokerCA])) { RFC5280Policy(validationTime: now) }
        guard case .validCertificate = await verifier.validate(leaf: certificate, intermediates: CertificateStore()) else {
            throw BrokerClientError(.badAnswer, "the issued certificate does not chain to the pinned broker CA")
        }
        guard certificate.subject.commonNameValue == organization else {
            throw BrokerClientError(.badAnswer, "the issued certificate names \(certificate.subject.commonNameValue ?? "nobody"), not \(organization ?? "us")")
        }
        guard (try? Fingerprint.publicKey(certificate.publicKey)) == key else {
            throw BrokerClientError(.badAnswer, "the issued certificate is not for our key")
        }
        return certificate
    }

    // MARK: HTTP

    func get<Response: Decodable>(_ path: String) async throws -> Response {
        var request = HTTPClientRequest(url: configuration.brokerURL + path)
        request.method = .GET
        return try await send(request)
    }

    func post<Body: Encodable, Response: Decodable>(_ path: String, _ body: Body) async throws -> Response {
        var request = HTTPClientRequest(url: configuration.brokerURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let data = try JSONEncoder().encode(body)
        request.body = .bytes(ByteBuffer(bytes: data))
        return try await send(request)
    }

    func send<Response: Decodable>(_ request: HTTPClientRequest) async throws -> Response {
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
            body = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw BrokerClientError(.unavailable, "broker \(configuration.brokerURL): \(error)")
        }
        let data = Data(body.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            let message = (try? JSONDecoder().decode(ErrorResponse.self, from: data)).map { "\($0.error): \($0.message)" }
                ?? "HTTP \(response.status.code)"
            throw BrokerClientError(.refused, "broker refused: \(message)")
        }
        do {
            return try JSONDecoder().decode(Response.self, from: data)
        } catch {
            throw BrokerClientError(.badAnswer, "malformed answer from the broker: \(error)")
        }
    }
}
