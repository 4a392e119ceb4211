import Testing
@testable import FedMailCore

@Suite("MilterConfiguration")
struct MilterConfigurationTests {
    func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try MilterConfiguration(parsing: text, path: "/etc/fedmail/fedmail-milter.conf")
            return nil
        } catch {
            return error
        }
    }

    @Test("a full file with comments and mixed-case names")
    func fullFile() throws {
        let text = """
        # FedMail milter
        Socket              inet:8895@127.0.0.1   # Postfix connects here
        pidfile             /run/fedmail/fedmail-milter.pid
        USERID              fedmail:mail
        UMask               007
        Background          no
        Syslog              yes
        SyslogFacility      local3
        LogLevel            debug
        TemporaryDirectory  /var/tmp
        BodySpoolThreshold  512k
        On-InternalError    accept
        """
        let configuration = try MilterConfiguration(parsing: text, path: "f.conf")
        #expect(configuration.socket == .inet(port: 8895, host: "127.0.0.1"))
        #expect(configuration.pidFile == "/run/fedmail/fedmail-milter.pid")
        #expect(configuration.userID == .init(user: "fedmail", group: "mail"))
        #expect(configuration.umask == 0o007)
        #expect(configuration.background == false)
        #expect(configuration.syslog == true)
        #expect(configuration.syslogFacility == "local3")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.temporaryDirectory == "/var/tmp")
        #expect(configuration.bodySpoolThreshold == 512 * 1024)
        #expect(configuration.onInternalError == .accept)
    }

    @Test("defaults when only Socket is given")
    func defaults() throws {
        let configuration = try MilterConfiguration(parsing: "Socket local:/run/m.sock\n", path: "f.conf")
        #expect(configuration.pidFile == nil)
        #expect(configuration.userID == nil)
        #expect(configuration.umask == nil)
        #expect(configuration.background)
        #expect(configuration.syslog)
        #expect(configuration.syslogFacility == "mail")
        #expect(configuration.logLevel == .info)
        #expect(configuration.temporaryDirectory == "/tmp")
        #expect(configuration.bodySpoolThreshold == 1 << 20)
        #expect(configuration.onInternalError == .tempfail)
    }

    @Test("each error names the file and line", arguments: [
        ("Socket local:/a\nFrobnicate yes\n", "/etc/fedmail/fedmail-milter.conf:2: unknown name 'Frobnicate'"),
        ("Socket local:/a\nsocket local:/b\n", "/etc/fedmail/fedmail-milter.conf:2: 'socket' is already set on line 1"),
        ("# c\nSocket\n", "/etc/fedmail/fedmail-milter.conf:2: 'Socket' needs a value"),
        ("Socket inet:99999@127.0.0.1\n", "/etc/fedmail/fedmail-milter.conf:1: 'Socket': 'inet:99999@127.0.0.1': the port must be a number from 1 to 65535"),
        ("Socket local:/a\nPidFile run/m.pid\n", "/etc/fedmail/fedmail-milter.conf:2: 'PidFile' must be an absolute path without spaces, not 'run/m.pid'"),
        ("Socket local:/a\nUserID a:b:c\n", "/etc/fedmail/fedmail-milter.conf:2: 'UserID' must be user or user:group, not 'a:b:c'"),
        ("Socket local:/a\nUserID :mail\n", "/etc/fedmail/fedmail-milter.conf:2: 'UserID' must be user or user:group, not ':mail'"),
        ("Socket local:/a\nUMask 8\n", "/etc/fedmail/fedmail-milter.conf:2: 'UMask' must be an octal mask such as 007, not '8'"),
        ("Socket local:/a\nBackground maybe\n", "/etc/fedmail/fedmail-milter.conf:2: 'Background' must be yes or no, not 'maybe'"),
        ("Socket local:/a\nLogLevel chatty\n", "/etc/fedmail/fedmail-milter.conf:2: 'LogLevel' must be one of error, warning, notice, info, debug, not 'chatty'"),
        ("Socket local:/a\nSyslogFacility kern\n", "/etc/fedmail/fedmail-milter.conf:2: 'SyslogFacility' must be one of mail, daemon, user, local0, local1, local2, local3, local4, local5, local6, local7, not 'kern'"),
        ("Socket local:/a\nBodySpoolThreshold 2g\n", "/etc/fedmail/fedmail-milter.conf:2: 'BodySpoolThreshold' must be a size in bytes like 1048576, 512k or 1m, at most 1024m, not '2g'"),
        ("Socket local:/a\nBodySpoolThreshold 2000m\n", "/etc/fedmail/fedmail-milter.conf:2: 'BodySpoolThreshold' must be a size in bytes like 1048576, 512k or 1m, at most 1024m, not '2000m'"),
        ("Socket local:/a\nOn-InternalError discard\n", "/etc/fedmail/fedmail-milter.conf:2: 'On-InternalError' must be one of accept, reject, tempfail, quarantine, not 'discard'"),
        ("LogLevel info\n", "/etc/fedmail/fedmail-milter.conf: 'Socket' is required (for example 'Socket local:/run/fedmail/milter.sock')"),
    ])
    func errors(text: String, message: String) {
        #expect(error(text)?.description == message)
    }

    @Test("settings that need a restart are reported on reload")
    func restartSettings() throws {
        let old = try MilterConfiguration(parsing: "Socket local:/a\nLogLevel info\n", path: "f")
        let new = try MilterConfiguration(parsing: "Socket local:/b\nLogLevel debug\nUMask 007\n", path: "f")
        #expect(new.settingsNeedingRestart(comparedTo: old) == ["Socket", "UMask"])
        #expect(old.settingsNeedingRestart(comparedTo: old).isEmpty)
    }

    @Test("log levels order from least to most verbose")
    func logLevelOrder() {
        #expect(MilterConfiguration.LogLevel.error < .warning)
        #expect(MilterConfiguration.LogLevel.info < .debug)
        #expect(!(MilterConfiguration.LogLevel.debug < .notice))
    }
}

