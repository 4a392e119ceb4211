internal import COpenSSL

/// An OpenSSL source/sink `BIO` whose bytes come from, or go to, Swift: the
/// two ends of a streaming chain, so that the stages of a seal hand their
/// bytes to each other in memory instead of through files.
///
/// OpenSSL does not check every I/O result of its own (`SMIME_crlf_copy`
/// ignores what `BIO_write` returns, and stops at the first failed
/// `BIO_read` as at end of input), so the first failure is kept here and
/// ``check()`` throws it once OpenSSL has returned: a sink that failed, or
/// a source that failed part way, never passes for a complete stream.
final class CallbackBIO {
    /// Fills the buffer with the next bytes; 0 at end of input.
    typealias Read = (UnsafeMutableRawBufferPointer) throws(CryptoError) -> Int
    /// Takes all of the bytes.
    typealias Write = (UnsafeRawBufferPointer) throws(CryptoError) -> Void

    private enum Role {
        case source(Read)
        case sink(Write)
    }

    /// The BIO, owned by this object (freed on deinit, alone: a chain built
    /// on it is taken apart by whoever built it).
    let pointer: OpaquePointer
    private let role: Role
    /// The first failure of `role`; every later call fails at once.
    private(set) var failure: CryptoError?

    /// A BIO that OpenSSL reads from.
    static func source(_ read: @escaping Read) throws(CryptoError) -> CallbackBIO {
        try CallbackBIO(role: .source(read))
    }

    /// A BIO that OpenSSL writes to.
    static func sink(_ write: @escaping Write) throws(CryptoError) -> CallbackBIO {
        try CallbackBIO(role: .sink(write))
    }

    private init(role: Role) throws(CryptoError) {
        guard let method = CallbackBIOMethod.shared?.pointer, let bio = BIO_new(method) else {
            throw CryptoError.openSSL("creating a streaming BIO")
        }
        self.pointer = bio
        self.role = role
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
    }

    deinit {
        BIO_set_data(pointer, nil)
        BIO_free(pointer)
    }

    /// Throws the failure of the source or sink, if there was one.
    func check() throws(CryptoError) {
        if let failure { throw failure }
    }

    fileprivate func read(into buffer: UnsafeMutableRawBufferPointer) -> Int32 {
        guard failure == nil, case .source(let read) = role else { return -1 }
        do {
            let count = try read(buffer)
            return Int32(min(max(count, 0), buffer.count))
        } catch {
            failure = error
            return -1
        }
    }

    fileprivate func write(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard failure == nil, case .sink(let write) = role else { return -1 }
        do {
            try write(bytes)
            return Int32(bytes.count)
        } catch {
            failure = error
            return -1
        }
    }

    fileprivate static func of(_ bio: OpaquePointer?) -> CallbackBIO? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<CallbackBIO>.fromOpaque(data).takeUnretainedValue()
    }
}

/// The `BIO_METHOD` of every ``CallbackBIO``, made once.
private struct CallbackBIOMethod: @unchecked Sendable {
    // An immutable method table, shared read-only by every thread once made.
    let pointer: OpaquePointer

    static let shared: CallbackBIOMethod? = {
        let index = BIO_get_new_index()
        guard index > 0, let method = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "fedmail streaming") else { return nil }
        BIO_meth_set_read(method) { bio, buffer, length in
            guard let owner = CallbackBIO.of(bio), let buffer, length >= 0 else { return -1 }
            return owner.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(length)))
        }
        BIO_meth_set_write(method) { bio, bytes, length in
            guard let owner = CallbackBIO.of(bio), let bytes, length >= 0 else { return -1 }
            return owner.write(UnsafeRawBufferPointer(start: bytes, count: Int(length)))
        }
        BIO_meth_set_ctrl(method) { bio, command, _, _ in
            // Nothing is buffered here: a flush is done as soon as asked
            // (unless the source or sink failed); nothing is pending; every
            // other request is unsupported.
            guard command == BIO_CTRL_FLUSH, let owner = CallbackBIO.of(bio) else { return 0 }
            return owner.failure == nil ? 1 : 0
        }
        return CallbackBIOMethod(pointer: method)
    }()
}

extension OpenSSLBIO {
    /// Takes apart a chain that OpenSSL built on top of `bottom` (e.g. by
    /// `BIO_new_CMS`): frees each filter from `top` down, and leaves
    /// `bottom`, which its owner frees.
    static func freeFilters(from top: OpaquePointer, downTo bottom: OpaquePointer) {
        var current: OpaquePointer? = top
        while let bio = current, bio != bottom {
            current = BIO_pop(bio)
            BIO_free(bio)
        }
    }
}
