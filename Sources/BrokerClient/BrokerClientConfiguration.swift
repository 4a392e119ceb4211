import Foundation

/// How to reach and trust a broker.
public struct BrokerClientConfiguration: Sendable, Hashable {
    /// `https://host:port` of the broker.
    public var brokerURL: String
    /// The pinned broker CA certificate (PEM file); nothing else is trusted.
    public var caPath: String
    /// The organization certificate (PEM) presented over mutual TLS.
    public var certificatePath: String?
    /// The organization private key (PEM, RSA or P-256; must not be group/other readable).
    public var keyPath: String?
    /// TCP + TLS connect timeout.
    public var connectTimeout: Duration = .seconds(3)
    /// Whole-request timeout (well under the MTA's milter timeouts).
    public var requestTimeout: Duration = .seconds(8)
    /// Directory for the on-disk answer cache (created 0700, files 0600); nil keeps the cache in memory only.
    public var cacheDirectory: String?
    /// How long a `not-federated` or `denied` answer is remembered.
    public var negativeCacheLifetime: Duration = .seconds(300)
    /// A positive answer is renewed this long before it expires.
    public var renewBefore: Duration = .seconds(600)

    public init(brokerURL: String, caPath: String, certificatePath: String? = nil, keyPath: String? = nil,
                cacheDirectory: String? = nil) {
        self.brokerURL = brokerURL
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.cacheDirectory = cacheDirectory
    }
}

/// Reading the public local files the client needs (the CA and the
/// organization certificate; the key is read with ``SecretFile``).
enum LocalFile {
    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BrokerClientError(.badLocalFile, "cannot read \(path): \(error.localizedDescription)")
        }
    }
}
