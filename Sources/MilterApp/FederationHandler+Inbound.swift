import FedMailCore
import FedMailCrypto
import Foundation
import Milter

/// Inbound: open sealed mail for our domains with every check of DESIGN.md
/// (the crypto ones in the Opener, the token ones here), restore the exact
/// original, add Authentication-Results; refuse plaintext that claims a
/// `require` partner.
extension FederationHandler {
    /// A check that failed while opening, with the action it calls for.
    struct OpeningFailure: Error {
        enum Kind { case badSeal, notForUs, internalError }
        var kind: Kind
        var check: String
        var message: String
    }

    func openInbound(transaction: MilterTransaction, actions: MilterMessageActions, rawValues: Bool,
                     log: MessageLog) throws -> MilterResponse {
        do {
            return try open(transaction: transaction, actions: actions, rawValues: rawValues, log: log)
        } catch let failure as OpeningFailure {
            let action: MilterConfiguration.FailureAction
            switch failure.kind {
            case .badSeal: action = settings.onBadSeal
            case .notForUs: action = settings.onNotForUs
            case .internalError: action = runtime.configuration.onInternalError
            }
            log.warning("direction=inbound decision=\(action.rawValue) (\(failure.check): \(failure.message))")
            if failure.kind == .internalError {
                return respond(settings: action, reject: ("550", "5.3.0"), text: "FedMail: internal error opening the message",
                               reason: "FedMail: \(failure.check)", actions: actions, log: log, tempfailCode: ("451", "4.3.0"))
            }
            return respond(settings: action, reject: ("550", "5.7.1"), text: "FedMail: \(failure.check)",
                           reason: "FedMail: \(failure.check)", actions: actions, log: log, tempfailCode: ("451", "4.7.1"))
        }
    }

