import AsyncHTTPClient
import FedMailCore
import FederationProtocol
import Foundation
import NIOCore
import X509

extension BrokerClient {
    /// `GET /v1/crl`: the broker's CRL, verified against the pinned broker
    /// CA (signature, issuer, key identifier, v2 profile); returns the
    /// policy's view of it and its DER (to cache on disk). The dates are
    /// the caller's to hold against its clock (`CRLMaxAge`).
    public func revocationList() async throws -> (list: RevocationList, der: [UInt8]) {
        var request = HTTPClientRequest(url: configuration.brokerURL + "/v1/crl")
        request.method = .GET
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
            body = try await response.body.collect(upTo: CertificateRevocationList.maximumSize)
        } catch {
            throw BrokerClientError(.unavailable, "broker \(configuration.brokerURL) CRL: \(error)")
        }
        guard response.status.code == 200 else {
            throw BrokerClientError(.refused, "broker \(configuration.brokerURL) CRL: HTTP \(response.status.code)")
        }
        let der = Array(body.readableBytesView)
        return (try Self.verifyCRL(der, brokerCA: brokerCA), der)
    }

    /// Verifies CRL bytes (from the broker or the disk cache) against `brokerCA`.
    public static func verifyCRL(_ der: [UInt8], brokerCA: Certificate) throws -> RevocationList {
        do {
            return try CertificateRevocationList.verify(der: der, caCertificate: brokerCA).revocationList
        } catch {
            throw BrokerClientError(.badAnswer, "the CRL is not valid for the pinned broker CA: \(error.message)")
        }
    }

    /// Verifies CRL bytes against the broker CA in the PEM file `brokerCAPath`.
    public static func verifyCRL(_ der: [UInt8], brokerCAPath: String) throws -> RevocationList {
        let ca: Certificate
        do { ca = try Certificate(pemEncoded: try LocalFile.read(brokerCAPath)) } catch {
            throw BrokerClientError(.badLocalFile, "BrokerCA \(brokerCAPath) is not a PEM certificate")
        }
        return try verifyCRL(der, brokerCA: ca)
    }

    /// ``revocationList()`` for callers outside Swift concurrency (see ``BlockingTask``).
    public nonisolated func revocationListBlocking(timeout: Duration) throws -> (list: RevocationList, der: [UInt8]) {
        try BlockingTask.run(timeout: timeout, what: "CRL fetch") { try await self.revocationList() }
    }
}
