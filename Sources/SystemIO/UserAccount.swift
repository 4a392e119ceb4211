#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A user from the system's user and group databases: its ids and every
/// group it is in, as the kernel applies them to a process started as it
/// (`initgroups`). For deciding what a user (the MTA's) may access.
public struct UserAccount: Sendable, Hashable {
    public var name: String
    public var uid: UInt32
    /// The primary group.
    public var gid: UInt32
    /// The primary and supplementary groups.
    public var groups: Set<UInt32>

    /// Looks `name` up; nil when there is no such user.
    public init?(named name: String) {
        guard let entry = getpwnam(name) else { return nil }
        self.name = name
        uid = UInt32(entry.pointee.pw_uid)
        gid = UInt32(entry.pointee.pw_gid)
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid_t(gid), &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid_t(gid), &list, &count)
        }
        groups = Set(list.prefix(Int(max(count, 0))).map { UInt32($0) }).union([gid])
    }

    /// The name of user `uid`, or the number.
    public static func userName(_ uid: UInt32) -> String {
        guard let entry = getpwuid(uid_t(uid)) else { return String(uid) }
        return String(cString: entry.pointee.pw_name)
    }

    /// The name of group `gid`, or the number.
    public static func groupName(_ gid: UInt32) -> String {
        guard let entry = getgrgid(gid_t(gid)) else { return String(gid) }
        return String(cString: entry.pointee.gr_name)
    }
}
