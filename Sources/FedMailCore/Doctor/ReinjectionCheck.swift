/// `reinject`: the SMTP service without milters that takes the sealed copies
/// of split messages (`Reinject`). It delivers whatever it is handed, to
/// local mailboxes too, with no milter to remove forged verdicts or refuse a
/// `require` partner's From, so only the milter (and the MTA) may reach it:
/// a unix socket in Postfix's `public/` directory (the postfix user and the
/// postdrop group), not a TCP port every local process can connect to.
/// Pure: the probe `lstat`s the path and tries to connect.
public enum ReinjectionCheck {
    public static let id = "reinject"

    /// The fix for a TCP service or one anyone may reach.
    static let useUnixSocket = "use the unix socket of README.Debian: in master.cf 'fedmail-reinject unix n - y - - smtpd' with the same -o options, Reinject unix:/var/spool/postfix/public/fedmail-reinject, and the milter's user in group postdrop (adduser fedmail postdrop), then restart both"

    /// - Parameters:
    ///   - reinject: the `Reinject` setting.
    ///   - splits: whether the milter seals with `MixedRecipients split`.
    ///   - nodes: for a unix socket, its parent directories from `/` down
    ///     and the socket last (missing from the end when `lstat` failed).
    ///   - user: the milter's `UserID` user (nil: the milter runs as root,
    ///     or the user does not exist here).
    ///   - userSource: where `user`'s groups come from, for the message
    ///     (`the running milter, pid 123`; the group database otherwise).
    ///   - groupMembers: the users in the group that gives access to the
    ///     socket's directory (postdrop): any but the MTA's and the
    ///     milter's own can hand the service mail too.
    ///   - connectError: why connecting failed, nil when the service answered.
    public static func finding(reinject: SocketSpec?, splits: Bool, nodes: [SocketAccessCheck.Node],
                               user: SocketAccessCheck.User?, userSource: String? = nil,
                               groupMembers: [String] = [], mtaUser: String = "postfix",
                               connectError: String?) -> DoctorFinding {
        guard splits else {
            return .skip(id, "nothing is re-injected (the milter does not seal, or MixedRecipients is not split)")
        }
        guard let reinject else {
            return .fail(id, "MixedRecipients split without Reinject: every message for federated and other recipients at once is tempfailed",
                         fix: "set Reinject unix:/var/spool/postfix/public/fedmail-reinject (README.Debian), or MixedRecipients defer")
        }
        guard case .unix(let path) = reinject else {
            if let connectError {
                return .fail(id, "nothing accepts connections on Reinject \(reinject): \(connectError)", fix: useUnixSocket)
            }
            return .warn(id, "Reinject \(reinject) is a TCP port: any local user or process can hand mail to this service without milters, and it reaches local mailboxes with forged verdicts or a require partner's From", fix: useUnixSocket)
        }
        guard let socket = nodes.last, socket.path == path else {
            return .fail(id, "\(path) does not exist: the re-injection service is not configured or the MTA is not running", fix: useUnixSocket)
        }
        guard socket.isSocket else { return .fail(id, "\(path) exists but is not a socket", fix: useUnixSocket) }
        if let user {
            let who = userSource.map { "\(user.name) (\($0))" } ?? user.name
            for node in nodes.dropLast() where !SocketAccessCheck.allows(node, user, 1) {
                return .fail(id, "the milter's user \(who) cannot reach \(path): directory \(node.path) is mode 0\(String(node.mode & 0o7777, radix: 8)) \(node.ownerName)",
                             fix: "put \(user.name) in the directory's group (adduser \(user.name) postdrop for Postfix's public/) and restart the milter (a running process keeps the groups it started with)")
            }
            if !SocketAccessCheck.allows(socket, user, 2) {
                return .fail(id, "the milter's user \(user.name) cannot connect to \(path): it is mode 0\(String(socket.mode & 0o7777, radix: 8)) \(socket.ownerName)",
                             fix: "put \(user.name) in the socket's group and restart the milter")
            }
        }
        let anyone = SocketAccessCheck.User(name: "any local user", uid: UInt32.max - 1, gids: [])
        let everyoneReaches = nodes.dropLast().allSatisfy { SocketAccessCheck.allows($0, anyone, 1) } && SocketAccessCheck.allows(socket, anyone, 2)
        if let connectError {
            return .fail(id, "\(path) exists but nobody answers: \(connectError)", fix: "start the MTA (its re-injection service) and check its log")
        }
        if everyoneReaches {
            return .warn(id, "any local user can connect to \(path): mail handed to it skips every milter and reaches local mailboxes with forged verdicts",
                         fix: "keep the socket in a directory only the MTA and the milter may search (Postfix's public/, mode 0710 postfix:postdrop)")
        }
        let others = groupMembers.filter { $0 != mtaUser && $0 != user?.name }
        if !others.isEmpty {
            return .warn(id, "besides the milter, \(others.joined(separator: ", ")) can connect to \(path) through the group of its directory: mail handed to it skips every milter",
                         fix: "take them out of that group (deluser USER postdrop); Postfix's own programs reach their sockets through set-group-ID, not membership")
        }
        return .ok(id, "\(path) mode 0\(String(socket.mode & 0o7777, radix: 8)) \(socket.ownerName)\(user.map { ", usable by \($0.name)" } ?? ""), not by other local users; it accepts connections")
    }
}
