internal import COpenSSL
import FedMailCore
import Foundation

/// Splitting an S/MIME `multipart/signed` entity (RFC 8551 §3.5.3) by
/// itself, byte-exactly: OpenSSL's own parser rewrites the line endings of
/// the signed part, which breaks signatures made in binary mode.
enum MultipartSignedEntity {
    /// The first offset ≥ `from` where `pattern` occurs in the file, streaming.
    static func firstOffset(of pattern: [UInt8], fd: Int32, from: Int, name: String) throws(CryptoError) -> Int? {
        guard lseek(fd, off_t(from), SEEK_SET) >= 0 else { throw CryptoError(code: .io, message: "seeking \(name)") }
        var scanner = PatternScanner(pattern: pattern)
        while scanner.match == nil {
            let chunk = try FileDescriptorIO.read(fd: fd, count: FileDescriptorIO.chunkSize, name: name)
            if chunk.isEmpty { break }
            scanner.feed(chunk)
        }
        return scanner.match.map { from + $0 }
    }

    /// Writes the signed content (first part) to `contentPath` and returns the
    /// detached SignedData of the second part.
    static func split(path: String, header: MessageHeaderSection, boundary: String, contentPath: String) throws -> CMSContentInfo {
        let fd = try FileDescriptorIO.openRead(path)
        defer { close(fd) }
        let delimiter = Array("\n--\(boundary)".utf8)
        func find(from: Int) throws -> Int? {
            try firstOffset(of: delimiter, fd: fd, from: from, name: path)
        }
        func lineEnd(after offset: Int) throws -> Int {
            guard let lf = try firstOffset(of: [10], fd: fd, from: offset, name: path) else {
                throw OpenError(.badSignature, "multipart/signed entity is truncated")
            }
            return lf + 1
        }
        guard let first = try find(from: max(0, header.length - 1)) else {
            throw OpenError(.badSignature, "multipart/signed entity has no parts")
        }
        let contentStart = try lineEnd(after: first + 1)
        guard let second = try find(from: contentStart - 1) else {
            throw OpenError(.badSignature, "multipart/signed entity has no signature part")
        }
        var contentEnd = max(second, contentStart)
        if contentEnd > contentStart {
            try FileDescriptorIO.seek(fd, to: contentEnd - 1, name: path)
            if try FileDescriptorIO.read(fd: fd, count: 1, name: path) == [13] { contentEnd -= 1 }
        }
        let out = try FileDescriptorIO.openWrite(contentPath)
        defer { close(out) }
        try FileDescriptorIO.copy(from: fd, offset: contentStart, length: contentEnd - contentStart, to: out, name: path)
        // The signature part: small; read at most 1 MiB.
        let partStart = try lineEnd(after: second + 1)
        try FileDescriptorIO.seek(fd, to: partStart, name: path)
        let part = try FileDescriptorIO.read(fd: fd, count: 1 << 20, name: path)
        let partHeader = MessageHeaderSection.parse(part)
        guard partHeader.hasSeparator, let ct = partHeader.first("Content-Type").flatMap({ MIMEContentType.parse($0.value) }),
              ct.mediaType == "application/pkcs7-signature" || ct.mediaType == "application/x-pkcs7-signature" else {
            throw OpenError(.badSignature, "the second part of multipart/signed is not application/pkcs7-signature")
        }
        var body = Array(part[partHeader.length...])
        if let end = PatternScanner.firstIndex(of: delimiter, in: body) { body.removeSubrange(end...) }
        let text = body.filter { !($0 == 13 || $0 == 10 || $0 == 32 || $0 == 9) }
        guard let der = Data(base64Encoded: Data(text)), !der.isEmpty else {
            throw OpenError(.badSignature, "the signature part is not valid base64")
        }
        try SignedDataShape.check(contentInfo: [UInt8](der))
        let bio = try OpenSSLBIO.memory([UInt8](der))
        guard let cms = d2i_CMS_bio(bio.pointer, nil) else {
            throw OpenError(.badSignature, "the signature part is not CMS (\(OpenSSLErrorQueue.drain()))")
        }
        return CMSContentInfo(taking: cms)
    }
}
