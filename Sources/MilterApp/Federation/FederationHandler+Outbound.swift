import FedMailCore
import FedMailCrypto
import FederationProtocol
import Foundation
import Milter
import Reinjection

/// Outbound: classify recipients, one batched broker lookup per message
/// (cache first), one seal for every federated recipient organization,
/// mixed recipients per `MixedRecipients`.
extension FederationHandler {
    func sealOutbound(transaction: MilterTransaction, actions: any MilterMessageActions, rawValues: Bool,
                      fromScanningHost: Bool, log: MessageLog) throws -> MilterResponse {
        let recipients = transaction.recipients.map { PlannedRecipient(address: $0.address) }
        let planner = outboundPlanner
        // No verdict under our name leaves here but ours, whoever the
        // recipients are: a recipient without a domain, or at a domain the
        // MTA delivers locally without it being in Domains (localhost, a
        // mydestination alias), keeps the original too, and nothing here
        // can tell every such recipient apart from a remote one.
        try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
        let domains = planner.domainsToLookUp(recipients)
        guard !domains.isEmpty else {
            log.info("direction=outbound decision=untouched (no federated recipient)")
            return .continue
        }

        let lookups = measuredLookUp(domains)
        var logged: Set<String> = []
        for lookup in lookups.values.sorted(by: { $0.domain.value < $1.domain.value }) {
            if let detail = lookup.failureDetail, logged.insert(detail).inserted {
                log.warning("broker lookup for \(lookup.domain) failed: \(detail)")
            }
        }
        switch planner.plan(recipients: recipients, lookups: lookups.mapValues(\.federation)) {
        case .refuse(let decision):
            log.warning("direction=outbound decision=\(decision.action.rawValue) (\(decision.reason))")
            return respond(decision, actions: actions, log: log)

        case .deliverPlaintext(let notes):
            for note in notes { try actions.addHeader(name: Self.plaintextHeader, value: note) }
            log.info("direction=outbound decision=plaintext sealed=0 plain=\(recipients.count) (\(notes.joined(separator: "; ")))")
            return .continue

        case .seal(let sealedGroups, let plaintext, let notes):
            // We sign for the authors: they must be ours.
            if case .foreign(let reason) = ForeignAuthorCheck.check(
                fromFields: transaction.headers.filter { $0.hasName("From") }.map(\.value),
                senderFields: transaction.headers.filter { $0.hasName("Sender") }.map(\.value),
                envelopeSender: transaction.senderMailbox, ourDomains: runtime.signingDomains) {
                let decision = FailureDecision.foreignFrom(reason, action: settings.onForeignFrom)
                log.warning("direction=outbound decision=\(decision.action.rawValue) (On-ForeignFrom: \(reason))")
                if decision.action != .accept { return respond(decision, actions: actions, log: log) }
            }
            do {
                return try seal(groups: sealedGroups, plaintext: plaintext, notes: notes, lookups: lookups,
                                transaction: transaction, actions: actions, rawValues: rawValues,
                                fromScanningHost: fromScanningHost, log: log)
            } catch let error as CryptoError where error.code == .unsealableOriginal {
                // Found before the sealed message's first byte went to the
                // MTA (``Sealer/prepare``): nothing of a seal was sent.
                let decision = FailureDecision.unsealable(error.message)
                log.warning("direction=outbound decision=reject (\(decision.reason))")
                return respond(decision, actions: actions, log: log)
            }
        }
    }

    /// One lookup per (broker, mode) of the allowlist entries — one batched
    /// request per message in the usual single-broker case.
    func lookUp(_ domains: [DomainName]) -> [DomainName: DomainLookup] {
        struct Group: Hashable { var broker: String?; var mode: FederationMode }
        var groups: [Group: [DomainName]] = [:]
        var results: [DomainName: DomainLookup] = [:]
        for domain in domains {
            guard let entry = runtime.allowlist.entry(for: domain) else { continue }
            if entry.certificatePath != nil {
                results[domain] = staticPartnerLookup(domain)
                continue
            }
            groups[Group(broker: entry.broker?.lowercased(), mode: entry.mode), default: []].append(domain)
        }
        for (group, members) in groups {
            guard let brokers = runtime.brokers else {
                for domain in members { results[domain] = DomainLookup(domain: domain, federation: .unavailable(reason: "no BrokerCA configured")) }
                continue
            }
            results.merge(brokers.lookup(domains: members, broker: group.broker, mode: group.mode, timeout: settings.brokerTimeout)) { $1 }
        }
        return results
    }

