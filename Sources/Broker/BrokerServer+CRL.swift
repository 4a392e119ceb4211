import Foundation
import Hummingbird
import NIOCore

extension BrokerServer {
    /// `GET /v1/crl`: the signed CRL in DER (`application/pkix-crl`, RFC
    /// 2585), unauthenticated like the CA certificate. Cacheable for as long
    /// as the broker would serve the same one; Last-Modified is its
    /// thisUpdate, Expires its nextUpdate.
    static func crlResponse(_ service: BrokerService, _ context: BrokerRequestContext) async -> Response {
        do {
            let crl = try await service.certificateRevocationList()
            return Response(status: .ok, headers: [
                .contentType: "application/pkix-crl",
                .cacheControl: "public, max-age=\(CRLIssuer.reuseInterval)",
                .lastModified: httpDate(crl.thisUpdate),
                .expires: httpDate(crl.nextUpdate),
            ], body: .init(byteBuffer: ByteBuffer(bytes: crl.der)))
        } catch let error as BrokerError {
            context.logger.error("CRL failed", metadata: ["error": "\(error)"])
            return errorResponse(error)
        } catch {
            context.logger.error("CRL failed", metadata: ["error": "\(error)"])
            return errorResponse(BrokerError(.internalError, "internal error"))
        }
    }

    /// An IMF-fixdate (RFC 9110 section 5.6.7).
    static func httpDate(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
