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

extension UserAccount {
    /// The users in group `gid`: its listed members and the users whose
    /// primary group it is, each once, sorted.
    public static func members(ofGroup gid: UInt32) -> [String] {
        var names = Set<String>()
        if let entry = getgrgid(gid_t(gid)), var member = entry.pointee.gr_mem {
            while let name = member.pointee {
                names.insert(String(cString: name))
                member += 1
            }
        }
        setpwent()
        while let entry = getpwent() {
            if UInt32(entry.pointee.pw_gid) == gid { names.insert(String(cString: entry.pointee.pw_name)) }
        }
        endpwent()
        return names.sorted()
    }

    /// The user and groups of running process `pid` as the kernel applies
    /// them (`/proc/PID/status`: effective uid, effective gid and the
    /// supplementary groups), named `name`; nil when it cannot be read.
    public static func ofProcess(_ pid: Int32, name: String) -> UserAccount? {
        let path = "/proc/\(pid)/status"
        guard let fd = try? FileIO.openRead(path) else { return nil }
        defer { FileIO.close(fd) }
        guard let bytes = try? FileIO.read(fd, count: 65_536, name: path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        var uid: UInt32?, gid: UInt32?, groups = Set<UInt32>()
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let key = fields.first else { continue }
            let numbers = fields.dropFirst().compactMap { UInt32($0) }
            switch key {
            case "Uid:" where numbers.count > 1: uid = numbers[1]
            case "Gid:" where numbers.count > 1: gid = numbers[1]
            case "Groups:": groups = Set(numbers)
            default: break
            }
        }
        guard let uid, let gid else { return nil }
        return UserAccount(name: name, uid: uid, gid: gid, groups: groups.union([gid]))
    }

    public init(name: String, uid: UInt32, gid: UInt32, groups: Set<UInt32>) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }
}
