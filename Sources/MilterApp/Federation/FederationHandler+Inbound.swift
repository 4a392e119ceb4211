import FedMailCore
import FedMailCrypto
import FederationProtocol
import Foundation
import Milter
import Synchronization

/// Inbound: open sealed mail for our domains — the cryptographic checks in
/// the Opener, the whole decision in ``OpeningPolicy`` — restore the exact
/// original, deliver it once per recipient (replay cache), add
/// Authentication-Results; refuse plaintext that claims a `require` partner.
extension FederationHandler {
    /// A check that failed while opening, with the action it calls for.
    struct OpeningFailure: Error {
        enum Kind { case badSeal, notForUs, internalError, revocationUnknown }
        var kind: Kind
        var check: String
        var message: String
    }

    func openInbound(transaction: MilterTransaction, actions: any MilterMessageActions, rawValues: Bool,
                     split: SplitSealedMessage?, ourTokens: OurTokens, log: MessageLog) throws -> MilterResponse {
        do {
            return try open(transaction: transaction, actions: actions, rawValues: rawValues, split: split,
                            ourTokens: ourTokens, log: log)
        } catch let failure as OpeningFailure {
            var decision: FailureDecision
            switch failure.kind {
            case .badSeal: decision = .badSeal(check: failure.check, action: settings.onBadSeal)
            case .notForUs: decision = .badSeal(check: failure.check, action: settings.onNotForUs)
            case .internalError: decision = .openingInternalError(check: failure.check, action: runtime.configuration.onInternalError)
            case .revocationUnknown: decision = .revocationUnknown(check: failure.check)
            }
            if actions.hasSentChanges { decision = decision.afterPartialChange() }
            log.warning("direction=inbound decision=\(decision.action.rawValue) (\(failure.check): \(failure.message))")
            if decision.action == .accept || decision.action == .quarantine {
                // Accepted or quarantined as it is, and it says it failed.
                // Accepted means delivered unopened, so the `require` rule
                // applies as to any plaintext; quarantine holds it either way.
                if decision.action == .accept,
                   let refusal = try spoofedPartnerRefusal(transaction: transaction, actions: actions, log: log) { return refusal }
                try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
                try addVerdict(.init(method: "fedmail", result: "fail", comment: failure.check), actions: actions)
            }
            return respond(decision, actions: actions, log: log)
        }
    }

    /// The most FedMail-Token fields for our domains examined (duplicates
    /// ignored): twice our domain count; more is refused unexamined.
    var maxTokenFields: Int { max(2, 2 * settings.domains.count) }

    /// The FedMail-Token fields for our domains, duplicates ignored, at
    /// most ``maxTokenFields`` of them (`tooMany` when there were more).
    struct OurTokens {
        var headers: [FedMailTokenHeader] = []
        var tooMany = false
    }

    func ourTokens(among tokens: [FedMailTokenHeader]) -> OurTokens {
        let ourDomains = Set(settings.domains)
        var result = OurTokens()
        var seen = Set<String>()
        for header in tokens where DomainName(header.domain).map(ourDomains.contains) == true {
            guard seen.insert(header.token).inserted else { continue }
            guard result.headers.count < maxTokenFields else { result.tooMany = true; break }
            result.headers.append(header)
        }
        return result
    }

    /// Whose a message for one of our domains is (DESIGN.md "A message is
    /// ours to open only if..."): ours when it carries a FedMail-Token for
    /// one of our domains, or is S/MIME enveloped with a recipientInfo for
    /// one of our keys (the message comes along as read and split, so it is
    /// written, split and parsed once); anything else — S/MIME for a user's own key, signed
    /// mail, PGP, plaintext — is not ours to open.
    enum Ownership { case ours(split: SplitSealedMessage?, ourTokens: OurTokens), notOurs(String) }