@Suite("MetricsListen")
struct MetricsListenTests {
    static let base = "Socket local:/run/fedmail/milter.sock\n"

    @Test(arguments: [
        ("9466", "127.0.0.1", 9466),
        ("127.0.0.1:9466", "127.0.0.1", 9466),
        ("127.0.0.190:9000", "127.0.0.190", 9000),
        ("localhost:9466", "127.0.0.1", 9466),
        ("[::1]:9466", "::1", 9466),
    ])
    func accepted(value: String, host: String, port: Int) throws {
        let configuration = try MilterConfiguration(parsing: Self.base + "MetricsListen \(value)\n", path: "m.conf")
        #expect(configuration.metricsListen == MetricsListen(host: host, port: port))
        #expect(configuration.metricsListen?.isLoopback == true)
    }

    @Test("absent or none: no listener")
    func disabled() throws {
        #expect(try MilterConfiguration(parsing: Self.base, path: "m.conf").metricsListen == nil)
        #expect(try MilterConfiguration(parsing: Self.base + "MetricsListen none\n", path: "m.conf").metricsListen == nil)
    }

    @Test(arguments: [
        ("127.0.0.1:0", "port '0'"),
        ("127.0.0.1:99999", "port '99999'"),
        ("127.0.0.1:", "port ''"),
        ("metrics.example:9466", "not an IP address"),
        ("::1:9466", "in brackets"),
        ("[::1]9466", "must be PORT"),
        ("256.0.0.1:9466", "not an IP address"),
        ("192.0.2.10:9466", "not a loopback address"),
        ("0.0.0.0:9466", "MetricsFromAnywhere yes"),
    ])
    func refused(value: String, says: String) {
        do {
            _ = try MilterConfiguration(parsing: Self.base + "MetricsListen \(value)\n", path: "m.conf")
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.contains("MetricsListen"), "\(error)")
            #expect(error.description.contains(says), "\(error)")
        }
    }

    @Test("a non-loopback address with MetricsFromAnywhere yes")
    func anywhere() throws {
        let configuration = try MilterConfiguration(parsing: Self.base + "MetricsListen 0.0.0.0:9466\nMetricsFromAnywhere yes\n",
                                                    path: "m.conf")
        #expect(configuration.metricsListen == MetricsListen(host: "0.0.0.0", port: 9466))
        #expect(configuration.metricsFromAnywhere)
    }

    @Test("a change of MetricsListen needs a restart")
    func restart() throws {
        let old = try MilterConfiguration(parsing: Self.base, path: "m.conf")
        let new = try MilterConfiguration(parsing: Self.base + "MetricsListen 9466\n", path: "m.conf")
        #expect(new.settingsNeedingRestart(comparedTo: old) == ["MetricsListen"])
    }
}
