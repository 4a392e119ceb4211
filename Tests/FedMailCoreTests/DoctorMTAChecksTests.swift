import Testing
@testable import FedMailCore

@Suite("Doctor MTA checks")
struct DoctorMTAChecksTests {
    /// postconf -F / -P output for a Debian-like master.cf: smtpd and cleanup
    /// chrooted (or not), a re-injection listener without milters.
    func settings(smtpd: String, nonSmtpd: String = "$smtpd_milters", action: String = "tempfail",
                  chroot: Bool = false, overrides: [String] = []) -> PostfixSettings {
        let y = chroot ? "y" : "n"
        let fields = [
            "smtp/inet/service = smtp", "smtp/inet/type = inet", "smtp/inet/chroot = \(y)", "smtp/inet/command = smtpd",
            "127.0.0.1:10026/inet/chroot = n", "127.0.0.1:10026/inet/command = smtpd -o smtpd_milters=",
            "pickup/unix/chroot = \(y)", "pickup/unix/command = pickup",
            "cleanup/unix/chroot = \(y)", "cleanup/unix/command = cleanup",
        ]
        let expanded = nonSmtpd == "$smtpd_milters" ? smtpd : nonSmtpd
        return PostfixSettings(mainValues: [smtpd, expanded, action, "/var/spool/postfix"], fields: fields,
                               overrides: ["127.0.0.1:10026/inet/smtpd_milters = ", "127.0.0.1:10026/inet/non_smtpd_milters ="] + overrides)
    }

    let socket = SocketSpec.unix(path: "/run/fedmail/milter.sock")
    let chrootedSocket = SocketSpec.unix(path: "/var/spool/postfix/fedmail/milter.sock")

    func status(_ findings: [DoctorFinding], _ id: String) -> DoctorFinding.Status? {
        findings.first { $0.check == id }?.status
    }

    @Test("milter lists: commas, spaces, groups with settings, inet host:port")
    func milterList() {
        let list = PostfixMilterList(parsing: "unix:/a.sock, inet:127.0.0.1:8891 { unix:/b.sock, default_action=accept, connect_timeout=10s },inet:[::1]:99")
        #expect(list.milters.map(\.address) == ["unix:/a.sock", "inet:127.0.0.1:8891", "unix:/b.sock", "inet:[::1]:99"])
        #expect(list.milters[2].settings == ["default_action": "accept", "connect_timeout": "10s"])
        #expect(list.milters[0].unixPath == "/a.sock")
        #expect(list.milters[1].inet?.host == "127.0.0.1" && list.milters[1].inet?.port == 8891)
        #expect(list.milters[3].inet?.host == "::1")
        #expect(PostfixMilterList(parsing: "").milters.isEmpty)
    }

    @Test("healthy: every network smtpd with milters names the socket, cleanup too, tempfail")
    func healthy() {
        let findings = PostfixMilterCheck.findings(settings(smtpd: "unix:/run/fedmail/milter.sock"), socket: socket)
        #expect(findings.map(\.status) == [.ok, .ok, .ok, .ok])
        #expect(findings[0].message == "smtp/inet use local:/run/fedmail/milter.sock; without milters: 127.0.0.1:10026/inet (a re-injection listener must be one of these)")
        #expect(settings(smtpd: "").services.map(\.name) == ["smtp/inet", "127.0.0.1:10026/inet", "pickup/unix", "cleanup/unix"])
    }

    @Test("milter order: a milter after FedMail on an opening gateway warns (its refusal would make the retry a discarded replay); before it, or on a sealing-only gateway, ok")
    func milterOrder() {
        func order(_ smtpd: String, opens: Bool = true) -> DoctorFinding? {
            PostfixMilterCheck.findings(settings(smtpd: smtpd), socket: socket, opens: opens).first { $0.check == "postfix.milter_order" }
        }
        let after = order("inet:127.0.0.1:8891, unix:/run/fedmail/milter.sock, unix:/run/clamav/clamav-milter.ctl")
        #expect(after?.status == .warn)
        #expect(after?.message.contains("smtp/inet: unix:/run/clamav/clamav-milter.ctl") == true)
        #expect(after?.message.contains("inet:127.0.0.1:8891") == false)
        #expect(after?.fix?.contains("put FedMail last") == true)
        #expect(order("inet:127.0.0.1:8891, unix:/run/fedmail/milter.sock")?.status == .ok)
        #expect(order("unix:/run/fedmail/milter.sock, unix:/run/clamav/clamav-milter.ctl", opens: false)?.status == .ok)
        // A listener that does not use FedMail at all has no order to keep.
        #expect(order("unix:/run/clamav/clamav-milter.ctl")?.status == .ok)
    }

