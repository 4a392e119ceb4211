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
