internal import COpenSSL

/// An OpenSSL `BIO` owned by Swift: freed on deinit.
final class OpenSSLBIO {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { BIO_free_all(pointer) }

    /// A file BIO (`mode` as for fopen: `rb`, `wb`) under a 256 KiB buffer:
    /// OpenSSL's streaming reads and writes 1 to 4 KiB at a time, a system
    /// call each without it. A writer must end with ``flush()``: freeing
    /// the chain drops what the buffer still holds — on purpose, so that
    /// the tail of a decryption that failed never reaches the file.
    static func file(_ path: String, mode: String) throws(CryptoError) -> OpenSSLBIO {
        guard let file = BIO_new_file(path, mode) else {
            throw CryptoError.openSSL("cannot open \(path)", code: .io)
        }
        guard let buffer = BIO_new(BIO_f_buffer()) else {
            BIO_free_all(file)
            throw CryptoError.openSSL("BIO_new")
        }
        let chain = OpenSSLBIO(taking: BIO_push(buffer, file) ?? buffer)
        guard BIO_ctrl(buffer, BIO_C_SET_BUFF_SIZE, 256 * 1024, nil) == 1 else { throw CryptoError.openSSL("BIO buffer size") }
        return chain
    }

    /// A read-only memory BIO over a copy of `bytes`.
    static func memory(_ bytes: [UInt8]) throws(CryptoError) -> OpenSSLBIO {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openSSL("BIO_new") }
        let written = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
        guard written == bytes.count || bytes.isEmpty else {
            BIO_free(bio)
            throw CryptoError.openSSL("BIO_write")
        }
        return OpenSSLBIO(taking: bio)
    }

    /// An empty, writable memory BIO.
    static func memory() throws(CryptoError) -> OpenSSLBIO {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openSSL("BIO_new") }
        return OpenSSLBIO(taking: bio)
    }

    /// The contents of a memory BIO.
    var memoryContents: [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let length = fedmail_BIO_get_mem_data(pointer, &data)
        guard let data, length > 0 else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    func flush() throws(CryptoError) {
        guard fedmail_BIO_flush(pointer) == 1 else { throw CryptoError.openSSL("flushing output", code: .io) }
    }
}
