#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of the files in the milter's spool directories (the private
/// spool holds flat work files only), read at scrape time.
enum SpoolUsage {
    /// The most entries looked at per directory: a scrape stays cheap.
    static let maxEntries = 100_000

    static func bytes(in directories: [String]) -> Int {
        directories.reduce(0) { $0 + bytes(in: $1) }
    }

    static func bytes(in directory: String) -> Int {
        guard let handle = opendir(directory) else { return 0 }
        defer { closedir(handle) }
        var total = 0
        var seen = 0
        while seen < maxEntries, let entry = readdir(handle) {
            seen += 1
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            total += Int(info.st_size)
        }
        return total
    }
}
