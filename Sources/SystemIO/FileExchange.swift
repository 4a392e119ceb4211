#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileIO {
    /// `renameat2(2)`, looked up once in the C library (glibc 2.28 and
    /// later have it; Swift's Glibc module does not declare it).
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    nonisolated(unsafe) private static let renameAt2: RenameAt2? = {
        #if os(Linux)
        guard let symbol = dlsym(nil, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()
    /// RENAME_EXCHANGE (linux/fs.h).
    private static let renameExchange: UInt32 = 1 << 1

    /// Puts the file at `source` at `destination`, atomically, as
    /// `rename(2)` does. When `destination` already is a file, the two are
    /// swapped instead (`RENAME_EXCHANGE`) and true is returned: the old
    /// file is then at `source`, for the caller to discard — in a directory
    /// that recycles its work files (``RecycledTemporaryFiles``) it is
    /// emptied and reused rather than deleted, so replacing a work file
    /// costs no inode. False: a plain rename (nothing was at
    /// `destination`, or the file system cannot swap); `source` is gone.
    ///
    /// - Throws: ``SystemIOError`` when neither works.
    public static func replace(_ destination: String, with source: String) throws(SystemIOError) -> Bool {
        if let renameAt2, renameAt2(AT_FDCWD, source, AT_FDCWD, destination, renameExchange) == 0 { return true }
        guard rename(source, destination) == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot move \(source) to \(destination): \(String(cString: strerror(code)))", errorNumber: code)
        }
        return false
    }
}
