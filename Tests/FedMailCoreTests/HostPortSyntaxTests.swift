import Testing
@testable import FedMailCore

@Suite("HOST:PORT values")
struct HostPortSyntaxTests {
    @Test("split: host and port, IPv6 in brackets, a single part, an unbracketed IPv6, malformed brackets")
    func split() {
        #expect(HostPortSyntax.split("127.0.0.1:9466") == .hostAndPort(host: "127.0.0.1", port: "9466"))
        #expect(HostPortSyntax.split("[::1]:9466") == .hostAndPort(host: "::1", port: "9466"))
        #expect(HostPortSyntax.split("9466") == .single("9466"))
        #expect(HostPortSyntax.split("::1:9466") == .unbracketedIPv6(host: "::1", port: "9466"))
        #expect(HostPortSyntax.split("[::1]9466") == .malformed)
        #expect(HostPortSyntax.split("[::1") == .malformed)
        #expect(HostPortSyntax.split("[]:80") == .malformed)
        #expect(HostPortSyntax.split("host:") == .hostAndPort(host: "host", port: ""))
    }

    @Test("port: 1 to 5 ASCII digits within 1...65535; 0 only when allowed")
    func port() {
        #expect(HostPortSyntax.port("9466") == 9466)
        #expect(HostPortSyntax.port("65535") == 65_535)
        #expect(HostPortSyntax.port("65536") == nil)
        #expect(HostPortSyntax.port("0") == nil)
        #expect(HostPortSyntax.port("0", allowZero: true) == 0)
        #expect(HostPortSyntax.port("+80") == nil)
        #expect(HostPortSyntax.port("") == nil)
        #expect(HostPortSyntax.port("000080") == nil)
        #expect(HostPortSyntax.port("٨٠") == nil)
    }
}
