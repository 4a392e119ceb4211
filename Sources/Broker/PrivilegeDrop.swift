import Foundation

/// Dropping root privileges once the listening socket is bound (OpenDKIM's `UserID`).
public enum PrivilegeDrop {
    /// Switches to `spec` (`user` or `user:group`) when running as root; a no-op otherwise.
    public static func drop(to spec: String) throws {
        guard geteuid() == 0 else { return }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard let user = parts.first, let entry = getpwnam(user) else {
            throw BrokerError(.badRequest, "UserID: no user '\(parts.first ?? spec)'")
        }
        var gid = entry.pointee.pw_gid
        let uid = entry.pointee.pw_uid
        if parts.count == 2 {
            guard let group = getgrnam(parts[1]) else { throw BrokerError(.badRequest, "UserID: no group '\(parts[1])'") }
            gid = group.pointee.gr_gid
        }
        var groups = [gid]
        guard setgroups(1, &groups) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw BrokerError(.internalError, "cannot switch to \(spec): \(String(cString: strerror(errno)))")
        }
        guard setuid(0) != 0 else {
            throw BrokerError(.internalError, "privileges could be regained after switching to \(spec)")
        }
    }
}
