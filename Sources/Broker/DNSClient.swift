import Dispatch
import FedMailCore
import Foundation
import SystemIO

/// Looks up the TXT records of a name. The broker's domain control validation
/// asks through this, so tests can answer without a DNS server.
public protocol TXTLookup: Sendable {
    /// The texts of the TXT records of `name` (empty when there are none or the name does not
    /// exist). Throws ``DNSLookupError`` when no trustworthy answer came in time.
    func txtRecords(_ name: String) async throws -> [String]
}

/// Why a DNS lookup gave no answer. Validation fails closed on it.
public struct DNSLookupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A resolver address: numeric host and port (`127.0.0.1:5353`, `[::1]:53`, `192.0.2.1`).
public struct DNSServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 53) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST`, `HOST:PORT` or `[V6]:PORT`; the host must be a numeric address.
    public init?(parsing text: String) {
        if IPAddressBytes.parse(text) != nil {
            self.init(host: text, port: 53)
        } else if let (host, port) = BrokerConfiguration.parseListen(text), port > 0, IPAddressBytes.parse(host) != nil {
            self.init(host: host, port: port)
        } else {
            return nil
        }
    }

    /// The first `nameserver` of resolv.conf text, if any.
    public static func firstNameserver(resolvConf text: String) -> DNSServerAddress? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver" {
                // A scoped IPv6 address (fe80::1%eth0) is not usable here; skip it.
                if let address = DNSServerAddress(parsing: String(fields[1])), !address.host.contains("%") { return address }
            }
        }
        return nil
    }

    /// The system resolver: the first nameserver of /etc/resolv.conf, else 127.0.0.1:53.
    public static func system() -> DNSServerAddress {
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        return firstNameserver(resolvConf: text) ?? DNSServerAddress(host: "127.0.0.1")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A small stub resolver: one UDP query to one server with a random id (the
/// kernel picks a random source port for the connected socket), stray or
/// mismatched datagrams ignored until the deadline, TCP when the answer is
/// truncated. Every wait is bounded by `timeout` overall; any failure is an
/// error, never "no record".
public struct DNSTXTClient: TXTLookup {
    public var server: DNSServerAddress
    /// The whole lookup's budget (UDP and any TCP retry), in seconds.
    public var timeout: Int

    public init(server: DNSServerAddress, timeout: Int) {
        self.server = server
        self.timeout = timeout
    }

    public func txtRecords(_ name: String) async throws -> [String] {
        let client = self
        // The lookup blocks in poll(2): run it off the cooperative pool.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try client.lookup(name) })
            }
        }
    }

    /// The blocking lookup.
    public func lookup(_ name: String) throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(timeout)
        let id = UInt16.random(in: 0...UInt16.max)
        let query: [UInt8]
        do {
            query = try DNSMessage.query(id: id, name: name)
        } catch {
            throw DNSLookupError("cannot ask for \(name): \(error)")
        }
        do {
            let socket = try DatagramSocket(numericHost: server.host, port: server.port)
            try socket.send(query)
            while true {
                let datagram = try socket.receive(upTo: Int(DNSMessage.advertisedUDPSize) * 4, deadline: deadline)
                let answer: DNSTXTAnswer
                do {
                    guard datagram.count <= Int(DNSMessage.advertisedUDPSize) * 4 else {
                        throw DNSMessageError(.tooLarge, "datagram larger than \(Int(DNSMessage.advertisedUDPSize) * 4) octets")
                    }
                    answer = try DNSMessage.txtAnswer(datagram, id: id, name: name)
                } catch let error as DNSMessageError where error.code == .wrongID || error.code == .notAResponse {
                    continue  // not the answer to this query: keep waiting until the deadline
                } catch {
                    throw DNSLookupError("\(server) gave no usable answer for \(name) TXT: \(error)")
                }
                if answer.truncated { return try lookupOverTCP(name, deadline: deadline) }
                return answer.texts
            }
        } catch let error as DNSLookupError {
            throw error
        } catch {
            throw DNSLookupError("no answer from \(server) for \(name) TXT: \(error)")
        }
    }

    /// RFC 7766: the same question over TCP, each message preceded by its 2-octet length.
    func lookupOverTCP(_ name: String, deadline: ContinuousClock.Instant) throws -> [String] {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = try DNSMessage.query(id: id, name: name)
        do {
            let socket = try DeadlineSocket(host: server.host, port: server.port, family: .any, deadline: deadline)
            try socket.send([UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query, deadline: deadline)
            let prefix = try Self.read(socket, count: 2, deadline: deadline)
            let length = Int(prefix[0]) << 8 | Int(prefix[1])
            let message = try Self.read(socket, count: length, deadline: deadline)
            do {
                let answer = try DNSMessage.txtAnswer(message, id: id, name: name)
                guard !answer.truncated else { throw DNSLookupError("\(server) answered \(name) TXT truncated over TCP") }
                return answer.texts
            } catch let error as DNSMessageError {
                throw DNSLookupError("\(server) answered \(name) TXT unreadably over TCP: \(error)")
            }
        } catch let error as SystemIOError {
            throw DNSLookupError("no TCP answer from \(server) for \(name) TXT: \(error)")
        }
    }

    static func read(_ socket: DeadlineSocket, count: Int, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try socket.receive(upTo: count - bytes.count, deadline: deadline)
            guard !chunk.isEmpty else { throw SystemIOError(.connectionClosed, "the server closed the connection mid-answer") }
            bytes += chunk
        }
        return bytes
    }
}
