internal import COpenSSL
import FedMailCore

extension OpenSSLCertificate {
    /// The serial number in hex as the broker's CRL is compared
    /// (``RevocationList/normalizedSerial(_:)``: lower case, no leading
    /// zero bytes). Empty for a negative serial, which no broker issues.
    public var serialHex: String {
        guard let serial = X509_get0_serialNumber(pointer), ASN1_STRING_type(serial) == V_ASN1_INTEGER else { return "" }
        return RevocationList.normalizedSerial(ASN1Bytes.of(serial))
    }
}