    /// A domain with a static partner certificate (`cert=`): sealed to that
    /// certificate while it is valid, with no broker and no token.
    func staticPartnerLookup(_ domain: DomainName, now: Date = Date()) -> DomainLookup {
        guard let certificate = runtime.partnerCertificate(for: domain) else {
            return DomainLookup(domain: domain, federation: .unavailable(reason: "static partner certificate for \(domain) not loaded"))
        }
        guard certificate.isValid(at: now) else {
            return DomainLookup(domain: domain, federation: .unavailable(
                reason: "the static partner certificate for \(domain) (\(certificate.subject)) is expired or not yet valid"))
        }
        return DomainLookup(domain: domain, federation: .sealable(recipientKey: .staticCertificate(sha256: Hex.encode(certificate.sha256Fingerprint))),
                            isStaticPartner: true)
    }

    func seal(groups: [RecipientKey: [String]], plaintext: [String], notes: [String], lookups: [DomainName: DomainLookup],
              transaction: MilterTransaction, actions: any MilterMessageActions, rawValues: Bool,
              fromScanningHost: Bool, log: MessageLog) throws -> MilterResponse {
        guard let sealer = runtime.sealer() else {
            throw FederationLoadError("no OrgKey/OrgCertificate to seal with")
        }
        // The original where the milter holds it (header fields, spooled
        // body), scanned as received (the upstream scanner's fields may
        // share a name with ours) before anything is sealed or re-injected.
        // What is sealed leaves out the verdicts only we may add, which were
        // deleted from the MTA's copy above: inside the seal a field under
        // our authserv-id is the sending organization's own result to the
        // partner, who restores it.
        // Built a second time only when there is something to leave out.
        let received = try MessageFiles.messageInput(transaction, rawValues: rawValues)
        let ours = { (field: MilterHeaderField) in self.isForgedVerdict(name: field.name, value: field.value) }
        let original = transaction.headers.contains(where: ours)
            ? try MessageFiles.messageInput(transaction, rawValues: rawValues, omitting: ours) : received
        let virusFlag: ControlFlags.ScanResult, spamFlag: ControlFlags.ScanResult, scanSummary: String
        switch try scanOutbound(original: received, fromScanningHost: fromScanningHost, actions: actions, log: log) {
        case .stop(let response):
            return response
        case .flags(let virus, let spam, let summary):
            (virusFlag, spamFlag, scanSummary) = (virus, spam, summary)
        }
        // Every sealed recipient, in the order the organizations are sealed for.
        let allSealedRecipients = groups.keys.sorted().flatMap { groups[$0] ?? [] }
        var split: PendingSplit?
        if !plaintext.isEmpty {
            switch settings.mixedRecipients {
            case .reject:
                log.warning("direction=outbound decision=reject (mixed sealed and plaintext recipients, MixedRecipients reject)")
                return .reject(with: try Self.smtpReply(.mixedRecipientsRefused))
            case .split, .defer:
                guard let spec = settings.reinject, let client = ReinjectionClient(spec: spec, heloName: runtime.hostname,
                                                                                    timeout: max(5, settings.brokerTimeout * 3)) else {
                    log.error("direction=outbound decision=tempfail (mixed recipients need Reinject inet:PORT@HOST)")
                    return .tempfail(with: try Self.smtpReply(.noReinjectService))
                }
                let id = try SplitID(transaction: transaction, sealedRecipients: allSealedRecipients)
                // What a kept copy must have been sealed with to be re-sent.
                let sealedWith = groups.keys.map(\.description)
                    + [runtime.identity.map { "signer:" + Hex.encode($0.certificate.sha256Fingerprint) } ?? "signer:none"]
                if SplitID.identifiesMessage(transaction) {
                    let claim = splitLedger.claim(sealID: id.bytes, recipients: PendingSplit.distinct(allSealedRecipients), queueID: log.queueID)
                    split = PendingSplit(client: client, id: id, claim: claim, ledger: splitLedger, sealedWith: sealedWith)
                } else {
                    // Two different messages without a Message-ID could hash
                    // alike: better a second copy on a retry than a lost one.
                    log.info("no single Message-ID: split=\(id.shortHex) is not recorded in the split ledger")
                    split = PendingSplit(client: client, id: id, claim: ReplayCache.Claim(fresh: PendingSplit.distinct(allSealedRecipients)), ledger: nil,
                                         sealedWith: sealedWith)
                }
            }
        }
        // A reservation not committed (any failure below) is released, so a retry re-injects.
        var splitCommitted = false
        defer { if let split, !splitCommitted { split.ledger?.release(sealID: split.id.bytes, claim: split.claim) } }
        if let split, split.claim.duplicates.contains(where: \.pending) {
            log.warning("direction=outbound decision=tempfail (split=\(split.id.shortHex) is being re-injected by another transaction)")
            return .tempfail(with: try Self.smtpReply(.splitInProgress))
        }
        if let split, split.claim.fresh.isEmpty {
            // A retry of a transaction that failed after its split: every
            // sealed copy is queued already; take the recipients off again.
            splitCommitted = true
            metrics?.recordDuplicates(ledger: "split", count: split.claim.duplicates.count)
            if let stop = try finishSplit(removing: allSealedRecipients, notes: notes, actions: actions, log: log) { return stop }
            log.warning("direction=outbound decision=split split=\(split.id.shortHex) sealed=\(allSealedRecipients.count) plain=\(plaintext.count) reinjected= already-reinjected=\(split.claim.duplicates.map(\.recipient).joined(separator: ",")) (a retry: the sealed copy was queued by an earlier attempt of the same message) \(scanSummary)")
            return .continue
        }

        // The retry of a message whose sealed copy may already be queued
        // (its re-injection ended in doubt): re-send that copy as it is.
        if let split, let inDoubt = split.inDoubt(splitInDoubt),
           let earlier = inDoubt.store.copy(for: inDoubt.key, youngerThan: Self.inDoubtReuseLimit(maxMessageAge: settings.maxMessageAge)) {
            log.warning("split=\(split.id.shortHex): re-sending the sealed copy of an earlier attempt whose re-injection is in doubt (one seal: the partner delivers it once)")
            return try reinject(split, messageAt: earlier, keptAs: inDoubt, committed: &splitCommitted,
                                sealedRecipients: allSealedRecipients, plaintext: plaintext, notes: notes,
                                summary: "tokens=earlier-attempt \(scanSummary)", transaction: transaction, actions: actions, log: log)
        }

        // One recipientInfo per organization key; one token per organization.
        var organizations: [RecipientOrganization] = []
        var controlRecipients: [ControlFlags.Recipient] = []
        var tokenFields: [FedMailTokenHeader] = []
        var tokenIDs: [String] = []
        var sealedRecipients: [String] = []
        var staticPartners: [String] = []
        // Each organization's envelope recipients, bound into the signed
        // control part (RecipientAddressBinding): its gateway opens the
        // copy for them only.
        let addressSalt = RecipientAddressBinding.newSalt()
        for key in groups.keys.sorted() {
            let addresses = groups[key] ?? []
            sealedRecipients += addresses
            let groupLookups = addresses.compactMap { DomainName(ofAddress: $0) }.compactMap { lookups[$0] }
            guard let lookup = groupLookups.first else {
                throw FederationLoadError("no lookup for recipient organization \(key)")
            }
            var groupDomains: [String] = []
            for domain in groupLookups.map(\.domain.value) where !groupDomains.contains(domain) { groupDomains.append(domain) }
            let organization: RecipientOrganization
            switch key {
            case .staticCertificate:
                // A static partner certificate (loaded with the allowlist): no broker, no token.
                guard let certificate = runtime.partnerCertificate(for: lookup.domain) else {
                    throw FederationLoadError("no static certificate for \(lookup.domain)")
                }
                organization = .certificate(certificate)
                staticPartners.append(lookup.domain.value)
            case .proofOfPossession, .organizationKey:
                guard let token = lookup.token, let tokenID = lookup.tokenID else {
                    throw FederationLoadError("no token for recipient organization \(key)")
                }
                if case .proofOfPossession = key {
                    guard let envelope = lookup.popKeyEnvelope, let brokers = runtime.brokers else {
                        throw FederationLoadError("no PoP key for \(lookup.domain)")
                    }
                    let bytes = try brokers.openPoPKey(envelope, includingPrevious: false)
                    organization = .proofOfPossession(try ProofOfPossessionKey(key: bytes, id: Array(tokenID.utf8)))
                } else {
                    guard let pem = lookup.keyContainerPEM,
                          let certificate = try OpenSSLCertificate.parse(pem: Array(pem.utf8), source: "key container for \(lookup.domain)").first else {
                        throw FederationLoadError("no key container for \(lookup.domain)")
                    }
                    organization = .certificate(certificate)
                }
                tokenFields.append(FedMailTokenHeader(domain: lookup.domain.value, token: token))
                tokenIDs.append(tokenID)
            }
            organizations.append(organization)
            let digests = addresses.map { RecipientAddressBinding.digest(of: $0, salt: addressSalt) }
            guard digests.allSatisfy({ $0 != nil }) else {
                throw FederationLoadError("a recipient of organization \(key) has no mailbox to bind: \(addresses.joined(separator: ", "))")
            }
            controlRecipients.append(.init(keyId: organization.keyIdentifierHex, domains: groupDomains,
                                           addresses: digests.compactMap { $0 }))
        }

        let control = ControlFlags(sealedBy: runtime.hostname, tokens: tokenIDs, recipients: controlRecipients,
                                   addressSalt: addressSalt, virusScan: virusFlag, spamScan: spamFlag)
        let tokensText = (tokenIDs + staticPartners.map { "static:\($0)" }).joined(separator: ",")
        if let split {
            // The sealed copy goes to the re-injection service (and may be
            // kept in doubt): a file.
            let sealedFile = try SpoolFile(directory: spoolDirectory, prefix: "sealed")
            try sealer.seal(original, outputPath: sealedFile.path, recipients: organizations,
                            control: control, tokens: tokenFields, protectSubject: settings.protectSubject)
            return try reinject(split, messageAt: sealedFile.path, keptAs: nil, committed: &splitCommitted,
                                sealedRecipients: sealedRecipients, plaintext: plaintext, notes: notes,
                                summary: "tokens=\(tokensText) \(scanSummary)", transaction: transaction, actions: actions, log: log)
        }
        // Sealed straight into the MTA's new body, through no file. What can
        // fail before the body's first byte fails before anything is sent;
        // a seal that fails part-way tempfails (the MTA has part of a new body).
        let seal = try sealer.prepare(original, recipients: organizations, control: control, tokens: tokenFields,
                                      protectSubject: settings.protectSubject)
        try MessageFiles.replaceMessage(in: transaction, actions: actions, headerPart: seal.header) { write in
            try seal.writeBody { (block) throws(CryptoError) in
                do { try write(block) } catch {
                    throw CryptoError(code: .io, message: "the MTA did not take the sealed body: \(error)")
                }
            }
        }
        log.info("direction=outbound decision=sealed sealed=\(sealedRecipients.count) plain=0 organizations=\(organizations.count) tokens=\(tokensText) \(scanSummary)")
        return .continue
    }
}

