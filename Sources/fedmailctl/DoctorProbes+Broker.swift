import BrokerClient
import FedMailCore
import FederationProtocol
import Foundation
import X509

/// The broker checks: mutual TLS and the organization, the CRL, the `require` partners.
extension DoctorProbes {
    /// A domain no organization holds: asking the broker for it needs an
    /// authenticated, active organization but issues no token.
    static let probeDomain = "fedmail-doctor.invalid"

    func checkBroker(_ loaded: Loaded) async -> [DoctorFinding] {
        let federation = loaded.configuration.federation
        let partners = loaded.allowlist?.entries.filter { $0.policy == .require } ?? []
        guard let url = federation.brokerURL, let ca = federation.brokerCAPath else {
            return [.skip("broker", "no BrokerURL/BrokerCA: no broker configured")] + partners.map { entry in
                entry.certificatePath == nil
                    ? .fail("partner", "allowlist line \(entry.line) requires \(entry.pattern) through a broker, but none is configured",
                            fix: "set BrokerURL and BrokerCA, or pin the partner with cert=", subject: entry.pattern.description)
                    : staticPartner(entry)
            }
        }
        guard let keyPath = federation.orgKeyPath, let certificatePath = federation.orgCertificatePath, loaded.identityUsable else {
            let reason = "not checked: the broker is reached with OrgKey/OrgCertificate, which cannot be used (see above)"
            return [.skip("certificate.revocation", reason), .skip("broker", reason)]
                + partners.map { $0.certificatePath == nil ? .skip("partner", reason, subject: $0.pattern.description) : staticPartner($0) }
        }
        let clients = Clients(ca: ca, certificate: certificatePath, key: keyPath, timeout: timeout)
        var findings: [DoctorFinding] = []

        // CRL first: it needs no client certificate, so it also tells "broker down" from "refused".
        let serial = (try? OrgFiles.certificate(at: certificatePath)).map { RevocationList.normalizedSerial($0.serialNumber.bytes) } ?? ""
        var list: RevocationList?
        var unavailable: String?
        do {
            list = try await clients.client(url).revocationList().list
        } catch {
            unavailable = Self.failureText(error)
        }
        findings.append(CertificateChecks.revocation(path: certificatePath, serial: serial, list: list, unavailable: unavailable,
                                                     now: Int64(Date().timeIntervalSince1970), maxAge: Int64(federation.crlMaxAge)))

        var brokerFailure: ServiceChecks.BrokerFailure?
        do {
            _ = try await clients.client(url).lookup(domains: [Self.probeDomain])
        } catch {
            brokerFailure = Self.failure(error)
        }
        let organization = (try? OrgFiles.certificate(at: certificatePath))?.subject.commonNameValue
        findings.append(ServiceChecks.broker(url: url, failure: brokerFailure, organization: organization))

        // The require partners, one batch per broker and mode.
        var batches: [String: [FederationAllowlistEntry]] = [:]
        var order: [String] = []
        for entry in partners {
            if entry.certificatePath != nil {
                findings.append(staticPartner(entry))
                continue
            }
            guard case .exact(let domain) = entry.pattern else {
                findings.append(.skip("partner", "a wildcard (line \(entry.line)): each domain under it is looked up when mail for it is sent",
                                      subject: entry.pattern.description))
                continue
            }
            guard let partnerURL = federation.brokerURL(named: entry.broker) else {
                findings.append(.fail("partner", "allowlist line \(entry.line) names broker=\(entry.broker ?? "") that the configuration does not define",
                                      fix: "add `Broker \(entry.broker ?? "NAME") https://HOST:PORT` to \(configPath), or correct broker=",
                                      subject: domain.value))
                continue
            }
            if partnerURL == url, brokerFailure != nil {
                findings.append(.skip("partner", "not checked: the broker does not serve us (see broker)", subject: domain.value))
                continue
            }
            let key = partnerURL + " " + entry.mode.rawValue
            if batches[key] == nil { order.append(key) }
            batches[key, default: []].append(entry)
        }
        for key in order {
            let entries = batches[key] ?? []
            guard let first = entries.first, let partnerURL = federation.brokerURL(named: first.broker) else { continue }
            let domains = entries.map { $0.pattern.description }
            var answers: [String: ValidatedLookup] = [:]
            var failure: ServiceChecks.BrokerFailure?
            do {
                for chunk in stride(from: 0, to: domains.count, by: 100) {
                    let part = Array(domains[chunk..<min(chunk + 100, domains.count)])
                    answers.merge(try await clients.client(partnerURL).lookup(domains: part, mode: first.mode)) { $1 }
                }
            } catch {
                failure = Self.failure(error)
            }
            for entry in entries {
                let domain = entry.pattern.description
                let answer: ServiceChecks.PartnerAnswer
                if let failure {
                    answer = .failed(failure)
                } else if let result = answers[domain.lowercased()] {
                    switch result.status {
                    case .ok: answer = .token(organization: result.claims?.rorg ?? "?", expires: result.expires)
                    case .notFederated: answer = .notFederated
                    case .denied: answer = .denied(result.reason ?? "denied")
                    }
                } else {
                    answer = .failed(.badAnswer("the broker gave no answer for \(domain)"))
                }
                findings.append(ServiceChecks.partner(domain: domain, line: entry.line, answer: answer))
            }
        }
        await clients.shutdown()
        return findings
    }

