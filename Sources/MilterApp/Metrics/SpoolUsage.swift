#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemIO

/// The bytes of the files in the milter's spool directories (the private
/// spool holds flat work files only), read at scrape time.
enum SpoolUsage {
    /// The most entries looked at per directory: a scrape stays cheap.
    static let maxEntries = 100_000

    static func bytes(in directories: [String]) -> Int {
        directories.reduce(0) { $0 + bytes(in: $1) }
    }

    static func bytes(in directory: String) -> Int {
        FileIO.names(in: directory, limit: maxEntries).reduce(0) { $0 + (FileIO.regularFileSize(directory + "/" + $1) ?? 0) }
    }
}
