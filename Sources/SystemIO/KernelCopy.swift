#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileIO {
    /// `copy_file_range(2)`, looked up once in the C library (glibc 2.27
    /// and later; Swift's Glibc module does not declare it).
    private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    private static let copyFileRange: CopyFileRange? = {
        #if os(Linux)
        guard let symbol = dlsym(nil, "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
        #else
        return nil
        #endif
    }()

    /// Copies up to `count` bytes from where `source` stands to where `fd`
    /// stands inside the kernel (`copy_file_range`: no trip through this
    /// process's memory), moving both offsets; returns how many it copied.
    /// Stops at the end of `source`, and early — returning what it did —
    /// wherever the kernel will not copy (not two regular files, an
    /// append-only output, another file system on an old kernel) or an
    /// error occurs: the caller copies the rest itself, where a real I/O
    /// error shows again and is reported.
    static func copyInKernel(from source: Int32, to fd: Int32, count: Int) -> Int {
        guard let copyFileRange else { return 0 }
        var copied = 0
        while copied < count {
            let step = copyFileRange(source, nil, fd, nil, min(count - copied, 1 << 30), 0)
            if step > 0 {
                copied += step
            } else if step < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return copied
    }
}
