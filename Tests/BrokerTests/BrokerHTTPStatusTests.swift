import FederationProtocol
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import X509
@testable import Broker

/// TEST DOUBLE of the TLS layer: passes requests to the broker's real router,
/// with the client certificate a test gives in place of the one a mutual-TLS
/// handshake would have verified (`nil`: a client that sent none).
struct ClientCertificateResponder: HTTPResponder {
    typealias Context = BrokerRequestContext
    let router: RouterResponder<BrokerRequestContext>
    let clientCertificateDER: [UInt8]?

    func respond(to request: Request, context: BrokerRequestContext) async throws -> Response {
        var context = context
        context.testPeerCertificateDER = clientCertificateDER
        return try await router.respond(to: request, context: context)
    }
}

/// The broker's HTTP layer — routes, status codes and error bodies — over a
/// real BrokerService (real CA, real SQLite), through HummingbirdTesting's
/// router framework: no socket, no TLS.
@Suite("broker HTTP status mapping")
struct BrokerHTTPStatusTests {
    /// Runs `test` against the broker's router, as a client presenting `certificate`.
    static func withBroker<Value: Sendable>(_ broker: TestBroker, certificate: Certificate? = nil,
                                            _ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let responder = ClientCertificateResponder(router: BrokerServer(service: broker.service).router().buildResponder(),
                                                   clientCertificateDER: try certificate.map { try Fingerprint.der($0) })
        let app = Application(responder: responder, logger: broker.service.logger)
        return try await app.test(.router) { client in try await test(client) }
    }

    static func error(_ body: ByteBuffer) throws -> ErrorResponse {
        try JSONDecoder().decode(ErrorResponse.self, from: Data(body.readableBytesView))
    }

