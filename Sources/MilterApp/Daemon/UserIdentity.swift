import FedMailCore
import SystemIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The user and group the milter runs as after start-up (`UserID`): the
/// shared ``ProcessUser`` with the milter's exit codes.
public struct UserIdentity: Sendable, Hashable {
    public let process: ProcessUser
    public var user: String { process.user }
    public var uid: uid_t { process.uid }
    public var gid: gid_t { process.gid }

    /// A `UserID` that cannot be resolved or applied.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var exitCode: ExitCode
        public var description: String { message }

        init(_ failure: ProcessUser.Failure) {
            message = failure.message
            switch failure.kind {
            case .unknown: exitCode = .noUser
            case .notRoot: exitCode = .noPermission
            case .system: exitCode = .osError
            }
        }
    }

    /// Looks the user (and group) up in the system databases.
    public init(resolving spec: MilterConfiguration.UserSpec) throws(Failure) {
        do { process = try ProcessUser(resolving: spec.user, group: spec.group) } catch { throw Failure(error) }
    }

    /// Switches the process to this user and group for good.
    public func become() throws(Failure) {
        do { try process.become() } catch { throw Failure(error) }
    }
}
