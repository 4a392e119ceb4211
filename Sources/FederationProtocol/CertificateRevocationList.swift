import Crypto
import FedMailCore
import Foundation
import SwiftASN1
import X509

/// The broker's certificate revocation list: an X.509 v2 CRL (RFC 5280
/// section 5), encoded and parsed here with SwiftASN1 because
/// swift-certificates has no CRL type. One profile only, FedMail's:
///
/// ```
/// CertificateList  ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
/// TBSCertList      ::= SEQUENCE {
///     version              INTEGER 1 (v2),
///     signature            ecdsa-with-SHA256 (the broker CA is P-256),
///     issuer               the CA's subject,
///     thisUpdate, nextUpdate  UTCTime through 2049, GeneralizedTime after,
///     revokedCertificates  SEQUENCE OF SEQUENCE { serial, revocationDate,
///                          crlEntryExtensions { reasonCode } }  -- absent when empty
///     crlExtensions    [0] { authorityKeyIdentifier, cRLNumber } }
/// ```
///
/// ``sign(issuer:authorityKeyIdentifier:thisUpdate:nextUpdate:number:entries:key:)``
/// builds and signs one (the broker); ``verify(der:caCertificate:)`` parses
/// one, bounded and failing closed, and checks it against the pinned CA
/// (the gateways). `openssl crl -verify` and `openssl verify -crl_check`
/// read the same bytes (the tests say so).
public struct CertificateRevocationList: Sendable, Hashable {
    /// One revoked certificate.
    public struct Entry: Sendable, Hashable {
        /// The serial number's magnitude, big-endian.
        public var serial: [UInt8]
        /// Seconds since the epoch.
        public var revocationDate: Int64
        /// The reasonCode entry extension; nil when absent or a code FedMail does not use.
        public var reason: RevocationReason?

        public init(serial: [UInt8], revocationDate: Int64, reason: RevocationReason?) {
            self.serial = serial
            self.revocationDate = revocationDate
            self.reason = reason
        }
    }

    public var issuer: DistinguishedName
    public var thisUpdate: Int64
    public var nextUpdate: Int64?
    /// The cRLNumber extension.
    public var number: UInt64?
    /// The authorityKeyIdentifier extension's keyIdentifier.
    public var authorityKeyIdentifier: [UInt8]?
    public var entries: [Entry]