extension FederationHandler {
    /// How old a sealed copy kept in doubt may be and still be re-sent: half
    /// of MaxMessageAge, at most a day (a client retries within hours; the
    /// partner, with the same default, still opens the copy after days in
    /// queues). An older one is sealed again.
    static func inDoubtReuseLimit(maxMessageAge: Int) -> TimeInterval { min(TimeInterval(maxMessageAge) / 2, 86_400) }

    /// Hands the sealed copy at `path` to the re-injection service for the
    /// split's unconfirmed recipients, then takes the sealed recipients off
    /// the original. `keptAs`: the copy is one an earlier attempt left in
    /// doubt. A new copy is kept (``InDoubtSealedCopies``) before it is
    /// sent, so that neither a lost reply nor this milter killed while it
    /// waits for one makes the retry seal again; it is removed once the
    /// service has answered. A failure tempfails the message.
    func reinject(_ split: PendingSplit, messageAt path: String, keptAs kept: PendingSplit.InDoubt?, committed: inout Bool,
                  sealedRecipients: [String], plaintext: [String], notes: [String], summary: String,
                  transaction: MilterTransaction, actions: any MilterMessageActions, log: MessageLog) throws -> MilterResponse {
        let envelope = ReinjectionEnvelope(
            sender: transaction.senderMailbox ?? "", senderParameters: transaction.senderArguments,
            recipients: split.claim.fresh.map { address in
                .init(address: address, parameters: transaction.recipients.first { $0.address == address }?.arguments ?? [])
            })
        var keptCopy = kept
        if kept == nil, let inDoubt = split.inDoubt(splitInDoubt) {
            do {
                try inDoubt.store.keep(sealedAt: path, for: inDoubt.key)
                keptCopy = inDoubt
            } catch {
                log.warning("split=\(split.id.shortHex): the sealed copy is not kept before its re-injection (\(error)): if the answer is lost, the retry seals again and the partner may get two copies")
            }
        }
        do {
            let receipt = try split.client.send(messageAt: path, envelope: envelope)
            if !receipt.droppedParameters.isEmpty {
                log.warning("the re-injection service does not offer DSN or SMTPUTF8: \(receipt.droppedParameters.joined(separator: " ")) not carried")
            }
        } catch {
            metrics?.recordReinjection(succeeded: false)
            if error.outcomeUnknown || kept != nil, let keptCopy {
                // This attempt's copy, or an earlier one's, may be queued.
                do { try keptCopy.store.makeDurable(keptCopy.key) } catch {
                    log.error("split=\(split.id.shortHex): the sealed copy kept in doubt could not be written through: \(error)")
                }
                log.error("direction=outbound decision=tempfail (re-injection of the sealed copy \(error.outcomeUnknown ? "ended in doubt" : "failed again"): \(error); the copy is kept, and the retry re-sends it)")
            } else if error.outcomeUnknown {
                log.error("direction=outbound decision=tempfail (re-injection of the sealed copy ended in doubt: \(error); no copy is kept, so the retry seals again and the partner may get two copies)")
            } else {
                // Refused, or failed before the end of data: not queued.
                if let keptCopy { keptCopy.store.remove(keptCopy.key) }
                log.error("direction=outbound decision=tempfail (re-injection of the sealed copy failed: \(error))")
            }
            return .tempfail(with: try Self.smtpReply(.reinjectionFailed))
        }
        committed = true
        metrics?.recordReinjection(succeeded: true)
        do { try split.ledger?.commit(sealID: split.id.bytes, recipients: split.claim.fresh) } catch {
            log.error("split ledger not written (\(error)): a retry of this message would re-inject its sealed copy again")
        }
        if let keptCopy { keptCopy.store.remove(keptCopy.key) }
        if let stop = try finishSplit(removing: sealedRecipients, notes: notes, actions: actions, log: log) { return stop }
        let already = split.claim.duplicates.map(\.recipient)
        metrics?.recordDuplicates(ledger: "split", count: already.count)
        log.info("direction=outbound decision=split split=\(split.id.shortHex) sealed=\(sealedRecipients.count) plain=\(plaintext.count) reinjected=\(split.claim.fresh.joined(separator: ","))\(already.isEmpty ? "" : " already-reinjected=" + already.joined(separator: ",")) \(summary)")
        return .continue
    }

