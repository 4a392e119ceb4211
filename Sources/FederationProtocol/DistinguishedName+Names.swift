import SwiftASN1
import X509

extension DistinguishedName {
    /// The first value of attribute `type` as text.
    func firstValue(of type: ASN1ObjectIdentifier) -> String? {
        for rdn in self {
            for attribute in rdn where attribute.type == type {
                return String(attribute.value)
            }
        }
        return nil
    }

    /// The subject's common name (CN), if any.
    public var commonNameValue: String? { firstValue(of: .RDNAttributeType.commonName) }
    /// The subject's organization (O), if any.
    public var organizationNameValue: String? { firstValue(of: .RDNAttributeType.organizationName) }
}
