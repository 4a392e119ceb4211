internal import CMilter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The C callbacks libmilter calls on its threads. Each one finds (or, for the
// first callback of a connection, creates) the connection's Swift object in
// libmilter's private pointer, records what the step brings, calls the
// handler and turns its response into a libmilter status.

/// The `smfiDesc` handed to `smfi_register`.
func makeFilterDescription(name: UnsafeMutablePointer<CChar>?, flags: UInt) -> smfiDesc {
    smfiDesc(
        xxfi_name: name,
        xxfi_version: Int32(SMFI_VERSION),
        xxfi_flags: flags,
        xxfi_connect: { ctx, hostname, address in
            dispatch(ctx, .connect) { connection in
                let session = connection.session
                session.client = MilterClient(hostname: hostname.map { String(cString: $0) } ?? "unknown",
                                              address: address.flatMap(socketAddressText),
                                              port: address.flatMap(socketAddressPort))
                return try connection.handler.connect(session: session)
            }
        },
        xxfi_helo: { ctx, name in
            dispatch(ctx, .helo) { connection in
                let helo = name.map { String(cString: $0) } ?? ""
                connection.session.heloName = helo
                return try connection.handler.helo(helo, session: connection.session)
            }
        },
        xxfi_envfrom: { ctx, argv in
            dispatch(ctx, .envelopeSender, startsTransaction: true) { connection in
                let arguments = stringArray(argv)
                let transaction = connection.session.currentTransaction()
                transaction.recordSender(arguments.first ?? "<>", arguments: Array(arguments.dropFirst()))
                return try connection.handler.envelopeSender(transaction.sender ?? "<>",
                                                             arguments: transaction.senderArguments,
                                                             session: connection.session)
            }
        },
        xxfi_envrcpt: { ctx, argv in
            dispatch(ctx, .envelopeRecipient) { connection in
                let arguments = stringArray(argv)
                let recipient = MilterRecipient(address: arguments.first ?? "<>", arguments: Array(arguments.dropFirst()))
                let response = try connection.handler.envelopeRecipient(recipient, session: connection.session)
                if response.status == .continue || response.status == .accept {
                    connection.session.currentTransaction().recordRecipient(recipient)
                }
                return response
            }
        },
        xxfi_header: { ctx, name, value in
            dispatch(ctx, .header) { connection in
                // The exact bytes: String(cString:) would repair invalid
                // UTF-8 (a Latin-1 "caf\xE9") to U+FFFD.
                let field = MilterHeaderField(nameBytes: cStringBytes(name), rawBytes: cStringBytes(value))
                if connection.configuration.requirements.collectsHeaders {
                    connection.session.currentTransaction().recordHeader(field)
                }
                return try connection.handler.header(field, session: connection.session)
            }
        },
        xxfi_eoh: { ctx in
            dispatch(ctx, .endOfHeaders) { connection in
                try connection.handler.endOfHeaders(session: connection.session)
            }
        },
        xxfi_body: { ctx, bytes, length in
            dispatch(ctx, .body) { connection in
                let chunk = UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : length)
                if connection.configuration.requirements.collectsBody {
                    try connection.session.currentTransaction().body.append(chunk)
                }
                return try connection.handler.body(chunk, session: connection.session)
            }
        },
        xxfi_eom: { ctx in
            dispatch(ctx, .endOfMessage) { connection in
                guard let ctx else { return .tempfail }
                let session = connection.session
                _ = session.currentTransaction()
                let negotiation = session.negotiation
                let actions = LibMilterMessageActions(
                    context: ctx,
                    granted: MilterActions(rawValue: negotiation?.actions ?? connection.configuration.requirements.actions.rawValue),
                    rawHeaderValues: negotiation?.rawHeaderValues ?? false)
                defer {
                    actions.invalidate()
                    session.endMessage()
                }
                do { return try connection.handler.endOfMessage(session: session, actions: actions) } catch {
                    // Never continue with a half-changed message.
                    return MilterActionRules.answerAfterFailure(connection.handler.failed(error, stage: .endOfMessage, session: session),
                                                                sentChanges: actions.hasSentChanges)
                }
            }
        },
        xxfi_abort: { ctx in
            guard let connection = existingConnection(ctx) else { return sfsistat(SMFIS_CONTINUE) }
            connection.heldMessageResponse = nil
            connection.handler.abort(session: connection.session)
            connection.session.endTransaction()
            return sfsistat(SMFIS_CONTINUE)
        },
        xxfi_close: { ctx in
            guard let ctx, let raw = smfi_getpriv(ctx) else { return sfsistat(SMFIS_CONTINUE) }
            smfi_setpriv(ctx, nil)
            let connection = Unmanaged<MilterConnection>.fromOpaque(raw).takeRetainedValue()
            connection.handler.close(session: connection.session)
            connection.session.endTransaction()
            return sfsistat(SMFIS_CONTINUE)
        },
        xxfi_unknown: nil,
        xxfi_data: { ctx in
            dispatch(ctx, .data) { connection in
                try connection.handler.data(session: connection.session)
            }
        },
        xxfi_negotiate: { ctx, f0, f1, _, _, pf0, pf1, pf2, pf3 in
            guard let connection = connection(for: ctx) else { return sfsistat(SMFIS_REJECT) }
            let requirements = connection.configuration.requirements
            do {
                let negotiation = try MilterNegotiation(offeredActions: f0, offeredProtocol: f1, requirements: requirements)
                connection.session.negotiation = negotiation
                pf0?.pointee = negotiation.actions
                pf1?.pointee = negotiation.protocolFlags
                pf2?.pointee = 0
                pf3?.pointee = 0
                if negotiation.canSetMacroLists, let ctx {
                    for (stage, names) in requirements.macros where !names.isEmpty {
                        guard let macroStage = stage.macroStage else { continue }
                        let list = names.joined(separator: " ")
                        let result = withMutableCString(list) { smfi_setsymlist(ctx, macroStage, $0) }
                        if result != MI_SUCCESS {
                            connection.configuration.log("smfi_setsymlist(\(stage), \(list)) failed; using the MTA's default macros")
                        }
                    }
                }
                return sfsistat(SMFIS_CONTINUE)
            } catch {
                connection.configuration.log("refusing the MTA at negotiation: \(error)")
                return sfsistat(SMFIS_REJECT)
            }
        }
    )
}

