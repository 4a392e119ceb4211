import Foundation
import JWTKit
import X509

/// Validates federation tokens against the pinned broker CA, and only against it.
///
/// A token is accepted when: it is a compact JWS with `alg` ES256 whose `x5c`
/// leaf chains to the pinned CA (RFC 5280 at the check time) and is the broker's
/// token-signing certificate (common name ``tokenSignerCommonName``, not a CA);
/// the signature verifies with that leaf's key; `iss` is the CA's organization;
/// `purpose` is `smtp-federation`; `aud` is the expected domain; and
/// `nbf - leeway ≤ now < exp + leeway`.
public struct TokenVerifier: Sendable {
    /// Common name of the broker's token-signing certificate.
    public static let tokenSignerCommonName = "FedMail Token Signing"

    public let brokerCA: Certificate
    /// Allowed clock difference, seconds.
    public var leeway: Int64 = 60

    public init(brokerCA: Certificate) {
        self.brokerCA = brokerCA
    }

    /// Reads the pinned broker CA from a PEM file.
    public init(brokerCAPath path: String) throws {
        let pem: String
        do { pem = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FederationProtocolError(.badLocalFile, "cannot read the broker CA \(path)")
        }
        do { try self.init(brokerCAPEM: pem) } catch {
            throw FederationProtocolError(.badLocalFile, "the broker CA \(path) is not a PEM certificate")
        }
    }

    /// The pinned broker CA given as PEM text.
    public init(brokerCAPEM pem: String) throws {
        do { self.init(brokerCA: try Certificate(pemEncoded: pem)) } catch {
            throw FederationProtocolError(.badLocalFile, "the broker CA is not a PEM certificate")
        }
    }

    /// The expected `iss`: the organization name in the CA's subject.
    public var issuer: String {
        brokerCA.subject.organizationNameValue ?? ""
    }

    /// Verifies `token` for `audience` (a recipient domain) at `now`; returns its claims.
    public func verify(_ token: String, audience: String, now: Date = Date()) async throws -> FederationClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(String(parts[0])),
              let header = try? JSONDecoder().decode(Header.self, from: headerData) else {
            throw FederationProtocolError(.invalid, "token is not a compact JWS")
        }
        guard header.alg == "ES256" else {
            throw FederationProtocolError(.invalid, "token algorithm \(header.alg) is not ES256")
        }
        guard let leafText = header.x5c?.first, let leafDER = Data(base64Encoded: leafText),
              let leaf = try? Certificate(derEncoded: Array(leafDER)) else {
            throw FederationProtocolError(.invalid, "token has no usable x5c certificate")
        }
        let extendedKeyUsage = (try? leaf.extensions.extendedKeyUsage) ?? nil
        let basicConstraints = (try? leaf.extensions.basicConstraints) ?? nil
        var isCA = false
        if case .isCertificateAuthority = basicConstraints { isCA = true }
        guard leaf.subject.commonNameValue == Self.tokenSignerCommonName, extendedKeyUsage == nil, !isCA else {
            throw FederationProtocolError(.invalid, "token is not signed by the broker's token-signing certificate")
        }
        let claims: FederationClaims
        do {
            let verifier = try X5CVerifier(rootCertificates: [brokerCA])
            claims = try await verifier.verifyJWS(token, as: FederationClaims.self, validationTime: .fixed(now))
        } catch {
            throw FederationProtocolError(.invalid, "token signature or chain invalid: \(error)")
        }
        let time = Int64(now.timeIntervalSince1970)
        guard claims.iss == issuer else { throw FederationProtocolError(.invalid, "token issuer '\(claims.iss)' is not the pinned broker '\(issuer)'") }
        guard claims.purpose == FederationClaims.purposeValue else { throw FederationProtocolError(.invalid, "token purpose is '\(claims.purpose)'") }
        guard claims.aud == audience.lowercased() else { throw FederationProtocolError(.invalid, "token audience '\(claims.aud)' is not '\(audience)'") }
        guard time < claims.exp + leeway else { throw FederationProtocolError(.invalid, "token expired at \(claims.exp)") }
        guard claims.nbf - leeway <= time else { throw FederationProtocolError(.invalid, "token not valid before \(claims.nbf)") }
        return claims
    }

    struct Header: Decodable {
        var alg: String
        var x5c: [String]?
    }
}
