import Foundation
import SystemIO

/// Dropping root privileges once the listening socket is bound (OpenDKIM's
/// `UserID`), the milter's way (``ProcessUser``).
public enum PrivilegeDrop {
    /// Switches to `spec` (`user` or `user:group`) when running as root; a no-op otherwise.
    public static func drop(to spec: String) throws {
        guard geteuid() == 0 else { return }
        do {
            try ProcessUser(resolvingSpec: spec).become()
        } catch {
            throw BrokerError(error.kind == .unknown ? .badRequest : .internalError, "UserID \(spec): \(error.message)")
        }
    }
}
