/// Calls `body` with a NUL-terminated, writable copy of `string`, for the
/// libmilter functions declared with `char *` parameters. The copy lives
/// only for the call.
func withMutableCString<R>(_ string: String, _ body: (UnsafeMutablePointer<CChar>) throws -> R) rethrows -> R {
    var bytes = Array(string.utf8CString)
    return try bytes.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
}

/// Like ``withMutableCString(_:_:)`` for an optional string: `nil` passes NULL.
func withOptionalMutableCString<R>(_ string: String?, _ body: (UnsafeMutablePointer<CChar>?) throws -> R) rethrows -> R {
    guard let string else { return try body(nil) }
    return try withMutableCString(string) { try body($0) }
}

/// Calls `body` with a NUL-terminated, writable copy of `bytes`, passed
/// as they are (no decoding, no encoding). `bytes` must not contain NUL
/// (callers validate). The copy lives only for the call.
func withMutableCString<R>(bytes: some Collection<UInt8>, _ body: (UnsafeMutablePointer<CChar>) throws -> R) rethrows -> R {
    var copy = [CChar]()
    copy.reserveCapacity(bytes.count + 1)
    for byte in bytes { copy.append(CChar(bitPattern: byte)) }
    copy.append(0)
    return try copy.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
}
