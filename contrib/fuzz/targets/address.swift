// libFuzzer target: the RFC 5322 address parser (From/Sender field values,
// SMTP envelope paths) and the conservative domain-candidate scanner used by
// the spoofed-partner check. Built together with Sources/FedMailCore by
// contrib/fuzz/build.sh. Input: one field value, as UTF-8 (invalid bytes are
// replaced, as the milter does when it decodes a header value).
//
// Invariants checked besides "no crash" (a violation traps, so libFuzzer
// records it as a crash):
// - every domain returned (mailboxes, mailbox, envelope path, candidates)
//   is non-empty and lower-case;
// - mailboxes(): 1 ... maxMailboxes results;
// - mailbox() agrees with mailboxes(): a value that is one mailbox is a
//   one-element address list with the same mailbox;
// - domainCandidates(): no duplicates, no leading or trailing dot, at most
//   maxCandidates, and it includes every (non-literal) domain mailboxes()
//   finds, which the spoof check relies on.
// Linear time is checked by running with -timeout (contrib/fuzz/run.sh).

@testable import FedMailCore

func violated(_ what: String, _ value: String) -> Never {
    let hex = value.utf8.map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("address invariant violated: \(what)\ninput (UTF-8 hex): \(hex)")
}

func checkDomain(_ domain: String, _ what: String, _ value: String) {
    if domain.isEmpty { violated("\(what): empty domain", value) }
    if domain != domain.lowercased() { violated("\(what): domain \(domain.debugDescription) is not lower-case", value) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)

    var listed: [MailboxAddress]?
    do {
        let boxes = try AddressListParser.mailboxes(inAddressList: value)
        if boxes.isEmpty || boxes.count > AddressListParser.defaultMaxMailboxes {
            violated("mailboxes() returned \(boxes.count) mailboxes", value)
        }
        for box in boxes { checkDomain(box.domain, "mailboxes()", value) }
        listed = boxes
    } catch {}

    do {
        let box = try AddressListParser.mailbox(value)
        checkDomain(box.domain, "mailbox()", value)
        guard let listed, listed.count == 1, listed[0] == box else {
            violated("mailbox() accepts the value but mailboxes() gives \(String(describing: listed)) instead of [\(box)]", value)
        }
    } catch {}

    do {
        if let path = try AddressListParser.envelopePath(value) {
            checkDomain(path.domain, "envelopePath()", value)
        }
    } catch {}

    let limit = 1000
    let candidates = AddressListParser.domainCandidates(inFieldValue: value, maxCandidates: limit)
    if candidates.count > limit { violated("\(candidates.count) candidates, more than \(limit)", value) }
    if Set(candidates).count != candidates.count { violated("duplicate candidates \(candidates)", value) }
    for candidate in candidates {
        checkDomain(candidate, "domainCandidates()", value)
        if candidate.hasPrefix(".") || candidate.hasSuffix(".") {
            violated("candidate \(candidate.debugDescription) has a leading or trailing dot", value)
        }
    }
    if let listed, candidates.count < limit {
        for box in listed where !box.domain.hasPrefix("[") && !candidates.contains(box.domain) {
            violated("domainCandidates() misses the mailbox domain \(box.domain.debugDescription): \(candidates)", value)
        }
    }
    return 0
}
