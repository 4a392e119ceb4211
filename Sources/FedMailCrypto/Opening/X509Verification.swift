internal import COpenSSL
import Foundation

/// An OpenSSL `X509_STORE` of trust anchors, freed with its owner.
final class X509TrustStore {
    let pointer: OpaquePointer

    init() throws(OpenError) {
        guard let store = X509_STORE_new() else { throw OpenError(.internalError, "X509_STORE_new") }
        pointer = store
    }

    /// A store holding `anchors`.
    convenience init(anchors: [OpenSSLCertificate]) throws(OpenError) {
        try self.init()
        for anchor in anchors { X509_STORE_add_cert(pointer, anchor.pointer) }
    }

    deinit { X509_STORE_free(pointer) }
}

/// A `STACK_OF(X509)` freed with its owner: with its certificates for a
/// stack from a `get1` function (`CMS_get1_certs`), or only the stack for a
/// `get0` one (`CMS_get0_signers`, whose certificates the CMS owns).
final class X509CertificateStack {
    let pointer: OpaquePointer?
    private let ownsCertificates: Bool

    /// Takes ownership of `pointer` (nil is an empty stack).
    init(taking pointer: OpaquePointer?, ownsCertificates: Bool) {
        self.pointer = pointer
        self.ownsCertificates = ownsCertificates
    }

    /// A new stack holding a reference to each of `certificates`.
    convenience init(certificates: [OpenSSLCertificate]) throws(OpenError) {
        guard let stack = fedmail_sk_X509_new_null() else { throw OpenError(.internalError, "sk_X509_new_null") }
        self.init(taking: stack, ownsCertificates: true)
        for certificate in certificates {
            X509_up_ref(certificate.pointer)
            guard fedmail_sk_X509_push(stack, certificate.pointer) > 0 else {
                X509_free(certificate.pointer)
                throw OpenError(.internalError, "sk_X509_push")
            }
        }
    }

    /// The number of certificates.
    var count: Int32 { pointer.map { fedmail_sk_X509_num($0) } ?? 0 }

    /// The certificate at `index`, retained for the caller.
    func certificate(at index: Int32) -> OpenSSLCertificate? {
        guard let pointer, index >= 0, index < count, let x509 = fedmail_sk_X509_value(pointer, index) else { return nil }
        return OpenSSLCertificate(retaining: x509)
    }

    deinit {
        guard let pointer else { return }
        if ownsCertificates { fedmail_sk_X509_pop_free(pointer) } else { fedmail_sk_X509_free(pointer) }
    }
}

/// One chain verification (`X509_STORE_CTX`), freed with its owner.
final class X509ChainVerification {
    let pointer: OpaquePointer
    /// Kept alive while the context refers to them.
    private let store: X509TrustStore
    private let untrusted: X509CertificateStack
    private let leaf: OpenSSLCertificate
    private let requireEmailProtection: Bool

    /// Verification of `leaf` against `store`'s anchors, with `untrusted`
    /// intermediates, for S/MIME signing at `time`.
    ///
    /// With `requireEmailProtection`, the leaf must also carry an
    /// extendedKeyUsage that names emailProtection: OpenSSL's S/MIME purpose
    /// alone takes a certificate without any extendedKeyUsage as good for
    /// every purpose (the broker's own token-signing certificate is one).
    init(leaf: OpenSSLCertificate, store: X509TrustStore, untrusted: X509CertificateStack,
         time: Date, partialChain: Bool, requireEmailProtection: Bool = false) throws(OpenError) {
        guard let ctx = X509_STORE_CTX_new() else { throw OpenError(.internalError, "X509_STORE_CTX_new") }
        pointer = ctx
        self.store = store
        self.untrusted = untrusted
        self.leaf = leaf
        self.requireEmailProtection = requireEmailProtection
        guard X509_STORE_CTX_init(ctx, store.pointer, leaf.pointer, untrusted.pointer) == 1 else {
            throw OpenError(.internalError, "X509_STORE_CTX_init")
        }
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN)
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970))
        if partialChain { X509_STORE_CTX_set_flags(ctx, UInt(X509_V_FLAG_PARTIAL_CHAIN)) }
    }

    deinit { X509_STORE_CTX_free(pointer) }

    /// Runs the verification: nil when the chain is valid, else OpenSSL's reason.
    func failureReason() -> String? {
        guard X509_verify_cert(pointer) == 1 else {
            let code = X509_STORE_CTX_get_error(pointer)
            return X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
        }
        if requireEmailProtection {
            let hasExtendedKeyUsage = X509_get_extension_flags(leaf.pointer) & UInt32(EXFLAG_XKUSAGE) != 0
            guard hasExtendedKeyUsage, X509_get_extended_key_usage(leaf.pointer) & UInt32(XKU_SMIME) != 0 else {
                return "the certificate is not for e-mail protection (its extendedKeyUsage does not name emailProtection)"
            }
        }
        return nil
    }
}