    func ownership(of transaction: MilterTransaction, tokens: [FedMailTokenHeader], rawValues: Bool) throws -> Ownership {
        // Every token field counts (tokens for other organizations come
        // first as often as not).
        let ours = ourTokens(among: tokens)
        if !ours.headers.isEmpty { return .ours(split: nil, ourTokens: ours) }
        guard let contentType = transaction.headers.first(where: { $0.hasName("Content-Type") }).flatMap({ MIMEContentType.parse($0.value) }),
              contentType.type == "application", contentType.subtype == "pkcs7-mime" || contentType.subtype == "x-pkcs7-mime" else {
            return .notOurs("no FedMail-Token for our domains")
        }
        let smimeType = contentType.parameters["smime-type"]?.lowercased()
        guard smimeType == nil || smimeType == "authenveloped-data" || smimeType == "enveloped-data" else {
            return .notOurs("S/MIME \(smimeType ?? "-"), not enveloped")
        }
        let identities = runtime.openingIdentities()
        guard !identities.isEmpty else { return .notOurs("no OrgKey to open with") }
        let ourKeys = identities.flatMap { [$0.certificate.subjectKeyIdentifier, $0.certificate.publicKeyIdentifier].compactMap { $0 } }
        let input = try MessageFiles.messageInput(transaction, rawValues: rawValues)
        // Read with EnvelopedData accepted (S/MIME for somebody's own key is
        // not ours, whatever its algorithm); the open refuses all but AEAD.
        let split: SplitSealedMessage
        do { split = try SplitSealedMessage.read(input, temporaryDirectory: spoolDirectory, requireAEAD: false) } catch {
            if error.code == .internalError { throw error }
            return .notOurs("S/MIME that does not parse as enveloped CMS (\(error.code.name))")
        }
        let keyIDs = split.recipientKeyIdentifiers
        if keyIDs.contains(where: ourKeys.contains) { return .ours(split: split, ourTokens: ours) }
        return .notOurs("S/MIME for other keys (\(keyIDs.count) recipientInfo(s), none ours)")
    }

