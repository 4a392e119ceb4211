/// Until when the organization key a rekey replaced still opens mail.
///
/// After a rekey the broker names only the new key, but a sender's cached
/// token may name the old one for up to its TokenLifetime, and that mail may
/// arrive up to MaxMessageAge after it was sealed. The old key is kept
/// (`PreviousOrgKey`) for exactly that long, counted from the current
/// certificate's notBefore (when the rekey happened), and then ignored:
/// mail still sealed to it is `not-for-us`.
public enum PreviousKeyGrace {
    /// Whether the previous key may open mail at `now` (seconds since
    /// 1970), the current certificate valid from `currentNotBefore`.
    public static func isOpen(currentNotBefore: Int64, grace: Int, now: Int64) -> Bool {
        now <= currentNotBefore + Int64(grace)
    }
}