    /// A `require` partner pinned with cert=: its certificate must be valid now.
    func staticPartner(_ entry: FederationAllowlistEntry) -> DoctorFinding {
        let domain = entry.pattern.description
        let path = entry.certificatePath ?? ""
        guard let certificate = try? OrgFiles.certificate(at: path) else {
            return .fail("partner", "cert=\(path) (line \(entry.line)) is not a readable PEM certificate",
                         fix: "install the partner's certificate there", subject: domain)
        }
        let validity = CertificateChecks.validity(path: path, notBefore: Int64(certificate.notValidBefore.timeIntervalSince1970),
                                                  notAfter: Int64(certificate.notValidAfter.timeIntervalSince1970),
                                                  now: Int64(Date().timeIntervalSince1970), warningDays: warnDays)
        var finding = validity
        finding.check = "partner"
        finding.subject = domain
        if validity.status != .ok {
            finding.fix = "ask the partner for its new certificate and install it as \(path), then reload the milter"
        } else {
            finding.message = "pinned (cert=, no broker): " + validity.message
        }
        return finding
    }

    static func failure(_ error: any Error) -> ServiceChecks.BrokerFailure {
        guard let error = error as? BrokerClientError else { return .unavailable("\(error)") }
        if error.code == .unavailable { return .unavailable(error.message) }
        if error.code == .refused { return .refused(error.message) }
        if error.code == .badLocalFile { return .localFile(error.message) }
        return .badAnswer(error.message)
    }

    static func failureText(_ error: any Error) -> String {
        (error as? BrokerClientError)?.message ?? "\(error)"
    }

    /// One broker client per broker URL, made on first use and shut down at the end.
    actor Clients {
        let ca: String
        let certificate: String
        let key: String
        let timeout: Duration
        var made: [String: BrokerClient] = [:]

        init(ca: String, certificate: String, key: String, timeout: Duration) {
            self.ca = ca
            self.certificate = certificate
            self.key = key
            self.timeout = timeout
        }

        func client(_ url: String) throws -> BrokerClient {
            if let client = made[url] { return client }
            var configuration = BrokerClientConfiguration(brokerURL: url, caPath: ca, certificatePath: certificate, keyPath: key)
            configuration.connectTimeout = min(timeout, .seconds(5))
            configuration.requestTimeout = timeout
            let client = try BrokerClient(configuration: configuration)
            made[url] = client
            return client
        }

        func shutdown() async {
            for client in made.values { try? await client.shutdown() }
            made = [:]
        }
    }
}