    private func open(transaction: MilterTransaction, actions: MilterMessageActions, rawValues: Bool,
                      log: MessageLog) throws -> MilterResponse {
        guard let identity = runtime.identity, !runtime.brokerCA.isEmpty || !runtime.partnerCertificates.isEmpty else {
            throw OpeningFailure(kind: .internalError, check: "not-configured",
                                 message: "OrgKey, OrgCertificate and BrokerCA (or static partner certificates) are needed to open sealed mail")
        }
        let brokers = runtime.brokers
        let ourDomains = Set(settings.domains)
        let tokenHeaders = transaction.headers.filter { $0.name.lowercased() == FedMailTokenHeader.fieldName.lowercased() }
            .compactMap { FedMailTokenHeader.parse(value: $0.value) }

        // Pop mode: the PoP key travels in the token, encrypted to our key.
        var popKeys: [ProofOfPossessionKey] = []
        for header in tokenHeaders where DomainName(header.domain).map(ourDomains.contains) == true {
            guard let (jti, envelope) = FederationBrokers.unverifiedPoP(of: header.token),
                  let key = try? brokers?.openPoPKey(envelope),
                  let popKey = try? ProofOfPossessionKey(key: key, id: Array(jti.utf8)) else { continue }
            popKeys.append(popKey)
        }

        let sealedFile = try SpoolFile(directory: spoolDirectory, prefix: "inbound")
        try MessageFiles.writeOriginal(transaction, rawValues: rawValues, to: sealedFile.path)
        let openedFile = try SpoolFile(directory: spoolDirectory, prefix: "opened")
        var opener = Opener(identities: [identity], popKeys: popKeys, brokerCA: runtime.brokerCA,
                            maxMessageAge: TimeInterval(settings.maxMessageAge), temporaryDirectory: spoolDirectory)
        opener.pinnedSigners = Array(runtime.partnerCertificates.values)
        let opened: OpenedMessage
        do {
            opened = try opener.open(sealedPath: sealedFile.path, outputPath: openedFile.path)
        } catch {
            switch error.code {
            case .notForUs: throw OpeningFailure(kind: .notForUs, check: error.code.name, message: error.message)
            case .internalError: throw OpeningFailure(kind: .internalError, check: error.code.name, message: error.message)
            default: throw OpeningFailure(kind: .badSeal, check: error.code.name, message: error.message)
            }
        }
        let report = opened.report

        // A static partner (the allowlist's cert=): the signer was accepted
        // as that exact certificate, so it must be the one pinned for every
        // From domain; no token is needed. Otherwise, token checks: at
        // least one token for our domains; each verifies offline against the
        // pinned broker CA at signing time and is bound to this message
        // (aud, purpose, scf, jti in the signed control part).
        let signerSHA256 = Hex.encode(report.signerCertificateSHA256)
        if report.signerPinned {
            for domain in report.fromDomains {
                let pinned = DomainName(domain).flatMap { runtime.partnerCertificate(for: $0) }
                guard let pinned, Hex.encode(pinned.sha256Fingerprint) == signerSHA256 else {
                    throw OpeningFailure(kind: .badSeal, check: "signer-not-pinned-for-domain",
                                         message: "signer \(report.signerSubject) is a static partner certificate, but not the one the allowlist pins for \(domain)")
                }
            }
        }
        let ours = report.signerPinned ? [] : opened.tokenHeaders.filter { DomainName($0.domain).map(ourDomains.contains) == true }
        guard report.signerPinned || !ours.isEmpty else {
            throw OpeningFailure(kind: .badSeal, check: "token-missing", message: "no FedMail-Token for one of our domains")
        }
        let binding = SealTokenBinding(ourDomains: ourDomains)
        var verified: [VerifiedToken] = []
        for header in ours {
            guard let brokers else {
                throw OpeningFailure(kind: .badSeal, check: "token-signature", message: "no BrokerCA configured to verify the token")
            }
            let token: VerifiedToken
            do {
                token = try brokers.verify(token: header.token, audience: header.domain, at: report.signingTime,
                                           timeout: settings.brokerTimeout)
            } catch {
                throw OpeningFailure(kind: .badSeal, check: "token-signature", message: "\(error)")
            }
            do {
                try binding.check(token.binding, signingTime: Int64(report.signingTime.timeIntervalSince1970),
                                  signerCertificateSHA256: signerSHA256, signedTokenIDs: opened.signedTokenIDs)
            } catch {
                throw OpeningFailure(kind: .badSeal, check: error.check, message: error.message)
            }
            verified.append(token)
        }
        // The envelope sender's domain, when there is one, must be the signer's too.
        if let sender = transaction.senderMailbox, !sender.isEmpty, let domain = DomainName(ofAddress: sender),
           !report.signerDomains.contains(where: { DomainName($0) == domain }) {
            throw OpeningFailure(kind: .badSeal, check: "envelope-sender-domain",
                                 message: "envelope sender domain \(domain) is not a domain of the signer")
        }

        // Control flags, honored only as far as the allowlist's trust= says
        // (they count only because they are inside the signed part); else
        // the opened message is scanned here. Nothing is released before this.
        let fromDomain = report.fromDomains.first ?? "-"
        let trust = DomainName(fromDomain).flatMap { runtime.allowlist.entry(for: $0)?.trust } ?? []
        let scan = scanInbound(openedPath: openedFile.path, control: opened.control, partner: fromDomain, trust: trust)
        if case .stop(let action, let reject, let tempfail, let reason) = scan, action != .quarantine {
            log.warning("direction=inbound decision=\(action.rawValue) signer=\(report.signerOrganization) from=\(fromDomain) (\(reason))")
            return respond(action, reject: reject, tempfail: tempfail, reason: reason, actions: actions, log: log)
        }

        // Restore the exact original; drop Authentication-Results forged under
        // our name and every copy of the fields we add for the local chain.
        // The outer Received fields stay on top: the sending gateway's MTA
        // added its own after its milter sealed, so that hop of the trace
        // exists only outside the seal.
        let authservID = runtime.authservID
        let ourFields = scanning.inbound.fieldNames
        try MessageFiles.replaceMessage(in: transaction, with: openedFile.path, actions: actions,
                                        keeping: ["received"]) { field in
            (field.hasName("Authentication-Results") && AuthenticationResults.fieldValue(field.value, claims: authservID))
                || ourFields.contains { field.hasName($0) }
        }
        let jtis = verified.map(\.binding.jti)
        let result = AuthenticationResults(authservID: authservID, results: [
            .init(method: "fedmail", result: "pass", properties: [
                ("header.from", fromDomain), ("policy.signer", report.signerOrganization),
                report.signerPinned ? ("policy.cert", "static") : ("policy.token", jtis.joined(separator: ",")),
            ]),
        ])
        try actions.addHeader(name: "Authentication-Results", value: result.singleLineFieldValue)

        let jtisText = report.signerPinned ? "static" : jtis.joined(separator: ",")
        switch scan {
        case .stop(let action, let reject, let tempfail, let reason):
            // Quarantine: hold the opened message, so the operator can inspect it.
            log.warning("direction=inbound decision=\(action.rawValue) signer=\(report.signerOrganization) from=\(fromDomain) tokens=\(jtisText) (\(reason))")
            return respond(action, reject: reject, tempfail: tempfail, reason: reason, actions: actions, log: log)
        case .deliver(let fields, let summary):
            for field in fields { try actions.addHeader(name: field.name, value: field.value) }
            log.info("""
                direction=inbound decision=opened signer=\(report.signerOrganization) from=\(fromDomain) \
                tokens=\(jtisText) recipient=\(report.recipientKind) \(summary)
                """)
        }
        return .continue
    }

