internal import COpenSSL
import FedMailCore
import SystemIO
import Foundation

/// Seals messages (DESIGN.md "Sealed message format (version 1)"): sign
/// with the sender organization key, then encrypt once with AES-256-GCM to
/// every recipient organization, in one streaming pass from the original's
/// file to the output's, so a 50 MB message needs no more memory than a
/// small one and no intermediate file.
public struct Sealer: Sendable {
    /// The sender organization's key and certificate.
    public var signer: OrganizationIdentity
    public init(signer: OrganizationIdentity) {
        self.signer = signer
    }

    /// Seals the message in the file at `originalPath` into `outputPath`
    /// (``seal(_:outputPath:recipients:control:tokens:protectSubject:signingTime:)``
    /// of a whole-message file).
    public func seal(originalPath: String, outputPath: String, recipients: [RecipientOrganization],
                     control: ControlFlags, tokens: [FedMailTokenHeader] = [],
                     protectSubject: Bool = false, signingTime: Int64? = nil) throws(CryptoError) {
        try seal(.file(path: originalPath), outputPath: outputPath, recipients: recipients, control: control,
                 tokens: tokens, protectSubject: protectSubject, signingTime: signingTime)
    }

    /// Seals `original` into `outputPath`.
    ///
    /// - Parameters:
    ///   - original: the original message, exactly as received: one file,
    ///     or a milter's header section and spooled body (read where they
    ///     are, not written out first).
    ///   - outputPath: where the sealed message is written (replaced).
    ///   - recipients: one entry per recipient organization.
    ///   - control: the control flags (its `tokens` list the token ids). Every
    ///     recipient organization is named in its `recipients` (signed, so
    ///     the message is bound to them): one without an entry is added
    ///     with the domains its certificate names.
    ///   - tokens: `FedMail-Token` header fields to add, one per organization.
    ///   - protectSubject: put `Subject: [sealed]` outside, the real one only inside.
    public func seal(_ original: MessageInput, outputPath: String, recipients: [RecipientOrganization],
                     control: ControlFlags, tokens: [FedMailTokenHeader] = [],
                     protectSubject: Bool = false, signingTime: Int64? = nil) throws(CryptoError) {
        let seal = try prepare(original, recipients: recipients, control: control, tokens: tokens,
                               protectSubject: protectSubject, signingTime: signingTime)
        // A boundary found in the original (never, in practice: 144 random
        // bits) makes it again, over an emptied file.
        try Self.withUsableBoundary(original: original, controlJSON: seal.controlJSON) { (reader) throws(CryptoError) in
            let fd = try FileDescriptorIO.openWrite(outputPath, mode: 0o644)
            defer { FileDescriptorIO.close(fd) }
            do throws(CryptoError) {
                try FileDescriptorIO.writeAll(fd: fd, seal.header, name: outputPath)
                let whole = try seal.writeBody(from: reader) { (bytes) throws(CryptoError) in
                    try FileDescriptorIO.writeAll(fd: fd, bytes, name: outputPath)
                }
                if whole { return true }
            } catch {
                ftruncate(fd, 0) // a failed seal leaves no part of a sealed message
                throw error
            }
            ftruncate(fd, 0) // never a sealed message whose boundary the original holds
            return false
        }
    }

    /// Checks what a seal of `original` needs and makes its header section,
    /// for a caller that hands the sealed message on as it is made (a
    /// milter replacing the message): everything that can fail before the
    /// first byte of the body fails here, so a caller that changes
    /// nothing until this returned has changed nothing on such a failure.
    /// Then ``PreparedSeal/header`` and ``PreparedSeal/writeBody(_:)``.
    ///
    /// - Parameters: as ``seal(_:outputPath:recipients:control:tokens:protectSubject:signingTime:)``.
    public func prepare(_ original: MessageInput, recipients: [RecipientOrganization], control: ControlFlags,
                        tokens: [FedMailTokenHeader] = [], protectSubject: Bool = false,
                        signingTime: Int64? = nil) throws(CryptoError) -> PreparedSeal {
        guard !recipients.isEmpty else { throw CryptoError(code: .badInput, message: "no recipient organization") }
        try signer.certificate.validateForFedMail(source: "signer certificate")
        let header = try Self.sealableHeader(of: original)
        var control = control
        for organization in recipients where !control.recipients.contains(where: { $0.keyId == organization.keyIdentifierHex }) {
            control.recipients.append(.init(keyId: organization.keyIdentifierHex, domains: organization.certifiedDomains))
        }
        let outer = SealedMessageHeaders.build(original: header, protectSubject: protectSubject, tokens: tokens)
        guard outer.count <= SealedMessageHeaders.sectionLimit else {
            throw CryptoError(code: .unsealableOriginal, message: "the header fields a seal copies outside (From, To, Cc, Subject, ...) "
                              + "come to \(outer.count) bytes, over the \(SealedMessageHeaders.sectionLimit) an opener reads")
        }
        return PreparedSeal(sealer: self, original: original, recipients: recipients, signingTime: signingTime,
                            controlJSON: try Self.controlJSON(control), header: outer, lineEnding: header.lineEnding.bytes)
    }

