internal import COpenSSL

/// A parsed CMS ContentInfo owned by Swift.
final class CMSContentInfo {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { CMS_ContentInfo_free(pointer) }

    /// The NID of the content type.
    var contentTypeNID: Int32 { OBJ_obj2nid(CMS_get0_type(pointer)) }

    /// The short name of the content type.
    var contentTypeName: String {
        let nid = contentTypeNID
        guard nid != NID_undef, let name = OBJ_nid2ln(nid) else { return "unknown" }
        return String(cString: name)
    }
}

/// Byte access to OpenSSL ASN.1 strings.
enum ASN1Bytes {
    static func of(_ string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }

    static func algorithmName(_ algor: UnsafePointer<X509_ALGOR>?) -> (nid: Int32, name: String) {
        guard let algor else { return (NID_undef, "unknown") }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algor)
        let nid = OBJ_obj2nid(object)
        guard nid != NID_undef, let name = OBJ_nid2sn(nid) else { return (nid, "unknown") }
        return (nid, String(cString: name))
    }
}
