import FedMailCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The user and group the daemon runs as after start-up (`UserID`).
public struct UserIdentity: Sendable, Hashable {
    /// The user name.
    public var user: String
    /// The numeric user id.
    public var uid: uid_t
    /// The numeric group id (the named group, or the user's primary group).
    public var gid: gid_t

    /// A `UserID` that cannot be resolved or applied.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var exitCode: ExitCode
        public var description: String { message }
    }

    /// Looks the user (and group) up in the system databases.
    public init(resolving spec: MilterConfiguration.UserSpec) throws(Failure) {
        guard let entry = getpwnam(spec.user) else {
            throw Failure(message: "no such user '\(spec.user)'", exitCode: .noUser)
        }
        user = spec.user
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
        if let group = spec.group {
            guard let groupEntry = getgrnam(group) else {
                throw Failure(message: "no such group '\(group)'", exitCode: .noUser)
            }
            gid = groupEntry.pointee.gr_gid
        }
    }

    /// Switches the process to this user and group for good: supplementary
    /// groups, then group, then user, and checks root cannot be regained.
    public func become() throws(Failure) {
        if getuid() == uid && geteuid() == uid && getgid() == gid { return }
        guard geteuid() == 0 else {
            throw Failure(message: "UserID \(user) needs the daemon to start as root", exitCode: .noPermission)
        }
        guard initgroups(user, gid) == 0 else { throw systemFailure("initgroups(\(user))") }
        guard setgid(gid) == 0 else { throw systemFailure("setgid(\(gid))") }
        guard setuid(uid) == 0 else { throw systemFailure("setuid(\(uid))") }
        if uid != 0, setuid(0) == 0 {
            throw Failure(message: "could regain root after dropping privileges", exitCode: .osError)
        }
    }

    private func systemFailure(_ call: String) -> Failure {
        Failure(message: "\(call) failed: \(String(cString: strerror(errno)))", exitCode: .osError)
    }
}
