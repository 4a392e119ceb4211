import FedMailCore
internal import COpenSSL

extension OrganizationKeyPolicy.Key {
    /// An OpenSSL key in the terms of the key policy.
    init(_ pkey: OpaquePointer) {
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            self = .rsa(modulusBits: Int(EVP_PKEY_get_bits(pkey)))
        } else if EVP_PKEY_is_a(pkey, "EC") == 1 {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pkey, &name, name.count, &length) == 1 else {
                self = .ec(curve: .other(name: "an unnamed curve"))
                return
            }
            let group = String(cString: name)
            self = .ec(curve: ["prime256v1", "P-256", "secp256r1"].contains(group) ? .p256 : .other(name: group))
        } else {
            self = .other(algorithm: EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "an unknown")
        }
    }
}
