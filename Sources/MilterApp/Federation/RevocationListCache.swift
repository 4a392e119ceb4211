import BrokerClient
import FedMailCore
import Foundation
import Logging
import Synchronization

/// The broker's CRL as this gateway has it: the newest verified list, in
/// memory for the opening policy and on disk (`<StateDirectory>/crl.der`)
/// so that a restart while the broker is down still has it. Shared by every
/// connection and kept across reloads (SIGUSR1). A list is only ever
/// replaced by one issued later (no rollback to an older CRL).
public final class RevocationListCache: Sendable {
    struct State {
        var list: RevocationList?
        /// Why there is no list, or why the last refresh failed.
        var problem: String = "no CRL fetched from the broker yet"
        var lastFetchFailed = false
    }

    private let state = Mutex(State())
    /// The disk copy, or nil (no StateDirectory).
    public let path: String?

    public static let fileName = "crl.der"

    public init(stateDirectory: String?) {
        path = stateDirectory.map { "\($0)/\(Self.fileName)" }
    }

    /// What the opening policy gets: the list and `maxAge`, or why there is none.
    public func revocationState(maxAge: Int) -> RevocationState {
        state.withLock { state in
            if let list = state.list { return .list(list, maxAge: Int64(maxAge)) }
            return .unavailable(reason: state.problem)
        }
    }

    /// The list in force, if any.
    public var current: RevocationList? { state.withLock { $0.list } }

    /// Installs a verified list unless an equally new or newer one is in
    /// force. Returns whether it was installed.
    @discardableResult
    public func install(_ list: RevocationList) -> Bool {
        state.withLock { state in
            state.lastFetchFailed = false
            if let old = state.list {
                if list.thisUpdate < old.thisUpdate { return false }
                if let new = list.number, let previous = old.number, new < previous { return false }
                if list == old { return false }
            }
            state.list = list
            return true
        }
    }

    /// Records a failed refresh; returns true the first time after a success (to log once).
    public func recordFailure(_ problem: String) -> Bool {
        state.withLock { state in
            if state.list == nil { state.problem = problem }
            defer { state.lastFetchFailed = true }
            return !state.lastFetchFailed
        }
    }

    /// Loads the disk copy, verified against the broker CA; a missing file
    /// is not an error, an invalid one is logged and ignored.
    public func loadFromDisk(brokerCAPath: String, logger: Logger) {
        guard let path, FileManager.default.fileExists(atPath: path) else { return }
        do {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw FederationLoadError("unreadable") }
            defer { try? handle.close() }
            let data = try handle.read(upToCount: CertificateRevocationListLimit.maximumSize + 1) ?? Data()
            guard data.count <= CertificateRevocationListLimit.maximumSize else {
                throw FederationLoadError("larger than \(CertificateRevocationListLimit.maximumSize) bytes")
            }
            let der = Array(data)
            let list = try BrokerClient.verifyCRL(der, brokerCAPath: brokerCAPath)
            install(list)
            logger.notice("CRL loaded from \(path): issued \(RFC3339.format(secondsSince1970: list.thisUpdate)), \(list.entries.count) revoked certificate(s)")
        } catch {
            logger.warning("CRL \(path) ignored: \(error)")
        }
    }

    /// Writes the DER of the list in force to the disk copy (atomically).
    public func saveToDisk(_ der: [UInt8], logger: Logger) {
        guard let path else { return }
        do {
            try Data(der).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.warning("cannot write the CRL copy \(path): \(error)")
        }
    }
}

/// The largest CRL read from disk (the same bound as from the broker).
enum CertificateRevocationListLimit {
    static let maximumSize = 4 << 20
}