    private func open(transaction: MilterTransaction, actions: any MilterMessageActions, rawValues: Bool,
                      split: SplitSealedMessage?, ourTokens tokens: OurTokens, log: MessageLog) throws -> MilterResponse {
        guard runtime.identity != nil, !runtime.brokerCA.isEmpty || !runtime.partnerCertificates.isEmpty else {
            throw OpeningFailure(kind: .internalError, check: "not-configured",
                                 message: "OrgKey, OrgCertificate and BrokerCA (or static partner certificates) are needed to open sealed mail")
        }
        let brokers = runtime.brokers
        let ourDomains = Set(settings.domains)

        // The tokens for our domains, bounded before anything is verified.
        guard !tokens.tooMany else {
            throw OpeningFailure(kind: .badSeal, check: "token-too-many",
                                 message: "more than \(maxTokenFields) FedMail-Token fields for our domains")
        }
        let ourTokens = tokens.headers

        // Pop mode: the PoP key travels in the token, encrypted to our key;
        // it is opened only for a KEK id the message actually has.
        var envelopes: [String: String] = [:]
        for header in ourTokens {
            guard let (jti, envelope) = FederationBrokers.unverifiedPoP(of: header.token) else { continue }
            envelopes[jti] = envelope
        }
        let popEnvelopes = envelopes

        // Not split yet (it carried a token for us): read and split by the open.
        let input = split == nil ? try MessageFiles.messageInput(transaction, rawValues: rawValues) : nil
        let openedFile = try SpoolFile(directory: spoolDirectory, prefix: "opened")
        var opener = Opener(identities: runtime.openingIdentities(), brokerCA: runtime.brokerCA,
                            maxMessageAge: TimeInterval(settings.maxMessageAge), temporaryDirectory: spoolDirectory)
        if let brokers, !popEnvelopes.isEmpty {
            // One KEKRecipientInfo is ours in a genuine message: a private-key
            // operation is spent on at most two envelopes (each with our key
            // and, within the grace after a rekey, the replaced one),
            // whatever the message holds.
            let budget = AttemptBudget(2)
            let previousKeyOpen = runtime.openingIdentities().count > 1
            opener.popKeyProvider = { id in
                guard let jti = String(bytes: id, encoding: .utf8), let envelope = popEnvelopes[jti], budget.take(),
                      let key = try? brokers.openPoPKey(envelope, includingPrevious: previousKeyOpen) else { return nil }
                return try? ProofOfPossessionKey(key: key, id: id)
            }
        }
        opener.pinnedSigners = Array(runtime.partnerCertificates.values)
        opener.certificateCache = runtime.signerCertificates
        var policy = OpeningPolicy(ourDomains: ourDomains, pins: runtime.certificatePins,
                                   maxMessageAge: Int64(settings.maxMessageAge), tokenRule: .required)
        policy.allowlist = runtime.allowlist
        policy.textForms = .nfkc
        let envelopeSender = transaction.senderMailbox
        let revocation = revocations?.revocationState(maxAge: settings.crlMaxAge) ?? .notChecked
        let timeout = settings.brokerTimeout
        var passed: OpeningPass?
        let opened: OpenedMessage
        do throws(OpenError) {
            let authorize = { (seal: VerifiedSeal, _: [FedMailTokenHeader]) throws(OpenError) -> Void in
                // Each token's signature against the pinned broker CA; the
                // policy then binds them to this message.
                var tokens: [OpeningFacts.Token] = []
                if !seal.signer.pinned {
                    let signingTime = Date(timeIntervalSince1970: TimeInterval(seal.signer.signingTime))
                    for header in ourTokens {
                        guard let brokers else {
                            tokens.append(.unverifiable(domain: header.domain, reason: "no BrokerCA configured"))
                            continue
                        }
                        do {
                            tokens.append(.verified(try brokers.verify(token: header.token, audience: header.domain,
                                                                       at: signingTime, timeout: timeout)))
                        } catch {
                            tokens.append(.unverifiable(domain: header.domain, reason: "\(error)"))
                        }
                    }
                }
                let facts = OpeningFacts(seal: seal, tokens: tokens, envelopeSender: envelopeSender,
                                         now: Int64(Date().timeIntervalSince1970), revocation: revocation,
                                         envelopeRecipients: RecipientAddressBinding.bound(
                                             transaction.recipients.map(\.address), salt: seal.control.addressSalt))
                switch policy.evaluate(facts) {
                case .pass(let pass): passed = pass
                case .fail(let failure): throw OpenError(policy: failure)
                }
            }
            if let split {
                opened = try opener.open(split: split, outputPath: openedFile.path, authorize: authorize)
            } else if let input {
                opened = try opener.open(input, outputPath: openedFile.path, authorize: authorize)
            } else {
                throw OpenError(.internalError, "no sealed message to open")
            }
        } catch {
            switch error.code {
            case .notForUs: throw OpeningFailure(kind: .notForUs, check: error.code.name, message: error.message)
            case .internalError: throw OpeningFailure(kind: .internalError, check: error.code.name, message: error.message)
            case let code where code == .policy(.revocationUnknown):
                throw OpeningFailure(kind: .revocationUnknown, check: error.code.name, message: error.message)
            default: throw OpeningFailure(kind: .badSeal, check: error.code.name, message: error.message)
            }
        }
        guard let passed else { throw OpeningFailure(kind: .internalError, check: "policy", message: "no verdict") }
        let report = opened.report
        let authorDomain = passed.authorDomains.first?.value ?? "-"
        let tokensText = passed.signerPinned ? "static" : passed.tokenIDs.joined(separator: ",")

        // Exactly once: recipients this seal was delivered to before are
        // dropped; with none left the transaction is accepted and discarded.
        let recipients = transaction.recipients.map(\.address)
        let claim = replayCache.claim(sealID: report.sealID, recipients: recipients, queueID: log.queueID)
        var committed = false
        defer { if !committed { replayCache.release(sealID: report.sealID, claim: claim) } }
        metrics?.recordDuplicates(ledger: "replay", count: claim.duplicates.count)
        if claim.fresh.isEmpty {
            let first = claim.duplicates.first?.firstQueueID ?? "?"
            log.warning("direction=inbound decision=discard (duplicate of \(first): sealed by \(report.signerOrganization), already delivered to every recipient) tokens=\(tokensText)")
            return .discard
        }

        // Control flags, honored only as far as the allowlist's trust= says
        // (they count only because they are inside the signed part); else
        // the opened message is scanned here. Nothing is released before this.
        let trust = passed.authorDomains.first.flatMap { runtime.allowlist.entry(for: $0)?.trust } ?? []
        let scan = scanInbound(openedPath: openedFile.path, control: opened.control, partner: authorDomain, trust: trust)
        if case .stop(let decision) = scan, decision.action != .quarantine {
            log.warning("direction=inbound decision=\(decision.action.rawValue) signer=\(report.signerOrganization) from=\(authorDomain) (\(decision.reason))")
            return respond(decision, actions: actions, log: log)
        }

        for duplicate in claim.duplicates {
            try actions.deleteRecipient(duplicate.recipient)
            log.info("recipient \(duplicate.recipient) dropped: this seal was delivered to it before (\(duplicate.firstQueueID))")
        }

        // Restore the exact original; drop verdict fields forged under our
        // name and every copy of the fields we add for the local chain. The
        // outer Received fields stay: the sending gateway's MTA added its own
        // after its milter sealed, so that hop exists only outside the seal.
        // So do the outer Authentication-Results under other authserv-ids:
        // milters before us (OpenDKIM, OpenDMARC) judged the sealed message
        // as it arrived, and their verdicts are about this delivery; outer
        // ones claiming our authserv-id or a trusted one are forged and go.
        // Inside the original, only the sending organization's own results
        // are restored (a plain authserv-id in its certified domains, the
        // ARC set's too): a field under any other id, or one written so
        // that readers may take its id apart differently, may read as the
        // verdict of one of our own verifiers (OpenDKIM's auth.b.example),
        // which never saw the original, whether or not it wrote a field on
        // this delivery.
        let signerDomains = opened.seal.signer.domains
        // The outer fields kept (Received, Authentication-Results) are
        // looked at like any other: a Received field can hide one of ours
        // after a bare CR.
        try removeForgedVerdicts(transaction: transaction, actions: actions, log: log,
                                 named: ["authentication-results", "received"])
        try MessageFiles.replaceMessage(in: transaction, with: openedFile.path, actions: actions,
                                        keeping: ["received", "authentication-results"]) { field in
            self.isForgedVerdict(name: field.name, value: field.value)
                || (field.hasName("Authentication-Results")
                    && !AuthenticationResults.fieldValue(field.value, isWithin: signerDomains))
                || (field.hasName("ARC-Authentication-Results")
                    && !AuthenticationResults.fieldValue(field.value, isWithin: signerDomains, arc: true))
        }
        var properties = [
            ("header.from", authorDomain), ("policy.signer", report.signerOrganization),
            passed.signerPinned ? ("policy.cert", "static") : ("policy.token", passed.tokenIDs.joined(separator: ",")),
        ]
        // Opened with the key a rekey replaced (PreviousOrgKey, within its grace).
        if runtime.isPreviousKey(report.recipientKeyID) { properties.append(("policy.key", "previous")) }
        try addVerdict(.init(method: "fedmail", result: "pass", properties: properties), actions: actions)

        let response: MilterResponse
        switch scan {
        case .stop(let decision):
            // Quarantine: hold the opened message, so the operator can inspect it.
            log.warning("direction=inbound decision=\(decision.action.rawValue) signer=\(report.signerOrganization) from=\(authorDomain) tokens=\(tokensText) (\(decision.reason))")
            response = respond(decision, actions: actions, log: log)
        case .deliver(let fields, let summary):
            for field in fields { try actions.addHeader(name: field.name, value: field.value) }
            log.info("""
                direction=inbound decision=opened signer=\(report.signerOrganization) from=\(authorDomain) \
                tokens=\(tokensText) recipient=\(report.recipientKind) \(summary)
                """)
            response = .continue
        }
        if response.status == .continue {
            // Recorded once the MTA has the answer (``recordOpenedDelivery()``
            // at the connection's next step): written now, a milter killed
            // before its answer reached the MTA would leave a record of a
            // delivery that never happened, and the partner's retry would
            // be discarded as a replay. Until then the claim stays reserved.
            openedDelivery = (report.sealID, claim.fresh, log)
            committed = true
        }
        return response
    }

