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
