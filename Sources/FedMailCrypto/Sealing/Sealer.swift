internal import COpenSSL
import FedMailCore
import SystemIO
import Foundation

/// Seals messages (DESIGN.md "Sealed message format (version 1)"): sign
/// with the sender organization key, then encrypt once with AES-256-GCM to
/// every recipient organization. Works from files, so a 50 MB message
/// needs no more memory than a small one.
public struct Sealer: Sendable {
    /// The sender organization's key and certificate.
    public var signer: OrganizationIdentity
    /// Where private (0600) intermediate files go; `$TMPDIR` or `/tmp` when nil.
    public var temporaryDirectory: String?

    public init(signer: OrganizationIdentity, temporaryDirectory: String? = nil) {
        self.signer = signer
        self.temporaryDirectory = temporaryDirectory
    }

    /// Seals the message in the file at `originalPath` into `outputPath`.
    ///
    /// - Parameters:
    ///   - originalPath: the original message, exactly as received.
    ///   - outputPath: where the sealed message is written (replaced).
    ///   - recipients: one entry per recipient organization.
    ///   - control: the control flags (its `tokens` list the token ids). Every
    ///     recipient organization is named in its `recipients` (signed, so
    ///     the message is bound to them): one without an entry is added
    ///     with the domains its certificate names.
    ///   - tokens: `FedMail-Token` header fields to add, one per organization.
    ///   - protectSubject: put `Subject: [sealed]` outside, the real one only inside.
    public func seal(originalPath: String, outputPath: String, recipients: [RecipientOrganization],
                     control: ControlFlags, tokens: [FedMailTokenHeader] = [],
                     protectSubject: Bool = false, signingTime: Int64? = nil) throws(CryptoError) {
        guard !recipients.isEmpty else { throw CryptoError(code: .badInput, message: "no recipient organization") }
        try signer.certificate.validateForFedMail(source: "signer certificate")
        let header = try Self.readHeaderSection(path: originalPath)
        var control = control
        for organization in recipients where !control.recipients.contains(where: { $0.keyId == organization.keyIdentifierHex }) {
            control.recipients.append(.init(keyId: organization.keyIdentifierHex, domains: organization.certifiedDomains))
        }

        // 1. Inner multipart/mixed: the exact original + the control JSON.
        let inner = try PrivateTemporaryFile.make(directory: temporaryDirectory, prefix: ".fedmail-inner-")
        try writeInnerEntity(originalPath: originalPath, to: inner.path, control: control)

        // 2. Sign (opaque SignedData, S/MIME entity).
        let signed = try PrivateTemporaryFile.make(directory: temporaryDirectory, prefix: ".fedmail-signed-")
        try CMSSigning.sign(inputPath: inner.path, outputPath: signed.path, signer: signer, signingTime: signingTime)

        // 3. Encrypt (AuthEnvelopedData, DER).
        let der = try PrivateTemporaryFile.make(directory: temporaryDirectory, prefix: ".fedmail-der-")
        try CMSEnveloping.encrypt(inputPath: signed.path, outputPath: der.path, recipients: recipients)

        // 4. Outer header + base64 body, line ends as in the original.
        let outer = SealedMessageHeaders.build(original: header, protectSubject: protectSubject, tokens: tokens)
        let fd = try FileDescriptorIO.openWrite(outputPath, mode: 0o644)
        defer { close(fd) }
        try FileDescriptorIO.writeAll(fd: fd, outer, name: outputPath)
        try Base64Stream.encode(inputPath: der.path, to: fd, lineEnding: header.lineEnding.bytes, outputName: outputPath)
    }

    /// Writes the inner entity, choosing a boundary that does not occur in the original.
    func writeInnerEntity(originalPath: String, to path: String, control: ControlFlags) throws(CryptoError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json: [UInt8]
        do { json = [UInt8](try encoder.encode(control)) } catch {
            throw CryptoError(code: .badInput, message: "control flags do not encode: \(error)")
        }
        for _ in 0..<4 {
            var random = [UInt8](repeating: 0, count: 18)
            guard RAND_bytes(&random, Int32(random.count)) == 1 else { throw CryptoError.openSSL("RAND_bytes") }
            let entity = SealedInnerEntity(boundary: "=_fedmail_" + Hex.encode(random))
            let input = try FileDescriptorIO.openRead(originalPath)
            defer { close(input) }
            let output = try FileDescriptorIO.openWrite(path)
            defer { close(output) }
            let prefix = entity.prefix
            try FileDescriptorIO.writeAll(fd: output, prefix, name: path)
            // The CRLF ending the part header precedes the original: scan from it.
            var scanner = PatternScanner(pattern: entity.delimiterPattern)
            scanner.feed([10])
            while true {
                let chunk = try FileDescriptorIO.read(fd: input, count: FileDescriptorIO.chunkSize, name: originalPath)
                if chunk.isEmpty { break }
                scanner.feed(chunk)
                try FileDescriptorIO.writeAll(fd: output, chunk, name: path)
            }
            if scanner.match != nil { continue } // boundary collision: pick another
            try FileDescriptorIO.writeAll(fd: output, entity.suffix(controlJSON: json), name: path)
            return
        }
        throw CryptoError(code: .badInput, message: "no usable MIME boundary found for the original")
    }

    /// Reads and parses the header section at the start of a message file.
    static func readHeaderSection(path: String, limit: Int = 8 << 20) throws(CryptoError) -> MessageHeaderSection {
        let fd = try FileDescriptorIO.openRead(path)
        defer { close(fd) }
        let header = try MessageHeaderSection.read(limit: limit) { () throws(CryptoError) in
            try FileDescriptorIO.read(fd: fd, count: 256 * 1024, name: path)
        }
        guard header.fields.contains(where: { !$0.name.isEmpty }) else {
            throw CryptoError(code: .badInput, message: "\(path) does not start with a message header section")
        }
        return header
    }
}
