/// The HTTP side of `/metrics`, apart from the sockets: where a request head
/// ends and what it is answered.
enum MetricsRequest {
    /// The request line of a complete request head (ended by an empty
    /// line), or nil while it is incomplete.
    static func head(of bytes: [UInt8]) -> String? {
        let end: [UInt8] = [13, 10, 13, 10]
        let bareEnd: [UInt8] = [10, 10]
        var complete = false
        if bytes.count >= 4 {
            for index in 0...(bytes.count - 4) where Array(bytes[index..<index + 4]) == end { complete = true; break }
        }
        if !complete, bytes.count >= 2 {
            for index in 0...(bytes.count - 2) where Array(bytes[index..<index + 2]) == bareEnd { complete = true; break }
        }
        guard complete else { return nil }
        let line = bytes.prefix { $0 != 13 && $0 != 10 }
        return String(decoding: line, as: UTF8.self)
    }

    /// The status, body, and whether only the head is sent, for a request line.
    static func answer(to requestLine: String, exposition: () -> String) -> (status: String, body: String, headOnly: Bool) {
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return ("400 Bad Request", "bad request\n", false)
        }
        let method = parts[0]
        guard method == "GET" || method == "HEAD" else {
            return ("405 Method Not Allowed", "only GET /metrics\n", false)
        }
        let path = parts[1].prefix { $0 != "?" }
        guard path == "/metrics" else {
            return ("404 Not Found", "only GET /metrics\n", false)
        }
        return ("200 OK", exposition(), method == "HEAD")
    }
}
