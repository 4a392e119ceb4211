import Testing
@testable import FedMailCore

/// `reinject`: the milter-less service must be reachable by the milter and
/// not by every local user (a TCP port is).
@Suite("doctor: the re-injection service")
struct DoctorReinjectionCheckTests {
    static let path = "/var/spool/postfix/public/fedmail-reinject"
    static let postfix: UInt32 = 107, postdrop: UInt32 = 114, fedmailGroup: UInt32 = 120

    /// `/`, `/var`, `/var/spool`, `/var/spool/postfix`, `public/` (mode `publicMode`), the socket.
    static func nodes(publicMode: UInt32 = 0o710) -> [SocketAccessCheck.Node] {
        func dir(_ path: String, _ mode: UInt32, _ uid: UInt32 = 0, _ gid: UInt32 = 0) -> SocketAccessCheck.Node {
            .init(path: path, mode: mode, uid: uid, gid: gid, ownerName: "x:y", isDirectory: true, isSocket: false)
        }
        return [dir("/", 0o755), dir("/var", 0o755), dir("/var/spool", 0o755), dir("/var/spool/postfix", 0o755),
                dir("/var/spool/postfix/public", publicMode, postfix, postdrop),
                .init(path: path, mode: 0o666, uid: postfix, gid: postfix, ownerName: "postfix:postfix", isDirectory: false, isSocket: true)]
    }

    static func fedmail(inPostdrop: Bool) -> SocketAccessCheck.User {
        .init(name: "fedmail", uid: 998, gids: inPostdrop ? [fedmailGroup, postdrop] : [fedmailGroup])
    }

    @Test("a TCP port: a warning that any local process can use it, with the fix")
    func tcpWarns() {
        let finding = ReinjectionCheck.finding(reinject: .inet(port: 10026, host: "127.0.0.1"), splits: true, nodes: [],
                                               user: nil, connectError: nil)
        #expect(finding.status == .warn)
        #expect(finding.message.contains("any local user"))
        #expect(finding.fix?.contains("Reinject unix:/var/spool/postfix/public/fedmail-reinject") == true)
    }

    @Test("Postfix's public/ socket, the milter's user in postdrop, answering: ok")
    func publicSocketOK() {
        let finding = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                               user: Self.fedmail(inPostdrop: true), connectError: nil)
        #expect(finding.status == .ok)
    }

    @Test("the milter's user not in postdrop: a failure naming the directory and the fix")
    func notInPostdrop() {
        let finding = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                               user: Self.fedmail(inPostdrop: false), connectError: nil)
        #expect(finding.status == .fail)
        #expect(finding.message.contains("/var/spool/postfix/public"))
        #expect(finding.fix?.contains("adduser fedmail postdrop") == true)
    }

    @Test("another member of postdrop can reach it too: a warning naming them; postfix and the milter's user are expected")
    func otherMembers() {
        let finding = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                               user: Self.fedmail(inPostdrop: true), groupMembers: ["alice", "fedmail", "postfix"],
                                               connectError: nil)
        #expect(finding.status == .warn)
        #expect(finding.message.contains("alice"))
        #expect(!finding.message.contains("postfix,"))
        let expected = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                                user: Self.fedmail(inPostdrop: true), groupMembers: ["fedmail", "postfix"],
                                                connectError: nil)
        #expect(expected.status == .ok)
    }

    @Test("the running milter started before it was put in postdrop: the failure says so and asks for a restart")
    func runningWithoutTheGroup() {
        let finding = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                               user: Self.fedmail(inPostdrop: false), userSource: "the running milter, pid 4242",
                                               connectError: nil)
        #expect(finding.status == .fail)
        #expect(finding.message.contains("the running milter, pid 4242"))
        #expect(finding.fix?.contains("restart the milter") == true)
    }

    @Test("a socket every local user can reach: a warning")
    func openToAll() {
        let finding = ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(publicMode: 0o711),
                                               user: Self.fedmail(inPostdrop: true), connectError: nil)
        #expect(finding.status == .warn)
    }

    @Test("missing, not answering, or no Reinject with split: failures; no split: skipped")
    func failures() {
        #expect(ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Array(Self.nodes().dropLast()),
                                         user: nil, connectError: nil).status == .fail)
        #expect(ReinjectionCheck.finding(reinject: .unix(path: Self.path), splits: true, nodes: Self.nodes(),
                                         user: nil, connectError: "Connection refused").status == .fail)
        #expect(ReinjectionCheck.finding(reinject: .inet(port: 10026, host: "127.0.0.1"), splits: true, nodes: [],
                                         user: nil, connectError: "Connection refused").status == .fail)
        #expect(ReinjectionCheck.finding(reinject: nil, splits: true, nodes: [], user: nil, connectError: nil).status == .fail)
        #expect(ReinjectionCheck.finding(reinject: nil, splits: false, nodes: [], user: nil, connectError: nil).status == .skip)
    }
}
