#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The user and group a daemon runs as after start-up (`UserID user[:group]`
/// of the milter and the broker), and the one way FedMail switches to them:
/// supplementary groups (`initgroups`), then group, then user, then a check
/// that root cannot be regained.
public struct ProcessUser: Sendable, Hashable {
    /// The user name.
    public var user: String
    /// The numeric user id.
    public var uid: uid_t
    /// The numeric group id (the named group, or the user's primary group).
    public var gid: gid_t

    /// Why a user or group cannot be resolved or switched to.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// No such user or group.
            case unknown
            /// Switching needs root, and the process is not.
            case notRoot
            /// A system call failed, or root could be regained.
            case system
        }
        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    public init(user: String, uid: uid_t, gid: gid_t) {
        self.user = user
        self.uid = uid
        self.gid = gid
    }

    /// Looks `user` (and `group`, else the user's primary group) up in the
    /// system databases.
    public init(resolving user: String, group: String? = nil) throws(Failure) {
        guard !user.isEmpty, let entry = getpwnam(user) else {
            throw Failure(kind: .unknown, message: "no such user '\(user)'")
        }
        self.user = user
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
        if let group {
            guard let groupEntry = getgrnam(group) else {
                throw Failure(kind: .unknown, message: "no such group '\(group)'")
            }
            gid = groupEntry.pointee.gr_gid
        }
    }

    /// Looks up `user[:group]`.
    public init(resolvingSpec spec: String) throws(Failure) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        try self.init(resolving: parts.first ?? "", group: parts.count == 2 ? parts[1] : nil)
    }

    /// Switches the process to this user and group for good. A no-op when
    /// it already runs as them.
    public func become() throws(Failure) {
        if getuid() == uid && geteuid() == uid && getgid() == gid { return }
        guard geteuid() == 0 else {
            throw Failure(kind: .notRoot, message: "UserID \(user) needs the daemon to start as root")
        }
        guard initgroups(user, gid) == 0 else { throw Self.systemFailure("initgroups(\(user))") }
        guard setgid(gid) == 0 else { throw Self.systemFailure("setgid(\(gid))") }
        guard setuid(uid) == 0 else { throw Self.systemFailure("setuid(\(uid))") }
        if uid != 0, setuid(0) == 0 {
            throw Failure(kind: .system, message: "could regain root after dropping privileges to \(user)")
        }
    }

    private static func systemFailure(_ call: String) -> Failure {
        Failure(kind: .system, message: "\(call) failed: \(String(cString: strerror(errno)))")
    }
}