    @Test("a wrong path in smtpd_milters fails with the value to set")
    func wrongPath() {
        let findings = PostfixMilterCheck.findings(settings(smtpd: "unix:/run/other.sock"), socket: socket)
        #expect(status(findings, "postfix.smtpd_milters") == .fail)
        #expect(status(findings, "postfix.non_smtpd_milters") == .fail)
        #expect(findings[0].fix == "postconf -e 'smtpd_milters = unix:/run/fedmail/milter.sock', then postfix reload")
        let elsewhere = PostfixMilterCheck.findings(settings(smtpd: "unix:/run/other.sock"), socket: socket, configDirectory: "/etc/postfix-out")
        #expect(elsewhere[0].fix == "postconf -c /etc/postfix-out -e 'smtpd_milters = unix:/run/fedmail/milter.sock', then postfix -c /etc/postfix-out reload")
    }

    @Test("chroot: a path relative to the queue directory is right, the absolute path is not")
    func chroot() {
        let good = PostfixMilterCheck.findings(settings(smtpd: "unix:/fedmail/milter.sock", chroot: true), socket: chrootedSocket)
        #expect(good.map(\.status) == [.ok, .ok, .ok, .ok])
        let absolute = PostfixMilterCheck.findings(settings(smtpd: "unix:/var/spool/postfix/fedmail/milter.sock", chroot: true), socket: chrootedSocket)
        #expect(absolute[0].status == .fail)
        #expect(absolute[0].message.contains("chrooted to /var/spool/postfix"))
        #expect(absolute[0].fix?.contains("smtpd_milters = unix:/fedmail/milter.sock") == true)
        // The socket outside the chroot: move it, or unchroot smtpd.
        let outside = PostfixMilterCheck.findings(settings(smtpd: "unix:/run/fedmail/milter.sock", chroot: true), socket: socket)
        #expect(outside[0].status == .fail)
        #expect(outside[0].fix?.contains("chroot column to n") == true)
        #expect(PostfixMilterCheck.address(for: chrootedSocket, chroot: "/var/spool/postfix/") == "unix:/fedmail/milter.sock")
    }

    @Test("milter_default_action: accept fails, reject warns, a per-milter or -o override counts")
    func defaultAction() {
        #expect(status(PostfixMilterCheck.findings(settings(smtpd: "unix:/run/fedmail/milter.sock", action: "accept"), socket: socket), "postfix.milter_default_action") == .fail)
        #expect(status(PostfixMilterCheck.findings(settings(smtpd: "unix:/run/fedmail/milter.sock", action: "reject"), socket: socket), "postfix.milter_default_action") == .warn)
        let group = settings(smtpd: "{ unix:/run/fedmail/milter.sock, default_action=accept }")
        #expect(status(PostfixMilterCheck.findings(group, socket: socket), "postfix.smtpd_milters") == .ok)
        #expect(status(PostfixMilterCheck.findings(group, socket: socket), "postfix.milter_default_action") == .fail)
        let override = settings(smtpd: "unix:/run/fedmail/milter.sock", overrides: ["smtp/inet/milter_default_action = accept"])
        #expect(status(PostfixMilterCheck.findings(override, socket: socket), "postfix.milter_default_action") == .fail)
    }

    @Test("non_smtpd_milters missing fails; a service -o smtpd_milters override is what that service uses")
    func perService() {
        let findings = PostfixMilterCheck.findings(settings(smtpd: "unix:/run/fedmail/milter.sock", nonSmtpd: ""), socket: socket)
        #expect(status(findings, "postfix.smtpd_milters") == .ok)
        #expect(status(findings, "postfix.non_smtpd_milters") == .fail)
        let override = settings(smtpd: "unix:/run/fedmail/milter.sock", overrides: ["smtp/inet/smtpd_milters = unix:/elsewhere.sock"])
        let overridden = PostfixMilterCheck.findings(override, socket: socket)
        #expect(overridden[0].status == .fail)
        #expect(overridden[0].fix?.contains("-o smtpd_milters=unix:/run/fedmail/milter.sock") == true)
    }

    @Test("behind postscreen: the smtpd pass service is the one checked")
    func postscreen() {
        let fields = ["smtp/inet/chroot = y", "smtp/inet/command = postscreen", "smtpd/pass/chroot = y", "smtpd/pass/command = smtpd",
                      "cleanup/unix/chroot = y", "cleanup/unix/command = cleanup"]
        let settings = PostfixSettings(mainValues: ["unix:/fedmail/milter.sock", "unix:/fedmail/milter.sock", "tempfail", "/var/spool/postfix"],
                                       fields: fields, overrides: [])
        #expect(settings.smtpdListeners.map(\.name) == ["smtpd/pass"])
        #expect(PostfixMilterCheck.findings(settings, socket: chrootedSocket).map(\.status) == [.ok, .ok, .ok, .ok])
        let none = PostfixSettings(mainValues: ["", "", "tempfail", "/var/spool/postfix"], fields: ["smtp/inet/command = postscreen"], overrides: [])
        #expect(PostfixMilterCheck.findings(none, socket: socket)[0].status == .fail)
    }