    static func json(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(value))
    }

    @Test("GET /healthz: 200 ok; GET /v1/ca: 200 with the CA certificate in PEM")
    func publicRoutes() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let caPEM = broker.service.authority.caCertificatePEM
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/v1/ca", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-pem-file")
                #expect(String(buffer: response.body) == caPEM)
            }
        }
    }

    @Test("an unknown route: 404")
    func unknownRoute() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("POST /v1/enrollments with malformed JSON: 400 bad-request with an error body")
    func badJSON() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/v1/enrollments", method: .post, body: ByteBuffer(string: "{\"organization\": ")) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType] == "application/json")
                let error = try Self.error(response.body)
                #expect(error.error == "bad-request")
                #expect(error.message.hasPrefix("malformed JSON body"))
            }
        }
    }

    @Test("an enrollment body over its 64 KiB cap: 413 payload-too-large")
    func oversizedBody() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        try await Self.withBroker(broker) { client in
            let body = ByteBuffer(repeating: UInt8(ascii: " "), count: (64 << 10) + 1)
            try await client.execute(uri: "/v1/enrollments", method: .post, body: body) { response in
                #expect(response.status == .contentTooLarge)
                let answer = try Self.error(response.body)
                #expect(answer == ErrorResponse(error: "payload-too-large", message: "request body larger than 65536 bytes"))
            }
        }
    }

    @Test("POST /v1/enrollments: 202 Accepted and pending; GET of its id: 200; an unknown id: 404 not-found")
    func enrollment() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (_, keyPEM, _) = TestKeys.p256()
        let request = EnrollmentRequest(organization: "gamma", domains: ["gamma.example"],
                                        csr: try CSRBuilder.makeCSR(privateKeyPEM: keyPEM, organization: "gamma"))
        let body = try Self.json(request)
        try await Self.withBroker(broker) { client in
            let id = try await client.execute(uri: "/v1/enrollments", method: .post, body: body) { response in
                #expect(response.status == .accepted)
                let enrollment = try JSONDecoder().decode(EnrollmentResponse.self, from: Data(response.body.readableBytesView))
                #expect(enrollment.status == "pending")
                #expect(enrollment.domains == ["gamma.example"])
                return enrollment.id
            }
            try await client.execute(uri: "/v1/enrollments/\(id)", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/enrollments/no-such-id", method: .get) { response in
                #expect(response.status == .notFound)
                let answer = try Self.error(response.body)
                #expect(answer.error == "not-found")
            }
        }
    }

    @Test("an enrollment with a bad organization name: 400; for a domain another organization holds: 409 conflict")
    func enrollmentRefusals() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("alpha", key: key, keyPEM: keyPEM, domains: ["alpha.example"])
        let (_, otherPEM, _) = TestKeys.p256()
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: otherPEM, organization: "mallory")
        let badName = try Self.json(EnrollmentRequest(organization: "bad name!", domains: ["m.example"], csr: csr))
        let taken = try Self.json(EnrollmentRequest(organization: "mallory", domains: ["alpha.example"], csr: csr))
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/v1/enrollments", method: .post, body: badName) { response in
                #expect(response.status == .badRequest)
                let answer = try Self.error(response.body)
                #expect(answer.error == "bad-request")
            }
            try await client.execute(uri: "/v1/enrollments", method: .post, body: taken) { response in
                #expect(response.status == .conflict)
                let answer = try Self.error(response.body)
                #expect(answer == ErrorResponse(error: "conflict", message: "domain alpha.example belongs to another organization"))
            }
        }
    }

    @Test("POST /v1/tokens and GET /v1/certificates without a client certificate: 401 client-certificate-required")
    func unauthenticated() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let body = try Self.json(TokenRequest(domains: ["beta.example"]))
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: body) { response in
                #expect(response.status == .unauthorized)
                let answer = try Self.error(response.body)
                #expect(answer == ErrorResponse(
                    error: "client-certificate-required", message: "this call needs the organization certificate (mutual TLS)"))
            }
            try await client.execute(uri: "/v1/certificates/bob%40beta.example", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test("a client certificate the broker did not issue to an enrolled organization: 403 forbidden")
    func unknownClient() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let other = try await TestBroker.make()
        defer { Task { await other.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let stranger = try await other.enroll("stranger", key: key, keyPEM: keyPEM, domains: ["stranger.example"])
        let body = try Self.json(TokenRequest(domains: ["beta.example"]))
        try await Self.withBroker(broker, certificate: stranger) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: body) { response in
                #expect(response.status == .forbidden)
                let answer = try Self.error(response.body)
                #expect(answer.error == "forbidden")
            }
        }
    }

    @Test("POST /v1/tokens as an enrolled organization: 200, ok for an enrolled domain, not-federated for an unknown one; no domains: 400")
    func tokens() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        let body = try Self.json(TokenRequest(domains: ["beta.example", "unknown.example"]))
        let empty = try Self.json(TokenRequest(domains: []))
        try await Self.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: body) { response in
                #expect(response.status == .ok)
                let answer = try JSONDecoder().decode(TokenResponse.self, from: Data(response.body.readableBytesView))
                let byDomain = Dictionary(uniqueKeysWithValues: answer.results.map { ($0.domain, $0) })
                #expect(byDomain["beta.example"]?.status == .ok)
                #expect(byDomain["beta.example"]?.token?.split(separator: ".").count == 3)
                #expect(byDomain["beta.example"]?.keyContainer?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
                #expect(byDomain["unknown.example"]?.status == .notFederated)
                #expect(byDomain["unknown.example"]?.token == nil)
            }
            try await client.execute(uri: "/v1/tokens", method: .post, body: empty) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("GET /v1/certificates/{address}: 200 for an enrolled domain, 404 for an unknown one, 400 for a non-address")
    func keyContainers() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        try await Self.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/certificates/anyone%40alpha.example", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/certificates/bob%40unknown.example", method: .get) { response in
                #expect(response.status == .notFound)
                let answer = try Self.error(response.body)
                #expect(answer == ErrorResponse(error: "not-found", message: "no federated organization serves unknown.example"))
            }
            try await client.execute(uri: "/v1/certificates/not-an-address", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("GET /metrics from a client that is not on loopback: 403 forbidden (unless MetricsFromAnywhere)")
    func metricsForbidden() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .forbidden)
                let answer = try Self.error(response.body)
                #expect(answer == ErrorResponse(error: "forbidden", message: "metrics are served to loopback clients only"))
            }
        }
    }
}

extension BrokerHTTPStatusTests {
    @Test("GET /metrics (MetricsFromAnywhere) answers 200 with the store's gauges read at the scrape")
    func metricsWithStoreGauges() async throws {
        let broker = try await TestBroker.make { $0.metricsFromAnywhere = true }
        defer { Task { await broker.close() } }
        try await Self.withBroker(broker) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"fedmail_broker_organizations{status="active"} 0"#))
                #expect(text.contains("fedmail_broker_enrollments_pending 0"))
            }
        }
    }
}
