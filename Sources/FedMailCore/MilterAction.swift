/// What the milter does when something goes wrong, OpenDKIM style
/// (`On-BadSeal reject`, `On-InternalError tempfail`, …).
public enum MilterAction: String, Sendable, Hashable, CaseIterable {
    /// Let the message through unchanged.
    case accept
    /// Refuse it permanently (5xx); the sender gets a bounce.
    case reject
    /// Refuse it for now (4xx); the sending MTA keeps it and retries.
    case tempfail
    /// Accept it into the MTA's hold queue (`smfi_quarantine`) for an operator.
    case quarantine
}
