import Testing
@testable import FedMailCore

@Suite("SocketSpec")
struct SocketSpecTests {
    @Test("local:, unix: and a bare path are unix sockets")
    func unixForms() throws {
        #expect(try SocketSpec(parsing: "local:/run/fedmail/milter.sock") == .unix(path: "/run/fedmail/milter.sock"))
        #expect(try SocketSpec(parsing: "unix:/tmp/m.sock") == .unix(path: "/tmp/m.sock"))
        #expect(try SocketSpec(parsing: "/tmp/m.sock") == .unix(path: "/tmp/m.sock"))
        #expect(try SocketSpec(parsing: "local:/tmp/m.sock").libmilterAddress == "unix:/tmp/m.sock")
        #expect(try SocketSpec(parsing: "unix:/tmp/m.sock").unixPath == "/tmp/m.sock")
    }

    @Test("inet:port@host and inet:port")
    func inetForms() throws {
        #expect(try SocketSpec(parsing: "inet:8895@127.0.0.1") == .inet(port: 8895, host: "127.0.0.1"))
        #expect(try SocketSpec(parsing: "inet:8895@localhost") == .inet(port: 8895, host: "localhost"))
        #expect(try SocketSpec(parsing: "inet:8895") == .inet(port: 8895, host: nil))
        #expect(try SocketSpec(parsing: "INET:25@mx.example").libmilterAddress == "inet:25@mx.example")
        #expect(try SocketSpec(parsing: "inet:8895").unixPath == nil)
    }

    @Test("inet6 with plain and bracketed addresses")
    func inet6Forms() throws {
        #expect(try SocketSpec(parsing: "inet6:8895@::1") == .inet6(port: 8895, host: "::1"))
        #expect(try SocketSpec(parsing: "inet6:8895@[::1]") == .inet6(port: 8895, host: "::1"))
        #expect(try SocketSpec(parsing: "inet6:8895@[2001:db8::25]").libmilterAddress == "inet6:8895@2001:db8::25")
        #expect(try SocketSpec(parsing: "inet6:8895") == .inet6(port: 8895, host: nil))
    }

    @Test("bad specifications name what is wrong", arguments: [
        ("local:relative/path", "absolute path"),
        ("inet:0@127.0.0.1", "port must be a number from 1 to 65535"),
        ("inet:65536", "port must be a number from 1 to 65535"),
        ("inet:smtp@127.0.0.1", "port must be a number"),
        ("inet:@127.0.0.1", "port must be a number"),
        ("inet:25@bad host", "not an IPv4 address or host name"),
        ("inet:25@", "not an IPv4 address or host name"),
        ("inet6:25@[zz::1]", "not an IPv6 address or host name"),
        ("tcp:25@127.0.0.1", "unknown socket type 'tcp'"),
        ("milter.sock", "is not a socket"),
        ("local:/" + String(repeating: "a", count: 120), "at most 107 bytes"),
    ])
    func badSpecs(text: String, expected: String) {
        #expect {
            _ = try SocketSpec(parsing: text)
        } throws: { error in
            (error as? SocketSpecError)?.message.contains(expected) == true
        }
    }
}
