/// Whether the MTA's user can connect to the milter's unix socket: search
/// (x) permission on every directory above it and write permission on the
/// socket itself, by the owner, group and other bits as the kernel applies
/// them (root may do anything). Pure: the probe `lstat`s each path.
public enum SocketAccessCheck {
    /// One path from `/` down to the socket, as `lstat` saw it.
    public struct Node: Sendable, Hashable {
        public var path: String
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        /// `owner:group` for messages.
        public var ownerName: String
        public var isDirectory: Bool
        public var isSocket: Bool

        public init(path: String, mode: UInt32, uid: UInt32, gid: UInt32, ownerName: String, isDirectory: Bool, isSocket: Bool) {
            self.path = path
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.ownerName = ownerName
            self.isDirectory = isDirectory
            self.isSocket = isSocket
        }
    }

    /// The user the MTA connects as.
    public struct User: Sendable, Hashable {
        public var name: String
        public var uid: UInt32
        /// Its primary and supplementary groups.
        public var gids: Set<UInt32>

        public init(name: String, uid: UInt32, gids: Set<UInt32>) {
            self.name = name
            self.uid = uid
            self.gids = gids
        }
    }

    /// Whether `user` has `bit` (4 read, 2 write, 1 search/execute) on `node`.
    public static func allows(_ node: Node, _ user: User, _ bit: UInt32) -> Bool {
        if user.uid == 0 { return true }
        if node.uid == user.uid { return node.mode & (bit << 6) != 0 }
        if user.gids.contains(node.gid) { return node.mode & (bit << 3) != 0 }
        return node.mode & bit != 0
    }

    /// `milter.socket` for a unix socket at `path`: `nodes` are its parent
    /// directories from `/` down and the socket last (missing from the end
    /// when `lstat` failed there); `connectError` is why connecting to it
    /// failed, nil when the milter accepted the connection.
    public static func finding(path: String, nodes: [Node], user: User?, connectError: String?) -> DoctorFinding {
        let id = "milter.socket"
        guard let socket = nodes.last, socket.path == path else {
            let existing = nodes.last?.path ?? "/"
            return .fail(id, "\(path) does not exist (\(existing) does): the milter is not running, or its Socket is elsewhere",
                         fix: "start the milter (systemctl start fedmail-milter; `fedmail-milter -n` checks its configuration) and check its log")
        }
        guard socket.isSocket else {
            return .fail(id, "\(path) exists but is not a socket", fix: "remove \(path) and restart the milter")
        }
        if let user {
            for node in nodes.dropLast() where !allows(node, user, 1) {
                return .fail(id, "the MTA user \(user.name) cannot reach \(path): directory \(node.path) is mode 0\(String(node.mode & 0o7777, radix: 8)) \(node.ownerName)",
                             fix: "let \(user.name) search \(node.path) (e.g. chgrp \(user.name) \(node.path) && chmod g+x \(node.path)), or move the Socket")
            }
            if !allows(socket, user, 2) {
                return .fail(id, "the MTA user \(user.name) cannot connect to \(path): it is mode 0\(String(socket.mode & 0o7777, radix: 8)) \(socket.ownerName)",
                             fix: "run the milter with UserID \(user.name) (or a group \(user.name) is in, e.g. UserID fedmail:\(user.name)) and UMask 007, then restart it")
            }
        }
        let access = user.map { ", usable by \($0.name)" } ?? ""
        if let connectError {
            return .fail(id, "\(path) exists\(access) but nobody answers: \(connectError) (a stale socket of a stopped milter)",
                         fix: "start the milter (systemctl start fedmail-milter) and check its log")
        }
        return .ok(id, "\(path) mode 0\(String(socket.mode & 0o7777, radix: 8)) \(socket.ownerName)\(access); the milter accepts connections")
    }

    /// `milter.socket` for a TCP `socket`: whether the milter accepted a connection.
    public static func finding(tcp socket: SocketSpec, connectError: String?) -> DoctorFinding {
        guard let connectError else {
            return .ok("milter.socket", "\(socket): the milter accepts connections")
        }
        return .fail("milter.socket", "nothing accepts connections on \(socket): \(connectError)",
                     fix: "start the milter (systemctl start fedmail-milter), check its log and that its Socket is this one")
    }
}