    /// The header section of `original` when it is one FedMail seals: one
    /// that ends within the read limit and whose fields read the same to
    /// every reader — the rules the opener applies, so nothing is sealed
    /// that the partner must refuse. `unsealableOriginal` otherwise; a
    /// file that cannot be read stays `io`.
    static func sealableHeader(of original: MessageInput) throws(CryptoError) -> MessageHeaderSection {
        let header: MessageHeaderSection
        do { header = try original.headerSection() } catch {
            throw error.code == .badInput ? CryptoError(code: .unsealableOriginal, message: error.message) : error
        }
        if let ambiguous = header.ambiguousByte {
            throw CryptoError(code: .unsealableOriginal, message: "the header section has \(ambiguous)")
        }
        return header
    }

    /// Runs `attempt` with a reader of the inner entity under a fresh
    /// random boundary until it returns true (it returns false when the
    /// original turned out to hold that boundary's delimiter: it must leave
    /// nothing of that entity behind); after four such attempts (never, in
    /// practice: 144 random bits) the original is refused.
    static func withUsableBoundary(original: MessageInput, controlJSON: [UInt8],
                                   _ attempt: (InnerEntityReader) throws(CryptoError) -> Bool) throws(CryptoError) {
        for _ in 0..<4 {
            let reader = try InnerEntityReader(entity: try randomInnerEntity(), controlJSON: controlJSON, original: original)
            if try attempt(reader) { return }
        }
        throw CryptoError(code: .badInput, message: "no usable MIME boundary found for the original")
    }

    /// Signs what `source` gives (to its end) as an S/MIME entity, and
    /// encrypts that into `sink` as AuthEnvelopedData (DER): the middle of a
    /// seal. A failure of the source or the sink is thrown as itself, not
    /// as the OpenSSL failure it caused (or as nothing, where OpenSSL does
    /// not check).
    static func signAndEncrypt(from source: CallbackBIO, to sink: CallbackBIO, signer: OrganizationIdentity,
                               recipients: [RecipientOrganization], signingTime: Int64?) throws(CryptoError) {
        do {
            try withExtendedLifetime((source, sink)) { () throws(CryptoError) in
                try CMSEnveloping.encrypt(to: sink.pointer, recipients: recipients) { (plaintext) throws(CryptoError) in
                    try CMSSigning.sign(from: source.pointer, to: plaintext, signer: signer, signingTime: signingTime)
                    try source.check()
                }
            }
        } catch {
            try source.check()
            try sink.check()
            throw error
        }
        try sink.check()
    }

    /// The control flags as signed: JSON, keys sorted.
    static func controlJSON(_ control: ControlFlags) throws(CryptoError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return [UInt8](try encoder.encode(control)) } catch {
            throw CryptoError(code: .badInput, message: "control flags do not encode: \(error)")
        }
    }

    /// An inner entity with a fresh random boundary.
    static func randomInnerEntity() throws(CryptoError) -> SealedInnerEntity {
        var random = [UInt8](repeating: 0, count: 18)
        guard RAND_bytes(&random, Int32(random.count)) == 1 else { throw CryptoError.openSSL("RAND_bytes") }
        return SealedInnerEntity(boundary: "=_fedmail_" + Hex.encode(random))
    }

    /// Writes the inner entity alone to `path` (what ``seal(originalPath:outputPath:recipients:control:tokens:protectSubject:signingTime:)``
    /// signs without writing it; tests build altered sealed messages from it).
    func writeInnerEntity(originalPath: String, to path: String, control: ControlFlags) throws(CryptoError) {
        let json = try Self.controlJSON(control)
        try Self.withUsableBoundary(original: .file(path: originalPath), controlJSON: json) { (reader) throws(CryptoError) in
            let output = try FileDescriptorIO.openWrite(path)
            defer { FileDescriptorIO.close(output) }
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 1)
            defer { chunk.deallocate() }
            while true {
                let count = try reader.read(into: chunk)
                if count == 0 { break }
                try FileDescriptorIO.writeAll(fd: output, UnsafeRawBufferPointer(rebasing: chunk[..<count]), name: path)
            }
            return !reader.boundaryOccurs
        }
    }
}
