import Broker
import FedMailCore
import Testing

struct BrokerConfigurationTests {
    @Test func defaults() throws {
        let configuration = try BrokerConfiguration(parsing: "", path: "b.conf")
        #expect(configuration.listenHost == "127.0.0.1")
        #expect(configuration.listenPort == 8443)
        #expect(configuration.database == "sqlite:/var/lib/fedmail-broker/broker.db")
        #expect(configuration.keyContainerLifetime == 86_400)
        #expect(configuration.serverNames == ["localhost", "127.0.0.1"])
    }

    @Test func parsesEverySetting() throws {
        let text = """
        # broker
        Listen [::1]:9443
        StateDir /srv/broker
        database postgres://fedmail@db.example:5433/broker
        ServerName broker.example, 192.0.2.7
        ServerName localhost
        KeyContainerLifetime 2h
        TokenLifetime 30m
        LogLevel debug
        UMask 077
        MetricsFromAnywhere yes
        """
        let configuration = try BrokerConfiguration(parsing: text, path: "b.conf")
        #expect(configuration.listenHost == "::1")
        #expect(configuration.listenPort == 9443)
        #expect(configuration.database == "postgres://fedmail@db.example:5433/broker")
        #expect(configuration.serverNames == ["broker.example", "192.0.2.7", "localhost"])
        #expect(configuration.keyContainerLifetime == 7_200)
        #expect(configuration.tokenLifetime == 1_800)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.umask == 0o077)
        #expect(configuration.metricsFromAnywhere)
    }

    @Test(arguments: [
        ("Listen 127.0.0.1\n", "b.conf:1:"),
        ("StateDir /x\nColour blue\n", "b.conf:2: unknown name 'Colour'"),
        ("Database mysql://x\n", "b.conf:1:"),
        ("TokenLifetime 10\n", "b.conf:1:"),
        ("ServerName bad_name!\n", "b.conf:1:"),
        ("LogLevel loud\n", "b.conf:1:"),
        ("Listen 127.0.0.1:1\nListen 127.0.0.1:2\n", "b.conf:2:"),
    ])
    func rejectsMistakesWithTheirLine(text: String, message: String) {
        #expect {
            _ = try BrokerConfiguration(parsing: text, path: "b.conf")
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }
}

/// `UserID` of the broker: resolved (and later switched to) by the same
/// code as the milter's (SystemIO's ProcessUser).
struct BrokerUserIDTests {
    @Test("UserID names a user that exists; a missing user or group is an error naming the line and which one")
    func userID() throws {
        let good = try BrokerConfiguration(parsing: "UserID root:root\n", path: "b.conf")
        #expect(good.userID == "root:root")
        for (value, says) in [("no-such-user-fedmail", "no such user 'no-such-user-fedmail'"),
                              ("root:no-such-group-fedmail", "no such group 'no-such-group-fedmail'")] {
            do {
                _ = try BrokerConfiguration(parsing: "UserID \(value)\n", path: "b.conf")
                Issue.record("UserID \(value) must be refused")
            } catch {
                #expect(error.description.hasPrefix("b.conf:1:"), "\(error)")
                #expect(error.description.contains(says), "\(error)")
            }
        }
    }
}