    @Test("inet sockets: libmilter port@host against Postfix host:port")
    func inet() {
        let inet = SocketSpec.inet(port: 8895, host: "127.0.0.1")
        #expect(PostfixMilterCheck.findings(settings(smtpd: "inet:localhost:8895"), socket: inet)[0].status == .ok)
        #expect(PostfixMilterCheck.findings(settings(smtpd: "inet:127.0.0.1:8896"), socket: inet)[0].status == .fail)
        #expect(PostfixMilterCheck.address(for: inet, chroot: "/var/spool/postfix") == "inet:127.0.0.1:8895")
    }

    @Test("Sendmail: INPUT_MAIL_FILTER with S= the socket and F=T; dnl lines ignored")
    func sendmail() {
        let good = """
        dnl INPUT_MAIL_FILTER(`old', `S=local:/run/fedmail/milter.sock')dnl
        INPUT_MAIL_FILTER(`fedmail', `S=local:/run/fedmail/milter.sock, F=T, T=C:30s;S:60s;R:60s;E:5m')dnl
        """
        #expect(SendmailFilterCheck.filters(in: good).count == 1)
        #expect(SendmailFilterCheck.finding(mc: good, path: "f.mc", socket: socket).status == .ok)
        let noFlag = "INPUT_MAIL_FILTER(`fedmail', `S=unix:/run/fedmail/milter.sock, T=S:60s')dnl"
        #expect(SendmailFilterCheck.finding(mc: noFlag, path: "f.mc", socket: socket).status == .fail)
        let reject = "INPUT_MAIL_FILTER(`fedmail', `S=local:/run/fedmail/milter.sock, F=R')"
        #expect(SendmailFilterCheck.finding(mc: reject, path: "f.mc", socket: socket).status == .warn)
        let other = "INPUT_MAIL_FILTER(`fedmail', `S=local:/run/other.sock, F=T')"
        let wrong = SendmailFilterCheck.finding(mc: other, path: "f.mc", socket: socket)
        #expect(wrong.status == .fail)
        #expect(wrong.message.contains("f.mc:1 fedmail S=local:/run/other.sock"))
        #expect(wrong.fix?.contains("S=local:/run/fedmail/milter.sock, F=T") == true)
    }

    @Test("socket access: search on every directory, write on the socket, for the MTA user")
    func socketAccess() {
        let postfix = SocketAccessCheck.User(name: "postfix", uid: 107, gids: [113])
        func node(_ path: String, _ mode: UInt32, _ uid: UInt32 = 0, _ gid: UInt32 = 0, socket: Bool = false) -> SocketAccessCheck.Node {
            .init(path: path, mode: mode, uid: uid, gid: gid, ownerName: "\(uid):\(gid)", isDirectory: !socket, isSocket: socket)
        }
        let path = "/run/fedmail/milter.sock"
        let good = [node("/", 0o755), node("/run", 0o755), node("/run/fedmail", 0o750, 999, 113), node(path, 0o660, 999, 113, socket: true)]
        #expect(SocketAccessCheck.finding(path: path, nodes: good, user: postfix, connectError: nil).status == .ok)
        let closedDirectory = [node("/", 0o755), node("/run", 0o755), node("/run/fedmail", 0o700, 999, 999), node(path, 0o666, 999, 999, socket: true)]
        let blocked = SocketAccessCheck.finding(path: path, nodes: closedDirectory, user: postfix, connectError: nil)
        #expect(blocked.status == .fail)
        #expect(blocked.message.contains("directory /run/fedmail is mode 0700"))
        let readOnly = [node("/", 0o755), node("/run", 0o755), node("/run/fedmail", 0o755), node(path, 0o644, 999, 999, socket: true)]
        #expect(SocketAccessCheck.finding(path: path, nodes: readOnly, user: postfix, connectError: nil).message.contains("cannot connect"))
        let missing = SocketAccessCheck.finding(path: path, nodes: Array(good.dropLast()), user: postfix, connectError: nil)
        #expect(missing.status == .fail)
        #expect(missing.message.contains("does not exist"))
        #expect(SocketAccessCheck.finding(path: path, nodes: good, user: postfix, connectError: "connection refused").message.contains("nobody answers"))
        #expect(SocketAccessCheck.finding(path: path, nodes: readOnly, user: .init(name: "root", uid: 0, gids: [0]), connectError: nil).status == .ok)
        let file = [node("/", 0o755), node("/run", 0o755), node("/run/fedmail", 0o755), node(path, 0o666)]
        #expect(SocketAccessCheck.finding(path: path, nodes: file, user: postfix, connectError: nil).message.contains("not a socket"))
    }
}
