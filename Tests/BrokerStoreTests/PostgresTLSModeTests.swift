@testable import BrokerStore
import Foundation
import Testing

@Suite("PostgreSQL TLS mode")
struct PostgresTLSModeTests {
    @Test("without sslmode: verify-full for every host but this machine's, plaintext only over loopback",
          arguments: [("db.example.net", PostgresTLSMode.verifyFull), ("10.0.0.5", .verifyFull), ("127.0.0.1", .disable),
                      ("127.1.2.3", .disable), ("localhost", .disable), ("::1", .disable), ("127.example", .verifyFull)])
    func defaults(host: String, expected: PostgresTLSMode) {
        #expect(PostgresTLSMode.effective(requested: nil, host: host) == expected)
    }

    @Test("an sslmode given in the URL is what counts, even for loopback")
    func explicit() {
        #expect(PostgresTLSMode.effective(requested: .verifyFull, host: "localhost") == .verifyFull)
        #expect(PostgresTLSMode.effective(requested: .disable, host: "db.example.net") == .disable)
    }

    @Test("bad settings are refused with a message that says what to write")
    func refusals() {
        func message(_ host: String, _ query: [URLQueryItem]) -> String? {
            do { _ = try PostgresBrokerDatabase.tls(host: host, query: query); return nil } catch { return "\(error)" }
        }
        #expect(message("db.example.net", [URLQueryItem(name: "sslmode", value: "allow")])?.contains("verify-full") == true)
        #expect(message("10.0.0.5", [])?.contains("needs the server's host name") == true)
        #expect(message("db.example.net", [URLQueryItem(name: "sslrootcert", value: "ca.pem")])?.contains("absolute path") == true)
        #expect(message("db.example.net", [URLQueryItem(name: "sslrootcert", value: "/nonexistent/ca.pem")])?.contains("cannot read sslrootcert") == true)
        #expect(message("db.example.net", []) == nil)
        #expect(message("10.0.0.5", [URLQueryItem(name: "sslmode", value: "verify-ca")]) == nil)
    }
}
