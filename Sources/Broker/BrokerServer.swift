import FederationProtocol
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import X509

/// The broker's HTTPS server: Hummingbird over NIOSSL with optional client
/// certificates that must chain to the broker CA. `GET /v1/ca`, `GET /healthz`,
/// `POST /v1/enrollments` and `GET /v1/enrollments/{id}` need none (an enrollment naming an
/// existing organization is held as a key replacement); `POST /v1/renewal` and `POST /v1/rekey`
/// need the organization's certificate; `/metrics`
/// answers loopback clients (or everyone with `MetricsFromAnywhere yes`); every
/// other route requires a verified, current, unrevoked organization certificate.
public struct BrokerServer: Sendable {
    public let service: BrokerService

    public init(service: BrokerService) {
        self.service = service
    }

    /// The TLS configuration: a fresh server certificate for `ServerName`, client
    /// certificates optional but, when sent, verified against the broker CA only.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let authority = service.authority
        let (certificate, key) = try authority.issueServerCertificate(names: service.configuration.serverNames)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: try Fingerprint.der(certificate), format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: try Fingerprint.der(authority.caCertificate), format: .der)])
        tls.certificateVerification = .optionalVerification
        tls.minimumTLSVersion = .tlsv12
        return tls
    }

    /// Builds the router with every route.
    public func router() -> Router<BrokerRequestContext> {
        let router = Router(context: BrokerRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: service.metrics))
        let service = self.service

        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        // The unauthenticated endpoints: per-source token buckets (429 + Retry-After) before any work.
        let submissions = router.group()
        if let limit = service.configuration.enrollmentRateLimit {
            submissions.add(middleware: RateLimitMiddleware(limit: limit, metrics: service.metrics))
        }
        let reads = router.group()
        if let limit = service.configuration.statusRateLimit {
            reads.add(middleware: RateLimitMiddleware(limit: limit, metrics: service.metrics))
        }
        reads.get("/v1/ca") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"],
                     body: .init(byteBuffer: ByteBuffer(string: service.authority.caCertificatePEM)))
        }
        router.get("/v1/crl") { _, context in
            await Self.crlResponse(service, context)
        }
        router.get("/metrics") { _, context in
            guard service.configuration.metricsFromAnywhere || context.isLoopbackClient else {
                return Self.errorResponse(BrokerError(.forbidden, "metrics are served to loopback clients only"))
            }
            await service.refreshStoreMetrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: service.metrics.exposition())))
        }
        submissions.post("/v1/enrollments") { request, context in
            await Self.answer(context, status: .accepted) {
                let body = try await Self.decode(EnrollmentRequest.self, request, context, limit: Self.maximumEnrollmentBody)
                return try await service.submitEnrollment(body, origin: await RequestOrigin.of(context), source: context.sourceKey)
            }
        }
        reads.get("/v1/enrollments/:id") { _, context in
            await Self.answer(context) {
                try await service.enrollmentStatus(id: context.parameters.get("id") ?? "")
            }
        }
        router.post("/v1/tokens") { request, context in
            await Self.answer(context) {
                let caller = try await Self.caller(service, context)
                let body = try await Self.decode(TokenRequest.self, request, context)
                return try await service.issueTokens(for: caller, request: body, origin: await RequestOrigin.of(context))
            }
        }
        // Renewal and rekey: the organization's current certificate over mutual TLS, no operator.
        router.post("/v1/renewal") { _, context in
            await Self.answer(context) {
                let caller = try await Self.caller(service, context, forRenewal: true)
                return try await service.renew(caller: caller, origin: await RequestOrigin.of(context))
            }
        }
        router.post("/v1/rekey") { request, context in
            await Self.answer(context) {
                let caller = try await Self.caller(service, context)
                let body = try await Self.decode(RekeyRequest.self, request, context)
                return try await service.rekey(caller: caller, csrPEM: body.csr, origin: await RequestOrigin.of(context))
            }
        }
        router.get("/v1/certificates/:address") { _, context in
            await Self.answer(context) {
                let caller = try await Self.caller(service, context)
                let address = (context.parameters.get("address") ?? "").removingPercentEncoding ?? ""
                return try await service.keyContainer(forAddress: address, caller: caller, origin: await RequestOrigin.of(context))
            }
        }
        return router
    }

    /// Runs the server until the process is asked to stop (SIGTERM/SIGINT),
    /// holding its connections to ``BrokerConfiguration/connectionLimits``.
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let limits = service.configuration.connectionLimits
        let sources = ConnectionsBySource(limit: limits.maxPerSource)
        let networks = ConnectionsBySource(limit: limits.maxPerSource * ConnectionLimits.sourcesPerNetwork)
        let requestTimeout = TimeAmount.seconds(Int64(limits.requestTimeout))
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [PerSourceConnectionHandler(sources: sources, networks: networks),
                                        RequestDeadlineHandler(timeout: requestTimeout)],
            idleTimeout: .seconds(Int64(limits.idleTimeout)))
        let app = Application(
            router: router(),
            server: try .tls(.http1(configuration: http1), tlsConfiguration: tlsConfiguration()),
            configuration: .init(address: .hostname(host, port: port), serverName: "fedmail-broker",
                                 availableConnectionsDelegate: limits.maxConnections > 0 ? .maximum(limits.maxConnections, logger: service.logger) : nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: service.logger)
        try await app.runService()
    }

    // MARK: helpers

    static func caller(_ service: BrokerService, _ context: BrokerRequestContext,
                       forRenewal: Bool = false) async throws -> BrokerService.Caller {
        guard let der = await context.peerCertificateDER() else {
            throw BrokerError(.clientCertificateRequired, "this call needs the organization certificate (mutual TLS)")
        }
        return try await service.authenticate(peerCertificateDER: der, origin: await RequestOrigin.of(context), forRenewal: forRenewal)
    }

    /// The largest enrollment body read (a CSR and 100 domains take a few KiB).
    static let maximumEnrollmentBody = 64 << 10

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BrokerRequestContext,
                                     limit: Int = 1 << 20) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw BrokerError(.payloadTooLarge, "request body larger than \(limit) bytes")
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw BrokerError(.payloadTooLarge, "request body larger than \(limit) bytes")
        } catch {
            throw BrokerError(.badRequest, "request body too large or unreadable")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw BrokerError(.badRequest, "malformed JSON body: \(error)")
        }
    }

    static func answer<T: Encodable>(_ context: BrokerRequestContext, status: HTTPResponse.Status = .ok,
                                     _ body: () async throws -> T) async -> Response {
        do {
            return json(try await body(), status: status)
        } catch let error as BrokerError {
            if error.code.httpStatus >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)"])
            } else {
                context.logger.info("request refused", metadata: ["error": "\(error)"])
            }
            return errorResponse(error)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return errorResponse(BrokerError(.internalError, "internal error"))
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func errorResponse(_ error: BrokerError) -> Response {
        var response = json(ErrorResponse(error: error.code.name, message: error.message), status: .init(code: error.code.httpStatus))
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

/// Counts requests and errors and records latency for `/metrics`.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext
    let metrics: BrokerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requests.increment()
        do {
            let response = try await next(request, context)
            if response.status.code >= 400 { metrics.errors.increment() }
            metrics.latency.record(ContinuousClock.now - start)
            return response
        } catch {
            metrics.errors.increment()
            metrics.latency.record(ContinuousClock.now - start)
            throw error
        }
    }
}