/// The connection object of `ctx`, if one was created.
private func existingConnection(_ ctx: OpaquePointer?) -> MilterConnection? {
    guard let ctx, let raw = smfi_getpriv(ctx) else { return nil }
    return Unmanaged<MilterConnection>.fromOpaque(raw).takeUnretainedValue()
}

/// The connection object of `ctx`, created on the connection's first callback.
private func connection(for ctx: OpaquePointer?) -> MilterConnection? {
    if let existing = existingConnection(ctx) { return existing }
    // While draining for a stop, new connections are refused (the MTA
    // applies its default action, normally tempfail).
    guard !MilterServer.isDraining else { return nil }
    guard let ctx, let configuration = MilterRegistry.shared.configuration.withLock({ $0 }) else { return nil }
    let created = MilterConnection(configuration: configuration)
    guard smfi_setpriv(ctx, Unmanaged.passRetained(created).toOpaque()) == MI_SUCCESS else {
        Unmanaged.passUnretained(created).release()
        return nil
    }
    return created
}

/// Runs one step: records macros, calls `body`, maps errors through the
/// handler's failure policy, sets any custom reply and returns the status.
///
/// At a step the MTA does not wait for (``MilterNegotiation/noReplyStages``)
/// the answer is `SMFIS_NOREPLY`; an answer other than continue is held and
/// given, with its reply, at the next step the MTA waits for, instead of
/// calling the handler there (a connect or HELO answer for the rest of the
/// connection, a message step's answer for the rest of the message).
private func dispatch(_ ctx: OpaquePointer?, _ stage: MilterStage, startsTransaction: Bool = false,
                      _ body: (MilterConnection) throws -> MilterResponse) -> sfsistat {
    guard let ctx, let connection = connection(for: ctx) else { return sfsistat(SMFIS_TEMPFAIL) }
    let session = connection.session
    let withoutReply = session.negotiation?.noReplyStages.contains(stage) == true
    var response: MilterResponse
    if startsTransaction {
        connection.heldMessageResponse = nil
        session.endTransaction()
    }
    if startsTransaction, MilterServer.isDraining {
        response = .tempfail(with: drainingReply)
    } else {
        // The MTA sends macros only at steps that have a macro stage (never
        // per header field or body chunk): nothing new to record at the others.
        if stage.macroStage != nil { recordMacros(ctx, stage: stage, connection: connection) }
        if !withoutReply, let held = connection.heldResponse {
            response = held
        } else {
            do {
                response = try body(connection)
            } catch {
                response = connection.handler.failed(error, stage: stage, session: session)
            }
        }
    }
    if response.status == .skip, stage != .body || session.negotiation?.canSkip != true {
        response = .continue
    }
    if withoutReply {
        if response.status != .continue { connection.hold(response, from: stage) }
        return sfsistat(SMFIS_NOREPLY)
    }
    // Accepted during the message: the MTA sends nothing more of it (no
    // body, no end of message), so the transaction ends here.
    if response.status == .accept, stage == .data || stage == .header || stage == .endOfHeaders || stage == .body {
        session.endTransaction()
    }
    if let reply = response.reply, response.status == .reject || response.status == .tempfail {
        if setReply(ctx, reply) != MI_SUCCESS {
            connection.configuration.log("smfi_setreply(\(reply.code)) failed; the MTA sends its default reply")
        }
    }
    return response.libmilterStatus
}

