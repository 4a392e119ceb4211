internal import COpenSSL
import FedMailCore

/// The kind of a CMS recipientInfo (RFC 5652 §6.2), named as FedMail's
/// reports and logs name it.
public enum CMSRecipientKind: String, Sendable, Hashable, CustomStringConvertible {
    /// KeyTransRecipientInfo: the content key encrypted to an RSA key (RSA-OAEP only).
    case keyTransport = "key-trans"
    /// KeyAgreeRecipientInfo: ECDH with an EC key.
    case keyAgreement = "key-agree"
    /// KEKRecipientInfo: the content key wrapped with a PoP key.
    case kek
    /// Anything else (password, other): never ours.
    case other

    public var description: String { rawValue }
}

/// Reading recipientInfos without decrypting anything.
enum RecipientInfoReader {
    /// Every recipientInfo of `cms`, one entry per key it names.
    static func recipients(of cms: CMSContentInfo) -> [SealedMessageSummary.Recipient] {
        guard let infos = CMS_get0_RecipientInfos(cms.pointer) else { return [] }
        var recipients: [SealedMessageSummary.Recipient] = []
        for i in 0..<fedmail_sk_CMS_RecipientInfo_num(infos) {
            guard let ri = fedmail_sk_CMS_RecipientInfo_value(infos, i) else { continue }
            recipients += describe(ri)
        }
        return recipients
    }

    /// The keys one recipientInfo names (a KeyAgreeRecipientInfo may name several).
    static func describe(_ ri: OpaquePointer) -> [SealedMessageSummary.Recipient] {
        switch CMS_RecipientInfo_type(ri) {
        case CMS_RECIPINFO_TRANS:
            var keyid: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            var issuer: OpaquePointer?
            var serial: UnsafeMutablePointer<ASN1_INTEGER>?
            CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial)
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            CMS_RecipientInfo_ktri_get0_algs(ri, nil, nil, &algor)
            let alg = ASN1Bytes.algorithmName(algor)
            return [.init(kind: .keyTransport, keyIdentifier: ASN1Bytes.of(keyid),
                          algorithm: alg.nid == NID_rsaesOaep ? "RSAES-OAEP" : alg.name)]
        case CMS_RECIPINFO_AGREE:
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            var ukm: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            CMS_RecipientInfo_kari_get0_alg(ri, &algor, &ukm)
            let alg = ASN1Bytes.algorithmName(algor).name
            guard let reks = CMS_RecipientInfo_kari_get0_reks(ri) else { return [] }
            var out: [SealedMessageSummary.Recipient] = []
            for j in 0..<fedmail_sk_CMS_RecipientEncryptedKey_num(reks) {
                guard let rek = fedmail_sk_CMS_RecipientEncryptedKey_value(reks, j) else { continue }
                var keyid: UnsafeMutablePointer<ASN1_OCTET_STRING>?
                var date: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
                var other: OpaquePointer?
                var issuer: OpaquePointer?
                var serial: UnsafeMutablePointer<ASN1_INTEGER>?
                CMS_RecipientEncryptedKey_get0_id(rek, &keyid, &date, &other, &issuer, &serial)
                out.append(.init(kind: .keyAgreement, keyIdentifier: ASN1Bytes.of(keyid), algorithm: alg))
            }
            return out
        case CMS_RECIPINFO_KEK:
            var algor: UnsafeMutablePointer<X509_ALGOR>?
            var id: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            var date: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var otherID: OpaquePointer?
            var otherType: UnsafeMutablePointer<ASN1_TYPE>?
            CMS_RecipientInfo_kekri_get0_id(ri, &algor, &id, &date, &otherID, &otherType)
            return [.init(kind: .kek, keyIdentifier: ASN1Bytes.of(id), algorithm: ASN1Bytes.algorithmName(algor).name)]
        default:
            return [.init(kind: .other, keyIdentifier: [], algorithm: "unknown")]
        }
    }
}

extension Opener {
    /// The second stage: finds the recipientInfo for one of our keys and
    /// unwraps the content key into `cms` (OpenSSL keeps it there for the
    /// decryption). RSA key transport other than RSAES-OAEP is refused.
    func unwrapContentKey(_ cms: CMSContentInfo) throws(OpenError) -> SealedMessageSummary.Recipient {
        guard CMS_get0_RecipientInfos(cms.pointer) != nil else { throw OpenError(.malformed, "no recipientInfos") }
        var seen: [String] = []
        for described in RecipientInfoReader.recipients(of: cms) {
            seen.append("\(described.kind) \(described.keyName)")
            switch described.kind {
            case .keyTransport, .keyAgreement:
                guard let identity = identities.first(where: {
                    described.keyIdentifier == $0.certificate.subjectKeyIdentifier || described.keyIdentifier == $0.certificate.publicKeyIdentifier
                }) else { continue }
                if described.kind == .keyTransport && described.algorithm != "RSAES-OAEP" {
                    throw OpenError(.refusedAlgorithm, "key transport \(described.algorithm) refused: only RSAES-OAEP is accepted")
                }
                guard CMS_decrypt_set1_pkey_and_peer(cms.pointer, identity.key.pointer, identity.certificate.pointer, nil) == 1 else {
                    throw OpenError(.tagMismatch, "the content key wrapped for us does not unwrap (\(OpenSSLErrorQueue.drain()))")
                }
                return described
            case .kek:
                guard let pop = popKeys.first(where: { $0.id == described.keyIdentifier })
                    ?? popKeyProvider?(described.keyIdentifier) else { continue }
                let ok = pop.key.withUnsafeBufferPointer { key in
                    pop.id.withUnsafeBufferPointer { id in
                        CMS_decrypt_set1_key(cms.pointer, UnsafeMutablePointer(mutating: key.baseAddress), key.count,
                                             id.baseAddress, id.count)
                    }
                }
                guard ok == 1 else {
                    throw OpenError(.tagMismatch, "the content key wrapped for our PoP key does not unwrap (\(OpenSSLErrorQueue.drain()))")
                }
                return described
            case .other:
                continue
            }
        }
        let hint = seen.contains { $0.hasSuffix(" issuer-and-serial") }
            ? "; a key named by issuer and serial number is not matched: FedMail names recipients by subjectKeyIdentifier (openssl cms -encrypt -keyid)" : ""
        throw OpenError(.notForUs, "no recipientInfo for our keys (message is for: \(seen.joined(separator: ", ")))\(hint)")
    }
}