    /// After the sealed copy is queued (now or by an earlier attempt): the
    /// sealed recipients come off the original. Any failure here tempfails,
    /// whatever `On-InternalError` says — accepting would hand the sealed
    /// recipients the plaintext original, rejecting would tell the sender
    /// the message failed although their copy is on its way; the client's
    /// retry finds the split in the ledger and finishes it.
    func finishSplit(removing sealedRecipients: [String], notes: [String], actions: any MilterMessageActions,
                     log: MessageLog) throws -> MilterResponse? {
        do {
            for address in sealedRecipients { try actions.deleteRecipient(address) }
            for note in notes { try actions.addHeader(name: Self.plaintextHeader, value: note) }
            return nil
        } catch {
            log.error("direction=outbound decision=tempfail (removing the sealed recipients from the original failed after the split: \(error))")
            return .tempfail(with: try Self.smtpReply(.reinjectionFailed))
        }
    }
}

/// A split under way: the re-injection client, the split's identity and
/// which sealed recipients still need their copy (the ledger's claim).
struct PendingSplit {
    let client: ReinjectionClient
    let id: SplitID
    let claim: ReplayCache.Claim
    /// The split ledger the claim was made in; nil when the split is not
    /// recorded (a message without a single Message-ID).
    let ledger: ReplayCache?
    /// The recipient organizations' keys and our signing certificate.
    let sealedWith: [String]

    /// Where this split's sealed copy is kept if its re-injection ends in doubt.
    struct InDoubt {
        let store: InDoubtSealedCopies
        let key: String
    }

    /// The in-doubt place for this split in `store`; nil when the split is
    /// not recorded (no single Message-ID: two different messages could
    /// share the key, and re-sending one's seal for the other would have
    /// the partner discard the second message) or there is no store.
    func inDoubt(_ store: InDoubtSealedCopies?) -> InDoubt? {
        guard let store, ledger != nil else { return nil }
        return InDoubt(store: store, key: InDoubtSealedCopies.key(split: id, recipients: claim.fresh, sealedWith: sealedWith))
    }

    /// The addresses once each, compared as the ledger compares them
    /// (``SplitID/normalized(_:)``), first spelling kept: a recipient given
    /// twice, in any spelling, is re-injected once (and is not taken for a
    /// split in flight elsewhere).
    static func distinct(_ addresses: [String]) -> [String] {
        var seen: Set<String> = []
        return addresses.filter { seen.insert(SplitID.normalized($0)).inserted }
    }
}