    /// The largest CRL accepted for parsing (a federation lists far fewer
    /// than 10 000 certificates; each entry is about 50 bytes).
    public static let maximumSize = 4 << 20

    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let reasonCodeOID: ASN1ObjectIdentifier = [2, 5, 29, 21]
    static let crlNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]
    static let authorityKeyIdentifierOID: ASN1ObjectIdentifier = [2, 5, 29, 35]
    static let crlDistributionPointsOID: ASN1ObjectIdentifier = [2, 5, 29, 31]

    // MARK: building

    /// Encodes and signs a CRL with the CA key; returns its DER.
    public static func sign(issuer: DistinguishedName, authorityKeyIdentifier: [UInt8]?, thisUpdate: Int64,
                            nextUpdate: Int64, number: UInt64, entries: [Entry],
                            key: P256.Signing.PrivateKey) throws -> [UInt8] {
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)  // v2
            try Self.serializeAlgorithm(&coder)
            try coder.serialize(issuer)
            try Self.serializeTime(thisUpdate, &coder)
            try Self.serializeTime(nextUpdate, &coder)
            if !entries.isEmpty {
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for entry in entries {
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            try coder.serialize(ArraySlice(Self.integerMagnitude(entry.serial)))
                            try Self.serializeTime(entry.revocationDate, &coder)
                            if let reason = entry.reason {
                                var value = DER.Serializer()
                                value.appendPrimitiveNode(identifier: .enumerated) { $0.append(UInt8(reason.code)) }
                                try coder.appendConstructedNode(identifier: .sequence) { coder in
                                    try Self.serializeExtension(Self.reasonCodeOID, critical: false, value: value.serializedBytes, &coder)
                                }
                            }
                        }
                    }
                }
            }
            try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    if let authorityKeyIdentifier {
                        var value = DER.Serializer()
                        try value.appendConstructedNode(identifier: .sequence) { coder in
                            coder.appendPrimitiveNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) {
                                $0.append(contentsOf: authorityKeyIdentifier)
                            }
                        }
                        try Self.serializeExtension(Self.authorityKeyIdentifierOID, critical: false, value: value.serializedBytes, &coder)
                    }
                    var value = DER.Serializer()
                    try value.serialize(ArraySlice(Self.integerMagnitude(Self.bigEndian(number))))
                    try Self.serializeExtension(Self.crlNumberOID, critical: false, value: value.serializedBytes, &coder)
                }
            }
        }
        let tbsBytes = tbs.serializedBytes
        let signature = try key.signature(for: tbsBytes).derRepresentation
        var list = DER.Serializer()
        try list.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(tbsBytes)
            try Self.serializeAlgorithm(&coder)
            try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
        }
        return list.serializedBytes
    }

    /// The value of a cRLDistributionPoints extension (RFC 5280 section
    /// 4.2.1.13) naming one URI: `SEQUENCE { SEQUENCE { [0] { [0] { [6] uri } } } }`.
    public static func distributionPointsExtension(uri: String) throws -> Certificate.Extension {
        var value = DER.Serializer()
        let context0 = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
        try value.appendConstructedNode(identifier: .sequence) { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.appendConstructedNode(identifier: context0) { coder in  // distributionPoint
                    try coder.appendConstructedNode(identifier: context0) { coder in  // fullName
                        try coder.serialize(GeneralName.uniformResourceIdentifier(uri))
                    }
                }
            }
        }
        return Certificate.Extension(oid: crlDistributionPointsOID, critical: false, value: value.serializedBytes[...])
    }

    // MARK: parsing and verifying

    /// Parses a DER CRL and checks it against the pinned broker CA: the
    /// ecdsa-with-SHA256 signature under the CA's P-256 key, the issuer is
    /// the CA's subject, the authorityKeyIdentifier (when present) is the
    /// CA's, a v2 CRL whose nextUpdate is not before its thisUpdate. The
    /// dates are not held against the clock here: that is the policy's
    /// (``RevocationList/freshness(now:maxAge:clockSkew:)``).
    public static func verify(der: [UInt8], caCertificate: Certificate) throws(FederationProtocolError) -> CertificateRevocationList {
        let parsed: (CertificateRevocationList, tbs: ArraySlice<UInt8>, signature: ArraySlice<UInt8>)
        do {
            parsed = try parse(der)
        } catch let error as FederationProtocolError {
            throw error
        } catch {
            throw FederationProtocolError(.invalid, "the CRL is not DER an X.509 CRL: \(error)")
        }
        let (list, tbs, signatureBytes) = parsed
        guard let caKey = P256.Signing.PublicKey(caCertificate.publicKey) else {
            throw FederationProtocolError(.badLocalFile, "the broker CA key is not P-256; FedMail CRLs are ecdsa-with-SHA256")
        }
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: signatureBytes),
              caKey.isValidSignature(signature, for: tbs) else {
            throw FederationProtocolError(.invalid, "the CRL signature does not verify against the broker CA")
        }
        guard list.issuer == caCertificate.subject else {
            throw FederationProtocolError(.invalid, "the CRL issuer \(list.issuer) is not the broker CA \(caCertificate.subject)")
        }
        if let aki = list.authorityKeyIdentifier, let ski = try? caCertificate.extensions.subjectKeyIdentifier,
           Array(ski.keyIdentifier) != aki {
            throw FederationProtocolError(.invalid, "the CRL's authorityKeyIdentifier is not the broker CA's key")
        }
        if let next = list.nextUpdate, next < list.thisUpdate {
            throw FederationProtocolError(.invalid, "the CRL's nextUpdate is before its thisUpdate")
        }
        return list
    }

    /// The policy's view: entries by normalized serial. An entry without a
    /// reason FedMail knows counts as `unspecified` (refused whatever the
    /// signingTime: only superseded keeps earlier signatures);
    /// a serial listed twice keeps the stricter entry.
    public var revocationList: RevocationList {
        var entries: [String: RevocationList.Entry] = [:]
        for entry in self.entries {
            let key = RevocationList.normalizedSerial(entry.serial)
            let new = RevocationList.Entry(revokedAt: entry.revocationDate, reason: entry.reason ?? .unspecified)
            if let old = entries[key] {
                let stricter = !new.reason.keepsEarlierSignatures
                    || (old.reason.keepsEarlierSignatures && new.revokedAt < old.revokedAt)
                if stricter { entries[key] = new }
            } else {
                entries[key] = new
            }
        }
        return RevocationList(entries: entries, thisUpdate: thisUpdate, nextUpdate: nextUpdate, number: number)
    }

    static func parse(_ der: [UInt8]) throws -> (CertificateRevocationList, tbs: ArraySlice<UInt8>, signature: ArraySlice<UInt8>) {
        guard der.count <= maximumSize else {
            throw FederationProtocolError(.invalid, "the CRL is larger than \(maximumSize) bytes")
        }
        let root = try DER.parse(der)
        return try DER.sequence(root, identifier: .sequence) { nodes in
            guard let tbsNode = nodes.next() else { throw FederationProtocolError(.invalid, "the CRL has no TBSCertList") }
            try Self.expectAlgorithm(&nodes, "signatureAlgorithm")
            let signature = try ASN1BitString(derEncoded: &nodes)
            guard nodes.next() == nil else { throw FederationProtocolError(.invalid, "trailing data in the CRL") }
            let list = try DER.sequence(tbsNode, identifier: .sequence) { nodes in
                let version = try Int(derEncoded: &nodes)
                guard version == 1 else { throw FederationProtocolError(.invalid, "the CRL is not version 2") }
                try Self.expectAlgorithm(&nodes, "signature")
                let issuer = try DistinguishedName(derEncoded: &nodes)
                let thisUpdate = try Self.parseTime(&nodes, "thisUpdate")
                var nextUpdate: Int64?
                var peek = nodes
                if let node = peek.next(), node.identifier == .utcTime || node.identifier == .generalizedTime {
                    nextUpdate = try Self.parseTime(&nodes, "nextUpdate")
                }
                var entries: [Entry] = []
                peek = nodes
                if let node = peek.next(), node.identifier == .sequence {
                    nodes = peek
                    entries = try DER.sequence(node, identifier: .sequence) { nodes in
                        var entries: [Entry] = []
                        while let entryNode = nodes.next() {
                            entries.append(try Self.parseEntry(entryNode))
                        }
                        return entries
                    }
                }
                var number: UInt64?
                var aki: [UInt8]?
                let extensions = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                    try Self.parseExtensions(node)
                } ?? []
                for (oid, critical, value) in extensions {
                    switch oid {
                    case Self.crlNumberOID:
                        let bytes = try ArraySlice<UInt8>(derEncoded: try DER.parse(value))
                        let magnitude = bytes.drop(while: { $0 == 0 })
                        guard magnitude.count <= 8 else { throw FederationProtocolError(.invalid, "the cRLNumber is too large") }
                        number = magnitude.reduce(0) { $0 << 8 | UInt64($1) }
                    case Self.authorityKeyIdentifierOID:
                        aki = try DER.sequence(try DER.parse(value), identifier: .sequence) { nodes in
                            guard let node = nodes.next(), node.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
                                  case .primitive(let bytes) = node.content else { return nil }
                            while nodes.next() != nil {}
                            return Array(bytes)
                        }
                    default:
                        // RFC 5280 section 5.2: an unknown critical CRL extension makes the CRL unusable.
                        if critical { throw FederationProtocolError(.invalid, "the CRL has an unknown critical extension \(oid)") }
                    }
                }
                guard nodes.next() == nil else { throw FederationProtocolError(.invalid, "trailing data in the TBSCertList") }
                return CertificateRevocationList(issuer: issuer, thisUpdate: thisUpdate, nextUpdate: nextUpdate, number: number,
                                                 authorityKeyIdentifier: aki, entries: entries)
            }
            guard signature.paddingBits == 0 else { throw FederationProtocolError(.invalid, "the CRL signature is not whole bytes") }
            return (list, tbsNode.encodedBytes, signature.bytes)
        }
    }

    static func parseEntry(_ node: ASN1Node) throws -> Entry {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let serial = try ArraySlice<UInt8>(derEncoded: &nodes)
            let date = try Self.parseTime(&nodes, "revocationDate")
            var reason: RevocationReason?
            if let extensionsNode = nodes.next() {
                for (oid, critical, value) in try Self.parseExtensions(extensionsNode) {
                    if oid == Self.reasonCodeOID {
                        let node = try DER.parse(value)
                        guard node.identifier == .enumerated, case .primitive(let bytes) = node.content, bytes.count == 1 else {
                            throw FederationProtocolError(.invalid, "a CRL entry's reasonCode is malformed")
                        }
                        reason = RevocationReason(code: Int(bytes[bytes.startIndex])) ?? .unspecified
                    } else if critical {
                        throw FederationProtocolError(.invalid, "a CRL entry has an unknown critical extension \(oid)")
                    }
                }
            }
            guard nodes.next() == nil else { throw FederationProtocolError(.invalid, "trailing data in a CRL entry") }
            return Entry(serial: Array(serial.drop(while: { $0 == 0 })), revocationDate: date, reason: reason)
        }
    }

    /// `Extensions ::= SEQUENCE OF Extension` as (oid, critical, extnValue contents).
    static func parseExtensions(_ node: ASN1Node) throws -> [(ASN1ObjectIdentifier, Bool, ArraySlice<UInt8>)] {
        try DER.sequence(node, identifier: .sequence) { nodes in
            var result: [(ASN1ObjectIdentifier, Bool, ArraySlice<UInt8>)] = []
            while let node = nodes.next() {
                result.append(try DER.sequence(node, identifier: .sequence) { nodes in
                    let oid = try ASN1ObjectIdentifier(derEncoded: &nodes)
                    var critical = false
                    var peek = nodes
                    if let node = peek.next(), node.identifier == .boolean {
                        critical = try Bool(derEncoded: &nodes)
                    }
                    let value = try ASN1OctetString(derEncoded: &nodes)
                    guard nodes.next() == nil else { throw FederationProtocolError(.invalid, "trailing data in a CRL extension") }
                    return (oid, critical, value.bytes)
                })
            }
            return result
        }
    }

    static func expectAlgorithm(_ nodes: inout ASN1NodeCollection.Iterator, _ what: String) throws {
        guard let node = nodes.next() else { throw FederationProtocolError(.invalid, "the CRL has no \(what)") }
        let oid = try DER.sequence(node, identifier: .sequence) { nodes in
            let oid = try ASN1ObjectIdentifier(derEncoded: &nodes)
            // Parameters must be absent for ecdsa-with-SHA256 (RFC 5758); NULL is tolerated.
            if let parameters = nodes.next(), parameters.identifier != .null {
                throw FederationProtocolError(.invalid, "the CRL's \(what) has parameters")
            }
            guard nodes.next() == nil else { throw FederationProtocolError(.invalid, "trailing data in the CRL's \(what)") }
            return oid
        }
        guard oid == ecdsaWithSHA256 else {
            throw FederationProtocolError(.invalid, "the CRL's \(what) is \(oid), not ecdsa-with-SHA256")
        }
    }

    // MARK: helpers

    static func serializeAlgorithm(_ coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(ecdsaWithSHA256)
        }
    }

    static func serializeExtension(_ oid: ASN1ObjectIdentifier, critical: Bool, value: [UInt8], _ coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(oid)
            if critical { try coder.serialize(true) }
            try coder.serialize(ASN1OctetString(contentBytes: value[...]))
        }
    }

    /// RFC 5280 section 5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050.
    static func serializeTime(_ seconds: Int64, _ coder: inout DER.Serializer) throws {
        let c = CivilTime(seconds)
        if (1950...2049).contains(c.year) {
            try coder.serialize(try UTCTime(year: c.year, month: c.month, day: c.day, hours: c.hour, minutes: c.minute, seconds: c.second))
        } else {
            try coder.serialize(try GeneralizedTime(year: c.year, month: c.month, day: c.day, hours: c.hour, minutes: c.minute,
                                                    seconds: c.second, fractionalSeconds: 0))
        }
    }

    static func parseTime(_ nodes: inout ASN1NodeCollection.Iterator, _ what: String) throws -> Int64 {
        var peek = nodes
        guard let node = peek.next() else { throw FederationProtocolError(.invalid, "the CRL has no \(what)") }
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: &nodes)
            return CivilTime.seconds(year: time.year, month: time.month, day: time.day, hour: time.hours, minute: time.minutes, second: time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: &nodes)
            return CivilTime.seconds(year: time.year, month: time.month, day: time.day, hour: time.hours, minute: time.minutes, second: time.seconds)
        default:
            throw FederationProtocolError(.invalid, "the CRL's \(what) is not a time")
        }
    }

    /// The magnitude of a non-negative integer without leading zero bytes
    /// (the serializer adds the sign byte where the top bit is set).
    static func integerMagnitude(_ bytes: [UInt8]) -> [UInt8] {
        let magnitude = Array(bytes.drop(while: { $0 == 0 }))
        return magnitude.isEmpty ? [0] : magnitude
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}

/// UTC calendar fields for seconds since the epoch and back (proleptic
/// Gregorian, H. Hinnant's days-from-civil), without Foundation's Calendar.
struct CivilTime {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(_ seconds: Int64) {
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let rest = Int(seconds - Int64(days) * 86_400)
        hour = rest / 3600
        minute = rest % 3600 / 60
        second = rest % 60
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    static func seconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }
}
