import FedMailCore
import Foundation
import Scanner
import SystemIO

/// The local services: clamd and the milter's own socket.
extension DoctorProbes {
    func checkClamd(_ configuration: MilterConfiguration) -> DoctorFinding {
        guard let address = configuration.scanning.clamdSocket else {
            return .skip("clamd", "no ClamdSocket: the milter does not scan")
        }
        var options = ClamdClient.Options()
        options.connectTimeout = min(timeout, .seconds(5))
        options.writeTimeout = timeout
        options.replyTimeout = timeout
        do {
            let version = try ClamdClient(address: address, options: options).version()
            return ServiceChecks.clamd(address: "\(address)", version: "\(version)", error: nil)
        } catch {
            return ServiceChecks.clamd(address: "\(address)", version: nil, error: error.description)
        }
    }

    /// `reinject`: the milter-less service that takes the sealed copies of split messages.
    func checkReinjection(_ configuration: MilterConfiguration) -> DoctorFinding {
        let federation = configuration.federation
        let splits = federation.mode.seals && federation.mixedRecipients == .split
        let deadline = ContinuousClock.now + timeout
        var nodes: [SocketAccessCheck.Node] = []
        var connectError: String?
        switch federation.reinject {
        case .unix(let path)?:
            nodes = Self.pathNodes(path)
            if nodes.last?.path == path, nodes.last?.isSocket == true {
                do { _ = try DeadlineSocket(unixPath: path, deadline: deadline) } catch { connectError = error.message }
            }
        case .inet(let port, let host)?:
            do { _ = try DeadlineSocket(host: host ?? "127.0.0.1", port: port, family: .ipv4, deadline: deadline) } catch { connectError = error.message }
        case .inet6(let port, let host)?:
            do { _ = try DeadlineSocket(host: host ?? "::1", port: port, family: .ipv6, deadline: deadline) } catch { connectError = error.message }
        case nil:
            break
        }
        // The running milter's own groups when it runs (it keeps those it
        // started with), else the user's in the group database.
        var account = configuration.userID.flatMap { UserAccount(named: $0.user) }
        var userSource: String?
        if let name = account?.name, let pid = Self.runningMilterPID(configuration), let running = UserAccount.ofProcess(pid, name: name) {
            account = running
            userSource = "the running milter, pid \(pid)"
        }
        let user = account.map { SocketAccessCheck.User(name: $0.name, uid: $0.uid, gids: $0.groups) }
        // The group that opens the socket's directory to its members (postdrop).
        let directory = nodes.count >= 2 ? nodes[nodes.count - 2] : nil
        let members = directory.map { $0.mode & 0o010 != 0 && $0.mode & 0o001 == 0 ? UserAccount.members(ofGroup: $0.gid) : [] } ?? []
        return ReinjectionCheck.finding(reinject: federation.reinject, splits: splits, nodes: nodes, user: user,
                                        userSource: userSource, groupMembers: members, mtaUser: mtaUser,
                                        connectError: connectError)
    }

    /// The pid in the milter's PidFile when that process is alive and is fedmail-milter.
    static func runningMilterPID(_ configuration: MilterConfiguration) -> Int32? {
        guard let path = configuration.pidFile, let fd = try? FileIO.openRead(path) else { return nil }
        defer { FileIO.close(fd) }
        guard let bytes = try? FileIO.read(fd, count: 64, name: path),
              let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              comm.hasPrefix("fedmail-milter") else { return nil }
        return pid
    }

    /// Each path from `/` down to `path`, as `lstat` sees it (stops at the first missing one).
    static func pathNodes(_ path: String) -> [SocketAccessCheck.Node] {
        var nodes: [SocketAccessCheck.Node] = []
        var prefix = ""
        for component in [""] + path.split(separator: "/").map(String.init) {
            prefix = component.isEmpty ? "/" : (prefix == "/" ? "/" : prefix + "/") + component
            var info = stat()
            guard lstat(prefix, &info) == 0 else { break }
            let kind = info.st_mode & S_IFMT
            nodes.append(SocketAccessCheck.Node(
                path: prefix, mode: UInt32(info.st_mode) & 0o7777, uid: UInt32(info.st_uid), gid: UInt32(info.st_gid),
                ownerName: UserAccount.userName(UInt32(info.st_uid)) + ":" + UserAccount.groupName(UInt32(info.st_gid)),
                isDirectory: kind == S_IFDIR, isSocket: kind == S_IFSOCK))
        }
        return nodes
    }

    func checkMilterSocket(_ configuration: MilterConfiguration) -> DoctorFinding {
        let socket = configuration.socket
        let deadline = ContinuousClock.now + timeout
        guard let path = socket.unixPath else {
            var connectError: String?
            switch socket {
            case .inet(let port, let host):
                do { _ = try DeadlineSocket(host: host ?? "127.0.0.1", port: port, family: .ipv4, deadline: deadline) } catch { connectError = error.message }
            case .inet6(let port, let host):
                do { _ = try DeadlineSocket(host: host ?? "::1", port: port, family: .ipv6, deadline: deadline) } catch { connectError = error.message }
            case .unix:
                break
            }
            return SocketAccessCheck.finding(tcp: socket, connectError: connectError)
        }
        let nodes = Self.pathNodes(path)
        let user = UserAccount(named: mtaUser).map { SocketAccessCheck.User(name: $0.name, uid: $0.uid, gids: $0.groups) }
        var connectError: String?
        if nodes.last?.path == path, nodes.last?.isSocket == true {
            do { _ = try DeadlineSocket(unixPath: path, deadline: deadline) } catch { connectError = error.message }
        }
        var finding = SocketAccessCheck.finding(path: path, nodes: nodes, user: user, connectError: connectError)
        if user == nil, finding.status == .ok {
            finding = .warn("milter.socket", finding.message + "; the MTA user \(mtaUser) does not exist here, so its access was not checked",
                            fix: "give the user the MTA connects as with --mta-user")
        }
        return finding
    }
}