    /// Plaintext inbound mail (and anything that was not opened): refused
    /// when a `require` partner appears in its From field; verdict fields
    /// forged under our name or a trusted one removed.
    func checkPlaintextInbound(transaction: MilterTransaction, actions: any MilterMessageActions, log: MessageLog) throws -> MilterResponse {
        if let refusal = try spoofedPartnerRefusal(transaction: transaction, actions: actions, log: log) { return refusal }
        try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
        log.info("direction=inbound decision=untouched (plaintext)")
        return .continue
    }

    /// The `require` rule as anti-spoofing (DESIGN.md "Allowlist"): a
    /// message that was not opened, whose From field names a `require`
    /// partner anywhere — address, display name or comment, since a reader
    /// may take any of them for the author — gets `On-SpoofedPartner`.
    /// `nil` when no such partner appears (or the action is accept).
    func spoofedPartnerRefusal(transaction: MilterTransaction, actions: any MilterMessageActions,
                               log: MessageLog) throws -> MilterResponse? {
        let fromValues = transaction.headers.filter { $0.hasName("From") || $0.hasName("Sender") }.map(\.value)
        guard let partner = SpoofedPartnerCheck.requiredPartner(inFieldValues: fromValues, allowlist: runtime.allowlist,
                                                                textForms: .nfkc) else {
            return nil
        }
        let decision = FailureDecision.spoofedPartner(partner, action: settings.onSpoofedPartner)
        log.warning("direction=inbound decision=\(decision.action.rawValue) (not sealed, From names \(partner), a require partner)")
        if decision.action == .accept { return nil }
        if decision.action == .quarantine {
            try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
            try addVerdict(.init(method: "fedmail", result: "fail", comment: "spoofed-partner"), actions: actions)
        }
        return respond(decision, actions: actions, log: log)
    }

