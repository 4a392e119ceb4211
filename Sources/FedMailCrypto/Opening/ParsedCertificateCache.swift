internal import COpenSSL
import Synchronization

/// Certificates parsed once and found again by their exact DER encoding.
///
/// Decoding a certificate's public key costs OpenSSL 3.0 more than the
/// signature check itself, and every sealed message carries its signer's
/// certificate. This keeps the parsed `X509` of certificates seen before
/// (seeded with the static partner certificates), keyed by the complete
/// DER bytes, so an identical certificate is not decoded again. It holds
/// parsed objects only, never a verdict: every message's signer is still
/// verified, its chain, validity at that time, purpose and revocation
/// checked as if it had been parsed anew.
///
/// Bounded: at most `capacity` certificates besides the seeds (all of them
/// dropped when it is full), each of at most ``maximumCachedSize`` bytes
/// (a larger one is parsed per message); one cache lives as long as its
/// configuration load.
public final class ParsedCertificateCache: Sendable {
    /// The default number of certificates kept besides the seeds.
    public static let defaultCapacity = 256
    /// The largest certificate kept (DER bytes).
    public static let maximumCachedSize = 16 << 10

    private let seeds: [[UInt8]: OpenSSLCertificate]
    private let seen: Mutex<[[UInt8]: OpenSSLCertificate]>
    private let capacity: Int

    public init(seeding certificates: [OpenSSLCertificate] = [], capacity: Int = ParsedCertificateCache.defaultCapacity) {
        var seeds: [[UInt8]: OpenSSLCertificate] = [:]
        for certificate in certificates {
            let der = certificate.derEncoded
            if !der.isEmpty { seeds[der] = certificate }
        }
        self.seeds = seeds
        self.capacity = max(0, capacity)
        seen = Mutex([:])
    }

    /// How many certificates are kept besides the seeds.
    public var count: Int { seen.withLock { $0.count } }

    /// The certificate encoded as `der`: the one parsed before, else parsed now (and kept).
    func certificate(der: [UInt8]) throws(OpenError) -> OpenSSLCertificate {
        if let seed = seeds[der] { return seed }
        if let known = seen.withLock({ $0[der] }) { return known }
        let parsed = try Self.parse(der: der)
        seen.withLock { seen in
            if seen.count >= capacity { seen.removeAll() }
            if capacity > 0, der.count <= Self.maximumCachedSize { seen[der] = parsed }
        }
        return parsed
    }

    /// Parses one DER (or BER) certificate that must fill `der` exactly.
    static func parse(der: [UInt8]) throws(OpenError) -> OpenSSLCertificate {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let x509 = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard let cursor, let base = buffer.baseAddress, cursor - base == buffer.count else {
                X509_free(x509)
                return nil
            }
            return x509
        }
        guard let parsed else {
            throw OpenError(.malformed, "the signed entity is not a valid CMS SignedData: a certificate does not parse (\(OpenSSLErrorQueue.drain()))")
        }
        return OpenSSLCertificate(taking: parsed)
    }
}