    /// Plaintext inbound mail: refused when its From domain is a `require`
    /// partner (anti-spoofing); Authentication-Results forged under our
    /// authserv-id and every copy of our inbound scan fields
    /// (`InboundVirusHeader`, `InboundSpamHeader`) are removed.
    func checkPlaintextInbound(transaction: MilterTransaction, actions: MilterMessageActions, log: MessageLog) throws -> MilterResponse {
        let fromDomains = transaction.headers.filter { $0.name.lowercased() == "from" }
            .flatMap { MailAddressDomains.domains(inAddressList: $0.value) }
        if let partner = SpoofedPartnerCheck.requiredPartner(fromDomains: fromDomains, allowlist: runtime.allowlist) {
            let action = settings.onSpoofedPartner
            log.warning("direction=inbound decision=\(action.rawValue) (plaintext From \(partner), a require partner)")
            return respond(settings: action, reject: ("550", "5.7.1"), text: "FedMail: \(partner) requires sealed mail",
                           reason: "FedMail: plaintext from require partner \(partner)", actions: actions, log: log,
                           tempfailCode: ("451", "4.7.1"))
        }
        let authservID = runtime.authservID
        var occurrence = 0
        var forged: [Int] = []
        for field in transaction.headers where field.name.lowercased() == "authentication-results" {
            occurrence += 1
            if AuthenticationResults.fieldValue(field.value, claims: authservID) { forged.append(occurrence) }
        }
        for index in forged.reversed() { try actions.deleteHeader(name: "Authentication-Results", occurrence: index) }
        // Only we add the local-chain scan fields: copies from outside are forged.
        var removedFields = 0
        for name in scanning.inbound.fieldNames {
            let count = transaction.headers.filter { $0.name.lowercased() == name.lowercased() }.count
            for index in stride(from: count, through: 1, by: -1) { try actions.deleteHeader(name: name, occurrence: index) }
            removedFields += count
        }
        let removed = (forged.isEmpty ? "" : " removed=\(forged.count) forged Authentication-Results")
            + (removedFields == 0 ? "" : " removed=\(removedFields) forged \(scanning.inbound.fieldNames.joined(separator: "/"))")
        log.info("direction=inbound decision=untouched (plaintext)\(removed)")
        return .continue
    }
}
