#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileIO {
    /// The names of the entries of `directory`, "." and ".." left out, in
    /// the order the file system gives them; at most `limit` entries are
    /// looked at (a caller on a hot path stays cheap whatever the
    /// directory holds). Empty when the directory cannot be read.
    public static func names(in directory: String, limit: Int = .max) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        var seen = 0
        while seen < limit, let entry = readdir(stream) {
            seen += 1
            // d_name is a fixed array ended by a NUL: its bytes up to that NUL.
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The size of the regular file at `path`, a symbolic link not
    /// followed; nil for anything else (or nothing there).
    public static func regularFileSize(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(info.st_size)
    }
}