/// The answer to a new message while the milter is stopping.
private let drainingReply = SMTPReply(uncheckedCode: "451", enhancedCode: "4.3.2",
                                      lines: ["mail filter restarting, try again later"])

/// Copies the requested macros that libmilter has at this step into the
/// connection (connect, helo) or the message (later steps).
private func recordMacros(_ ctx: OpaquePointer, stage: MilterStage, connection: MilterConnection) {
    let names = connection.configuration.requirements.allMacroNames
    guard !names.isEmpty else { return }
    var found: [String: String] = [:]
    for name in names {
        let value = withMutableCString(name) { smfi_getsymval(ctx, $0) }
        if let value { found[name] = String(cString: value) }
    }
    guard !found.isEmpty else { return }
    connection.session.recordMacros(canonical: found, stage: stage)
}

/// `smfi_setreply` for one line, `smfi_setmlreply` for several.
private func setReply(_ ctx: OpaquePointer, _ reply: SMTPReply) -> Int32 {
    withMutableCString(reply.code) { code in
        withOptionalMutableCString(reply.enhancedCode) { enhanced in
            if reply.lines.count == 1 {
                return withMutableCString(reply.lines[0]) { smfi_setreply(ctx, code, enhanced, $0) }
            }
            let copies = reply.lines.map { strdup($0) }
            defer { copies.forEach { free($0) } }
            let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
            return pointers.withUnsafeBufferPointer {
                fedmail_setmlreply(ctx, code, enhanced, $0.baseAddress, Int32($0.count))
            }
        }
    }
}

/// The bytes of a NUL-terminated C string, without the NUL and without any
/// decoding; empty for NULL.
func cStringBytes(_ string: UnsafePointer<CChar>?) -> [UInt8] {
    guard let string else { return [] }
    return Array(UnsafeRawBufferPointer(start: string, count: strlen(string)))
}

/// The argv array of `MAIL FROM`/`RCPT TO` as Swift strings.
private func stringArray(_ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard let argv else { return [] }
    var result: [String] = []
    var index = 0
    while let item = argv[index] {
        result.append(String(cString: item))
        index += 1
    }
    return result
}

/// The IP address of a socket address in text form.
private func socketAddressText(_ address: UnsafeMutablePointer<sockaddr>) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(address.pointee.sa_family) {
    case AF_INET:
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
            var addr = inet.pointee.sin_addr
            guard inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    case AF_INET6:
        return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet6 in
            var addr = inet6.pointee.sin6_addr
            guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    default:
        return nil
    }
}

/// The port of an IPv4/IPv6 socket address.
private func socketAddressPort(_ address: UnsafeMutablePointer<sockaddr>) -> Int? {
    switch Int32(address.pointee.sa_family) {
    case AF_INET:
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
    case AF_INET6:
        return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
    default:
        return nil
    }
}