    /// Whether a header field is a verdict only we may add: an
    /// Authentication-Results or ARC-Authentication-Results field that
    /// some reader may take for ours or a `TrustedAuthservIDs` one (any
    /// whose authserv-id is not written plainly as another's:
    /// ``AuthenticationResults/fieldValue(_:mayClaimAnyOf:arc:textForms:)``),
    /// or one of our local-chain scan fields — also when such a field hides
    /// in another's value after a bare CR (``HiddenHeaderFields``), where
    /// a reader that breaks lines there finds it.
    func isForgedVerdict(name: String, value: String) -> Bool {
        if isVerdictField(name: name, value: value) { return true }
        return HiddenHeaderFields.inValue(value).contains { isVerdictField(name: $0.name, value: $0.value) }
    }

    /// ``isForgedVerdict(name:value:)`` for one field as the MTA gave it.
    private func isVerdictField(name: String, value: String) -> Bool {
        let lower = name.lowercased()
        let isARC = lower == "arc-authentication-results"
        if isARC || lower == "authentication-results" {
            return AuthenticationResults.fieldValue(value, mayClaimAnyOf: [runtime.authservID] + settings.trustedAuthservIDs,
                                                    arc: isARC, textForms: .nfkc)
        }
        return scanning.inbound.fieldNames.contains { $0.lowercased() == lower }
    }

    /// Removes every verdict field only we may add (``isForgedVerdict``)
    /// from a message that reaches a local recipient without being replaced.
    /// With `named`, only fields of those (lower-cased) names are looked at.
    func removeForgedVerdicts(transaction: MilterTransaction, actions: any MilterMessageActions, log: MessageLog,
                              named: Set<String>? = nil) throws {
        var occurrences: [String: Int] = [:]
        var forged: [(name: String, occurrence: Int)] = []
        for field in transaction.headers {
            let key = field.name.lowercased()
            if let named, !named.contains(key) { continue }
            let occurrence = (occurrences[key] ?? 0) + 1
            occurrences[key] = occurrence
            if isForgedVerdict(name: field.name, value: field.value) { forged.append((field.name, occurrence)) }
        }
        // Last occurrence first, so the earlier indexes stay right.
        for field in forged.reversed() { try actions.deleteHeader(name: field.name, occurrence: field.occurrence) }
        if !forged.isEmpty {
            log.info("removed \(forged.count) verdict field(s) not added by us: \(Set(forged.map(\.name)).sorted().joined(separator: ", "))")
        }
    }

    /// Adds our Authentication-Results at the top of the header section.
    func addVerdict(_ result: AuthenticationResults.Result, actions: any MilterMessageActions) throws {
        let field = AuthenticationResults(authservID: runtime.authservID, results: [result])
        try actions.insertHeader(at: 0, name: "Authentication-Results", value: field.singleLineFieldValue)
    }
}

/// A count of costly attempts allowed for one message, shared with a
/// closure that may run more often.
final class AttemptBudget: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }

    /// Takes one attempt; false when none is left.
    func take() -> Bool {
        left.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }
}

extension TextForms {
    /// NFKC, as Foundation computes it: what a reader's IDNA mapping and
    /// font make of an equivalent spelling.
    static let nfkc = TextForms { $0.precomposedStringWithCompatibilityMapping }
}
