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
        guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name),
              let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        var seen = 0
        while seen < limit, let entry = readdir(stream) {
            seen += 1
            // The name, read in place up to its NUL: a record is only as
            // long as its name, so copying the whole d_name array would
            // read past the last record of the C library's buffer.
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
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
